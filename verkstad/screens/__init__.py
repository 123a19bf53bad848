"""Textual screens: they call services and render what they return (no SQL, no HTTP here)."""

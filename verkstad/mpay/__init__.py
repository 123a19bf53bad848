"""Mobile payment requests: providers, persistence, idempotency, recovery (no Textual here)."""

"""Workshop orders, their lines, customers and vehicles (no Textual here)."""

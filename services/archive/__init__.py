"""The archive: conversations, order events and receipts projected from their streams into a
searchable store (SQLite FTS5 by default, PostgreSQL when configured)."""

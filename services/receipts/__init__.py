"""Receipts: delivered and read cursors, typing, presence."""

"""Supplier response SLAs: deadlines to read and to answer order cards, breach alerts, and
per-supplier response statistics."""

"""The Python client: connect as a user, send with safe retries, read the inbox, page history."""

from .client import InboxItem, OrderchatClient

__all__ = ["InboxItem", "OrderchatClient"]

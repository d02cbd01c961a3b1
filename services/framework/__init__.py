"""What every service shares: its connection context, request/reply serving with typed
errors and dead-lettering, typed KV access, metrics."""

"""Operations views: what flows on which subjects, streams and consumers, dead letters.

Not a running service: the `orderchat monitor` and `orderchat dlq` commands use these
modules against the JetStream API and nats-server's monitoring endpoints."""

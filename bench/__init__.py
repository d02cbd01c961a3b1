"""orderchat benchmarks: the same workloads through raw nats-py and through orderchat's real
services and client, in one run, against a nats-server the bench starts itself.

Run `orderchat bench` (or `python -m orderchat.bench`); see bench/README.md."""

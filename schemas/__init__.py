"""orderchat's wire contract: models, subjects, streams and buckets.

Nothing in this package talks to the network; services, clients and the generators of
JSON Schema and AsyncAPI all read their names and shapes from here.
"""

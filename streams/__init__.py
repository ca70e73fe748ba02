"""Kafka plumbing: the Faust app, topics, settings, embedded broker, CLI."""

"""Faust agents: thin loops from Kafka into the rules (see streams.processor)."""

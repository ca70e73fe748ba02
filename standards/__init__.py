"""The rules of SPEC sections 3 to 6 as plain Python: no I/O, no Kafka.

Times are integer microseconds since the Unix epoch (UTC), money is integer
cents: both compare and sum exactly and cheaply on the hot path.
"""

"""Benchmarks of seller-standards against the raw limit, a naive Faust
agent and a peer (Quix Streams): `python -m bench --help`. See BENCHMARKS.md."""

"""Input event contract: one JSON Schema per event type plus `schemas.validate`."""

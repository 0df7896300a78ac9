"""JSON schemas of the streams, generated from the spec by scripts/generate_schemas.py."""

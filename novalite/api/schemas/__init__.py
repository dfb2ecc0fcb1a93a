"""JSON schemas of request bodies (jsonschema, draft 2020-12)."""

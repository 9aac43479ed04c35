"""The YAML configuration: one msgspec schema, strict about unknown keys."""

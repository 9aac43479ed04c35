"""Pure domain model: events, aggregates, errors. No I/O, no framework imports."""

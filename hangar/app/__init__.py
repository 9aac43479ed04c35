"""Application layer: command handlers, queries, projections, reactions."""

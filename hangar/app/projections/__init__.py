"""Read models, built only from events and rebuildable from position 0."""

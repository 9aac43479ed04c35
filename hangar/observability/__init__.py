"""Metrics, structured logging and audit."""

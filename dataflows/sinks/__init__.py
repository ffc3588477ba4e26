"""Bytewax sinks: one module per destination."""

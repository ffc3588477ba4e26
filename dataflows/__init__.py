"""Bytewax flows, sources and sinks of city stream analytics."""

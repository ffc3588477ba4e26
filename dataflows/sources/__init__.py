"""Bytewax sources: one module per external system (the simulator is the embedded default)."""

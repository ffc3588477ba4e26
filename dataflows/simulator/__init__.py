"""The built-in city simulator: sensors, assets and their labelled faults."""

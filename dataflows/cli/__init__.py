"""Every command of the project: one module per command, each with its `main`."""

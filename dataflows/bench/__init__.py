"""`just bench` and `just chaos`: speed, memory and crash-safety figures."""

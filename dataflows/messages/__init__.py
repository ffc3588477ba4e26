"""The message contract: typed records, validation and what one message may cost."""

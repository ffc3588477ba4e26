"""The city flow: its factory and its steps, from raw messages to rows for the lake."""

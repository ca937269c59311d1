"""The tap's streams, one module per resource family."""

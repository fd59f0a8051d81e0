"""The domain model: rules as plain Python, no I/O."""

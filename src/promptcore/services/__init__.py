"""Use cases: each takes its ports from the constructor and owns its transactions."""

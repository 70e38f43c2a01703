"""reference.oracle: torch as a gradient oracle for hand-written NumPy code, its API,
plugin and verdicts."""

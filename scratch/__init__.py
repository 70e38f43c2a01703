"""A CNN from scratch in NumPy; ``scratch.manual_seed(seed)`` seeds layer initialisation."""
from scratch.random import manual_seed

__all__ = ["manual_seed"]

"""Whole networks: the architectures as data, both builders, residual blocks and the named zoo."""

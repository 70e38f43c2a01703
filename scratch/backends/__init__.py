"""How scratch computes, switched per process: the twin of ``torch.backends``.

``scratch.backends.fast``: the layers' fast paths (stride-1 convolution on
flattened planes, 2x2 max pooling over contiguous runs, ReLU and Linear split
over scratch's threads, ReLU run after the max pool that follows it). On by
default; ``scratch.backends.fast.enabled = False`` or
``with scratch.backends.fast.flags(enabled=False): ...`` runs the plain
algorithms of :mod:`scratch.functional` alone.
"""
from scratch.backends import fast

__all__ = ["fast"]

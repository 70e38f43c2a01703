"""A residual block written as a user writes a custom module: in scratch (with its own
backward, since scratch has no autograd) and, for the oracle, the same block in torch.

    out = relu(body(x) + shortcut(x))
    body     = conv3x3(stride) - batch norm - relu - conv3x3 - batch norm
    shortcut = x itself (Identity) when the shapes agree, else conv1x1(stride) - batch norm

Both classes register the same children under the same names, so their state_dict
keys agree and weights move by a dict copy. ``python -m scripts.example_residual_block``
checks the scratch block against the torch one with the gradient oracle.
"""
from __future__ import annotations

import torch

from scratch import nn
from scratch import random as R


class ResidualBlock(nn.Module):
    """The basic block of a ResNet: (N, in_channels, H, W) -> (N, out_channels, H', W'),
    ``H' = (H - 1) // stride + 1`` (3x3 convolutions with padding 1).

    The shortcut is the identity when ``stride == 1`` and the channel counts agree,
    else a 1x1 convolution with the block's stride followed by batch norm. Weights
    are drawn from ``generator`` (a NumPy Generator, an int seed, or None: the one
    :func:`scratch.manual_seed` seeds) in registration order; ``dtype``: None means
    float32.
    """

    def __init__(self, in_channels, out_channels, stride=1, *, dtype=None, generator=None):
        super().__init__()
        rng = R.generator(type(self).__name__, generator)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False, dtype=dtype,
                      generator=rng),
            nn.BatchNorm2d(out_channels, dtype=dtype),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False, dtype=dtype,
                      generator=rng),
            nn.BatchNorm2d(out_channels, dtype=dtype))
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False, dtype=dtype,
                          generator=rng),
                nn.BatchNorm2d(out_channels, dtype=dtype))
        self.relu = nn.ReLU()                      # after the add

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))

    def backward(self, dout, input_grad=True):
        """dout: (N, out_channels, H', W') -> dx: (N, in_channels, H, W); sets every
        parameter's ``.grad``.

        Backward runs the forward in reverse. The add passes its gradient unchanged to
        both branches; ``x`` fed both branches, so its gradient is the *sum* of what
        the two branches send back (assigning one of them would drop the other path).
        """
        dsum = self.relu.backward(dout)                          # through relu(. + .)
        dx_body = self.body.backward(dsum, input_grad=input_grad)
        dx_shortcut = self.shortcut.backward(dsum, input_grad=input_grad)
        return dx_body + dx_shortcut if input_grad else None


class TorchResidualBlock(torch.nn.Module):
    """The same block in torch (autograd writes its backward): same children, same names."""

    def __init__(self, in_channels, out_channels, stride=1, *, dtype=None):
        super().__init__()
        kw = {"bias": False, "dtype": dtype}
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(in_channels, out_channels, 3, stride, 1, **kw),
            torch.nn.BatchNorm2d(out_channels, dtype=dtype),
            torch.nn.ReLU(),
            torch.nn.Conv2d(out_channels, out_channels, 3, 1, 1, **kw),
            torch.nn.BatchNorm2d(out_channels, dtype=dtype))
        if stride == 1 and in_channels == out_channels:
            self.shortcut = torch.nn.Identity()
        else:
            self.shortcut = torch.nn.Sequential(
                torch.nn.Conv2d(in_channels, out_channels, 1, stride, **kw),
                torch.nn.BatchNorm2d(out_channels, dtype=dtype))
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))

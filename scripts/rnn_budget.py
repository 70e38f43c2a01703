"""How much of its tolerance budget the recurrent parity test uses (see
``parity_tests/rnn_budget.py``, which runs the test suite's own strategy and comparison).

    python -m scripts.rnn_budget --examples 300

The measurement belongs to the test suite, and nothing in ``scripts/`` imports
``parity_tests``: this command runs ``python -m parity_tests.rnn_budget`` with the
same arguments, in place of this process.
"""
from __future__ import annotations

import os
import sys


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    os.execv(sys.executable, [sys.executable, "-m", "parity_tests.rnn_budget", *args])
    return 0   # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())

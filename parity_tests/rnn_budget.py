"""How much of its tolerance budget the recurrent parity test uses, per dtype and tensor.

Draws ``--examples`` cases from the parity test's own strategy, runs scratch and torch
as ``parity_tests/layers/test_rnn.py`` does, and prints the largest
``|scratch - torch| / (atol + rtol |torch|)`` per dtype, mode and tensor (1.0 = at the
budget). The budget is a worst-case bound; this shows its slack.

    python -m parity_tests.rnn_budget --examples 300   # or python -m scripts.rnn_budget

It lives with the tests because it runs their own strategy and comparison.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from hypothesis import HealthCheck, given, settings

from parity_tests import rnn_cases as R
from parity_tests import strategies as S
from parity_tests.helpers import tolerance


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m parity_tests.rnn_budget",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--examples", type=int, default=300,
                   help="hypothesis examples to draw (default 300)")
    args = p.parse_args(argv)
    worst: dict = {}

    @settings(max_examples=args.examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=S.recurrent_cases())
    def run(case):
        state = R.contractive_state(R.scratch_layer(case, np.float64), case.seed)
        for dtype in (np.float32, np.float64):
            states, grads = R.draws(case, None, dtype)
            mine = R.run_scratch(case, dtype, state, states, grads)
            theirs = R.run_torch(case, dtype, state, states, grads)
            budget = R.budgets(case, theirs)
            for name, expected in theirs.items():
                rtol, atol = tolerance(dtype, budget[name])
                e = expected.detach().numpy()
                used = float((np.abs(mine[name] - e) / (atol + rtol * np.abs(e))).max())
                key = (np.dtype(dtype).name, case.mode,
                       "param grads" if name.startswith("grad.") else name)
                worst[key] = max(worst.get(key, 0.0), used)

    run()
    for key in sorted(worst):
        print(f"{' '.join(key):32s} {worst[key]:.2e}")
    for dtype in ("float32", "float64"):
        print(f"largest share of the budget used, {dtype}: "
              f"{max(v for k, v in worst.items() if k[0] == dtype):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

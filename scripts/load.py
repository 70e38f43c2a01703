"""How the thread count behaves when another job competes for the CPU, in one run.

Starts a competing process (a busy loop on one core, as another user's job
would be), then times the same scratch and torch training steps (default
network, float32, batch 64, real MNIST batches) with 1 and with 2 threads,
alternating the thread counts over several rounds so a change in the host's
load hits both alike; prints the median step time of each and writes JSON.

    python -m scripts.load                       # 1 competing process
    python -m scripts.load --competitors 0       # the same without competition
"""
from __future__ import annotations

from scripts.lib.process import tune_process

tune_process()   # before NumPy and torch load: idle threads sleep, freed memory is kept

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from scratch import arch  # noqa: E402
from scripts.lib import env  # noqa: E402
from scripts.lib.flags import Parser, non_negative_int, positive_int  # noqa: E402
from scripts.lib.runs import claim_run_dir  # noqa: E402
from scripts.lib.training import load_data  # noqa: E402
from scripts.lib.twins import make_twins  # noqa: E402

BUSY_LOOP = "while True: pass"


def build_parser() -> Parser:
    p = Parser(prog="python -m scripts.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--competitors", type=non_negative_int, default=1,
                   help="busy processes competing for the CPU (default 1)")
    p.add_argument("--threads", default="1,2",
                   help="thread counts to compare, comma-separated (default 1,2)")
    p.add_argument("--steps", type=positive_int, default=40,
                   help="timed steps per implementation, thread count and round (default 40)")
    p.add_argument("--rounds", type=positive_int, default=3,
                   help="rounds, each timing every thread count once (default 3)")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="folder for load.json (default: a fresh folder runs/load/<UTC time>)")
    return p


def time_steps(twin, x, y, steps: int, batch: int = 64) -> list[float]:
    times = []
    for i in range(steps):
        idx = slice((i * batch) % (len(x) - batch), (i * batch) % (len(x) - batch) + batch)
        start = time.perf_counter()
        twin.step(x[idx], y[idx], 0.01)
        twin.sync()
        times.append(time.perf_counter() - start)
    return times


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    counts = [int(t) for t in args.threads.split(",")]
    out_dir = claim_run_dir(args.out_dir, Path("runs/load"))
    print(f"run folder: {out_dir}", flush=True)
    environment = env.record()
    started = time.perf_counter()
    x, y, _, _ = load_data(None, "float32", 5000, 1)
    hyper = dict(momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0)
    twins = make_twins(arch.mnist_cnn(), 0, "float32", "cpu", "sgd", hyper, 1e-4)
    competitors = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
                   for _ in range(args.competitors)]
    times = {(name, t): [] for name in twins for t in counts}
    try:
        time.sleep(0.5)
        for _ in range(args.rounds):
            for t in counts:
                env.apply_threads(t)
                for name, twin in twins.items():
                    time_steps(twin, x, y, 3)                       # warm-up
                    times[(name, t)] += time_steps(twin, x, y, args.steps)
    finally:
        for proc in competitors:
            proc.kill()
            proc.wait()
    rows = [dict(impl=name, threads=t, median_ms=1e3 * float(np.median(v)),
                 p90_ms=1e3 * float(np.percentile(v, 90)), steps=len(v))
            for (name, t), v in times.items()]
    environment["wall_seconds"] = time.perf_counter() - started
    print(f"{args.competitors} competing busy process(es) on {environment['cpu_count']} CPUs")
    print(f"{'impl':8} {'threads':>7} {'median ms/step':>15} {'90th pct ms':>12}")
    for r in rows:
        print(f"{r['impl']:8} {r['threads']:>7} {r['median_ms']:>15.1f} {r['p90_ms']:>12.1f}")
    record = dict(settings=dict(competitors=args.competitors, threads=counts, steps=args.steps,
                                rounds=args.rounds, batch_size=64, dtype="float32",
                                arch="mnist_cnn"),
                  environment={**environment, "thread_pools": "as set per row"}, rows=rows)
    (out_dir / "load.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out_dir}/load.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

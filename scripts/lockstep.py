"""Step the scratch and torch models in lockstep and record how far they drift apart.

Both start from the same weights and take the same optimizer step on the same
batch. After every step this records both losses and the largest relative
difference between corresponding parameters and buffers,
``max_p max|scratch_p - torch_p| / max|torch_p|``, writes them to
``lockstep.json`` and plots the drift to ``drift.png``, in a fresh run folder.

    python -m scripts.lockstep --dtype float64        # one epoch, CPU
    python -m scripts.lockstep --dtype float32 --steps 200
    python -m scripts.lockstep --arch mnist_cnn_bn --optimizer adam
"""
from __future__ import annotations

import sys
import time

from scripts.lib.process import tune_process

tune_process()   # before NumPy and torch load: idle threads sleep, freed memory is kept

from scratch import arch as A  # noqa: E402
from scripts.lib import env, mnist  # noqa: E402
from scripts.lib.drift import PROG, RUNS_BASE, lockstep, parse, prepare  # noqa: E402
from scripts.lib.errors import EXIT_USAGE, UsageError, threads_warning  # noqa: E402
from scripts.lib.runs import check_run_dir, run_dir  # noqa: E402
from scripts.lib.twins import NonFiniteError  # noqa: E402


def main(argv=None) -> int:
    """The command line; returns the exit status (see :mod:`scripts.lib.errors`)."""
    started = env.process_start() if argv is None else time.time()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, settings, architecture = parse(argv)
    warning = threads_warning(settings.threads)
    if warning:
        print(f"{PROG}: {warning}", file=sys.stderr)
    try:
        check_run_dir(args.out_dir, RUNS_BASE)
        prepared = prepare(settings, data_dir=args.data_dir, architecture=architecture)
        prepared["environment"]["argv"] = env.typed_command(PROG, argv)
        with run_dir(args.out_dir, RUNS_BASE) as out_dir:
            print(f"run folder: {out_dir}", flush=True)
            s = lockstep(settings, out_dir, prepared=prepared, started=started,
                         show_progress=not args.no_progress)["summary"]
    except NonFiniteError as err:
        print(f"{PROG}: stopped: {err}; try a lower --lr", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, mnist.MNISTError, A.ArchitectureFileError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(f"after {s['steps']} steps ({settings.dtype}): max relative parameter difference "
          f"{s['final_max_rel_param_diff']:.3e} ({s['final_worst_param']}), "
          f"largest loss difference {s['max_abs_loss_diff']:.3e}")
    print(f"wrote {out_dir}/lockstep.json and drift.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train the scratch CNN and its torch twin on MNIST, side by side.

Both start from the same weights and see the same batches in the same order
(one permutation per epoch from ``--seed``), so their curves are directly
comparable. At the end, each model's weights are also cross-evaluated in the
other implementation. Every run writes into a folder of its own (printed).

    python -m scripts.train                      # both, default settings
    python -m scripts.train --impl scratch --epochs 1 --limit-train 5000
    python -m scripts.train --arch lenet5 --optimizer adam
    python -m scripts.train --from-record runs/train/<run>/metrics.json
"""
from __future__ import annotations

import sys
import time

from scripts.lib.process import tune_process

tune_process()   # before NumPy and torch load: idle threads sleep, freed memory is kept

from scratch import arch as A  # noqa: E402
from scripts.lib import env, mnist, tasks  # noqa: E402
from scripts.lib.checkpoint import Checkpoints  # noqa: E402
from scripts.lib.errors import EXIT_USAGE, OutputError, UsageError, threads_warning  # noqa: E402
from scripts.lib.runs import check_run_dir, run_dir  # noqa: E402
from scripts.lib.training import (  # noqa: E402
    PROG,
    RUNS_BASE,
    TrainingStopped,
    checkpoint_state,
    parse,
    prepare,
    train,
)


def main(argv=None) -> int:
    """The command line; returns the exit status (see :mod:`scripts.lib.errors`)."""
    started = env.process_start() if argv is None else time.time()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, settings, architecture = parse(argv)
    warning = threads_warning(settings.threads)
    if warning:
        print(f"{PROG}: {warning}", file=sys.stderr)
    out_dir = args.out_dir
    try:
        check_run_dir(args.out_dir, RUNS_BASE, resume=args.resume)
        if args.resume and Checkpoints.finished(args.out_dir, settings):
            print(f"the run in {args.out_dir} is already finished ({settings.epochs} of "
                  f"{settings.epochs} epochs; its record is {args.out_dir}/metrics.json); "
                  f"nothing was changed")
            return 0
        prepared = prepare(settings, data_dir=args.data_dir, architecture=architecture)
        prepared.environment["argv"] = env.typed_command(PROG, argv)
        with run_dir(args.out_dir, RUNS_BASE, resume=args.resume) as out_dir:
            print(f"run folder: {out_dir}", flush=True)
            record = train(settings, out_dir, resume=args.resume, prepared=prepared,
                           show_progress=not args.no_progress, started=started)
    except TrainingStopped as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return err.exit_code
    except OutputError as err:
        print(f"{PROG}: error: {err}; {checkpoint_state(out_dir)}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, mnist.MNISTError, A.ArchitectureFileError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    last = record["epochs"][-1]
    task = tasks.for_architecture(prepared.architecture)
    for name in ("scratch", "torch"):
        if name in last:
            print(f"{name:8} {task.final_line(last[name])}, "
                  f"training time {sum(e[name]['seconds'] for e in record['epochs']):.1f} s")
    for key, value in record.get("cross_evaluation", {}).items():
        print(task.cross_line(key, value))
    print(f"wrote {out_dir}/metrics.json, curves.png"
          + (", samples.png" if task.sample_images else "") + " and weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())

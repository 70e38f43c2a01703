"""The README's architecture table: every named architecture trained both ways with the
default settings, and its float64 lockstep drift after one epoch, in one command.

For each architecture it runs what these commands run, into one fresh folder
``runs/arch_table/<UTC time>/<name>/{train,lockstep}`` (each with its record),
then prints the table in Markdown and writes it to ``table.md`` beside them:

    python -m scripts.train --arch NAME [--epochs E]
    python -m scripts.lockstep --arch NAME --dtype float64 [--steps S]

    python -m scripts.arch_table                  # default epochs (4), one epoch of lockstep
    python -m scripts.arch_table --epochs 1 --archs lenet5,mnist_cnn_bn
"""
from __future__ import annotations

import sys
from pathlib import Path

from scratch.arch import ARCHITECTURES
from scripts.lib import drift as lockstep
from scripts.lib import tasks
from scripts.lib import training as train
from scripts.lib.flags import Parser, positive_int
from scripts.lib.process import tune_process
from scripts.lib.runs import claim_run_dir


def build_parser() -> Parser:
    p = Parser(prog="python -m scripts.arch_table", description=__doc__.split("\n\n")[0])
    p.add_argument("--archs", default=",".join(ARCHITECTURES),
                   help=f"comma-separated names (default: all, {', '.join(ARCHITECTURES)})")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="training epochs (default: train's default, 4)")
    p.add_argument("--steps", type=positive_int, default=None,
                   help="lockstep steps (default: one epoch, 938)")
    p.add_argument("--out-dir", type=Path, default=None,
                   help="folder for the runs and table.md (default: a fresh folder "
                        "runs/arch_table/<UTC time>)")
    return p


def main(argv=None) -> int:
    tune_process()
    args = build_parser().parse_args(argv)
    names = args.archs.split(",")
    unknown = [n for n in names if n not in ARCHITECTURES]
    if unknown:
        print(f"{build_parser().prog}: error: unknown architecture(s) {unknown}; known: "
              f"{', '.join(ARCHITECTURES)}", file=sys.stderr)
        return 2
    out_dir = claim_run_dir(args.out_dir, Path("runs/arch_table"))
    print(f"run folder: {out_dir}", flush=True)
    rows = []
    for name in names:
        extra = ["--epochs", str(args.epochs)] if args.epochs else []
        _, settings, _ = train.parse(["--arch", name, *extra])
        run = train.train(settings, claim_run_dir(out_dir / name / "train", out_dir),
                          show_progress=False)
        extra = ["--steps", str(args.steps)] if args.steps else []
        _, settings, _ = lockstep.parse(["--arch", name, "--dtype", "float64", *extra])
        drift = lockstep.lockstep(settings, claim_run_dir(out_dir / name / "lockstep", out_dir),
                                  show_progress=False)
        last = run["epochs"][-1]
        task = tasks.for_architecture(ARCHITECTURES[name]())
        s, t = (task.headline(last[side]) for side in ("scratch", "torch"))
        rows.append(f"| `{name}` | {task.table_cell(s)} | {task.table_cell(t)} | "
                    f"{task.table_cell(s - t, difference=True)} | "
                    f"{drift['summary']['final_max_rel_param_diff']:.1e} "
                    f"({drift['summary']['steps']} steps) | "
                    f"{run['environment']['wall_seconds']:.0f} s |")
        print(rows[-1], flush=True)
    epochs = run["settings"]["epochs"]
    table = "\n".join([
        f"| architecture | scratch test result ({epochs} epochs) | torch test result | "
        f"difference (accuracy points, or dB of PSNR) | float64 lockstep: max rel. param diff "
        f"| train command time |",
        "|---|---|---|---|---|---|", *rows]) + "\n"
    (out_dir / "table.md").write_text(table)
    print(table)
    print(f"wrote {out_dir}/table.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

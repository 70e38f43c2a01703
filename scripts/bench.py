"""Speed of the scratch CNN against torch on the CPU, in one run.

For the default MNIST architecture in float32, at each thread count (default
1 and 2) this measures:
  * a whole training step (forward, loss, backward, SGD update) of scratch and
    torch, interleaved round by round (the order alternating) so that a change
    in the host's load hits both alike; the median, the spread over rounds,
    images/s and the ratio scratch/torch of throughputs;
  * the practical ceiling: GFLOP/s of a 2048x2048 float32 matrix product in
    NumPy with that many BLAS threads, and each step's FLOP rate as a fraction;
    also per second of CPU time (steps against the 1-thread product), a view
    that other jobs on the machine distort less than wall time;
  * each layer's forward and backward time at the model's shapes;
  * a table of single layers (``scripts.lib.layer_bench.LAYERS``: the 1-D
    convolutions and pools, transposed convolutions, upsampling, the norms,
    recurrent cells, attention, the encoder layer, activations and losses) at
    MNIST-scale sizes: forward+backward of each side interleaved round by
    round, the ratio scratch/torch of the CPU time with its spread, and the rows
    over 2x torch's time marked and listed;
  * the same training steps while a competing CPU-bound process (started and
    stopped here, bounded in time) runs, alternating round by round with it
    paused, so that both phases see the same background: each side's slowdown.
Plus the peak memory a step adds (each implementation in its own process). It
warns when the machine was busy before it started (load average, idle share of
the CPUs over one second), prints a table and writes ``bench.json`` into a
fresh run folder (``runs/bench/<UTC time>``; never another run's).

    python -m scripts.bench                      # 1 and 2 threads, with load
    python -m scripts.bench --threads 2 --no-load --no-memory
    python -m scripts.bench --threads 1 --no-load --no-memory --no-model-layers --rounds 1
    python -m scripts.bench --arch mnist_vit --threads 1 --no-load --no-memory --no-layers
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from scripts.lib import process

process.tune_process()   # before NumPy loads: idle threads sleep, freed memory is kept

import numpy as np  # noqa: E402

from scratch import parallel  # noqa: E402
from scratch.arch import ARCHITECTURES  # noqa: E402
from scripts.lib import layer_bench  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def thread_counts(text: str) -> list[int]:
    try:
        counts = [int(t) for t in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected thread counts like 1,2; got {text!r}")
    return counts


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m scripts.bench",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=thread_counts, default=[1, 2],
                   help="thread counts, comma-separated (default 1,2); each used for "
                        "scratch's threads and torch's")
    p.add_argument("--batch-size", type=int, default=64, help="images per step (default 64)")
    p.add_argument("--rounds", type=int, default=15,
                   help="interleaved rounds per thread count (default 15)")
    p.add_argument("--steps", type=int, default=4,
                   help="timed steps per implementation in each round (default 4)")
    p.add_argument("--repeats", type=int, default=15,
                   help="timed repetitions of each layer's forward/backward (default 15)")
    p.add_argument("--load-seconds", type=float, default=120.0,
                   help="upper bound on the competing process's life (default 120)")
    p.add_argument("--no-load", action="store_true", help="skip the competing-load part")
    p.add_argument("--no-layers", action="store_true",
                   help="skip both per-layer tables (the model's and the single layers')")
    p.add_argument("--no-model-layers", action="store_true",
                   help="skip the model's per-layer table only")
    p.add_argument("--layer-rows", type=layer_rows, default=None,
                   help="comma-separated rows of the single-layer table (default all: "
                        + ",".join(s.name for s in layer_bench.LAYERS) + ")")
    p.add_argument("--layer-rounds", type=int, default=15,
                   help="interleaved rounds per row of the single-layer table (default 15)")
    p.add_argument("--arch", default="mnist_cnn", choices=sorted(ARCHITECTURES),
                   help="architecture of the timed training steps (default mnist_cnn); the "
                        "FLOP counts, ceiling fractions and the model's per-layer table are "
                        "given for mnist_cnn only")
    p.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    p.add_argument("--out-dir", type=Path, default=Path("runs/bench"),
                   help="bench.json goes into a fresh folder <out-dir>/<UTC time> "
                        "(default runs/bench)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and data (default 0)")
    p.add_argument("--memory-probe", choices=["scratch", "torch"], default=None,
                   help=argparse.SUPPRESS)  # internal: run one memory measurement
    return p.parse_args(argv)


def layer_rows(text: str) -> list[str]:
    names = [t for t in text.split(",") if t]
    known = [s.name for s in layer_bench.LAYERS]
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected row names from {','.join(known)}; got "
                                         f"{text!r}")
    return names


def use_threads(n: int) -> None:
    """``n`` threads for scratch (its own pool, BLAS at one) and for torch."""
    import torch
    torch.set_num_threads(n)
    parallel.set_num_threads(n)


def median_time(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call (seconds)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def min_cpu_time(fn, repeats: int, clock=time.process_time) -> float:
    """Least CPU time of ``repeats`` calls after a warm-up (seconds; by default the
    process's, all threads): the work itself, which waiting for a core behind other
    jobs does not add to."""
    fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def make_batch(batch_size, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch_size)
    return x, y


# --------------------------------------------------------------------------- machine
def cpu_busy(seconds: float = 1.0) -> float:
    """Share of all CPUs' time spent outside idle over ``seconds`` (from /proc/stat)."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        return values[3] + values[4], sum(values)          # idle + iowait, total
    idle0, total0 = sample()
    time.sleep(seconds)
    idle1, total1 = sample()
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


def busy_check(when: str = "before the bench started") -> dict:
    """The machine's load (before the bench starts), and a warning when it is busy."""
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    try:
        busy = cpu_busy()
    except OSError:
        busy = None
    cores = os.cpu_count() or 1
    warn = []
    if load1 is not None and load1 > 0.5:
        warn.append(f"load average {load1:.2f} (1 min, which counts a command that "
                    f"ended within the last minute too) on {cores} cores")
    if busy is not None and busy > 0.1:
        warn.append(f"{100 * busy:.0f}% of the CPUs busy over one second")
    return dict(load_average_1min=load1, cpu_busy_share=busy, cores=cores,
                warning=(f"machine busy {when}: " + "; ".join(warn)
                         + ". Timings are inflated and noisy; compare ratios only.")
                if warn else None)


def matmul_gflops(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an n x n float32 matrix product in NumPy with ``threads`` BLAS threads."""
    from threadpoolctl import threadpool_limits
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = np.random.default_rng(1).random((n, n), dtype=np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        return 2 * n ** 3 / median_time(lambda: a @ b, repeats) / 1e9


def matmul_gflop_per_cpu_second(n: int = 2048, repeats: int = 5) -> float:
    """The same product on one BLAS thread, per second of CPU time: the ceiling of a
    core's work, which other jobs on the machine stretch in wall time but hardly here."""
    from threadpoolctl import threadpool_limits
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    times = []
    with threadpool_limits(limits=1, user_api="blas"):
        a @ a
        for _ in range(repeats):
            start = time.process_time()
            a @ a
            times.append(time.process_time() - start)
    return 2 * n ** 3 / float(np.median(times)) / 1e9


def step_flops(batch_size) -> float:
    """FLOPs of one training step's products, 2 per multiply-add: each conv and linear
    layer's forward, weight gradient and input gradient, except the first layer's input
    gradient, which neither side computes (the network input needs none)."""
    from scratch import arch
    spec = arch.mnist_cnn()
    shapes = spec.shapes()
    macs = 0
    for i, ((_, layer), shape_in, shape_out) in enumerate(
            zip(spec.layers, shapes, shapes[1:])):
        products = 3 if i > 0 else 2
        if isinstance(layer, arch.Conv2d):
            k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
            macs += products * int(np.prod(shape_out)) * shape_in[0] * k * k
        elif isinstance(layer, arch.Linear):
            macs += products * shape_in[0] * shape_out[0]
    return 2 * macs * batch_size


# --------------------------------------------------------------------------- steps
def scratch_step_fn(batch_size, seed, arch_name="mnist_cnn"):
    from scratch import arch, model, nn, optim
    net = model.build(arch.ARCHITECTURES[arch_name](), seed=seed, dtype=np.float32)
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = make_batch(batch_size, seed)

    def step():
        loss_fn(net.forward(x), y)
        net.backward(loss_fn.backward(), input_grad=False)
        opt.step()
    return step


def torch_step_fn(batch_size, seed, arch_name="mnist_cnn"):
    import torch

    from reference import model as reference_model
    from scratch import arch
    net = reference_model.build(arch.ARCHITECTURES[arch_name]())
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = (torch.from_numpy(a) for a in make_batch(batch_size, seed))

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return step


def interleaved(steps: dict, rounds: int, per_round: int,
                warm_up: bool = True) -> tuple[dict, dict]:
    """Per implementation, the median wall time of a step (s) in each round, and the
    process CPU time per step of each round; within a round each implementation runs
    ``per_round`` timed steps, the order alternating from round to round."""
    for step in steps.values() if warm_up else ():
        step()
    times = {name: [] for name in steps}
    cpu = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            one = []
            cpu_start = time.process_time()
            for _ in range(per_round):
                start = time.perf_counter()
                steps[name]()
                one.append(time.perf_counter() - start)
            cpu[name].append((time.process_time() - cpu_start) / per_round)
            times[name].append(float(np.median(one)))
    return times, cpu


def spread(values) -> dict:
    v = np.asarray(values)
    return dict(median=float(np.median(v)), min=float(v.min()), max=float(v.max()),
                q25=float(np.percentile(v, 25)), q75=float(np.percentile(v, 75)))


def step_comparison(steps, args, flops) -> dict:
    """Interleaved step times of both implementations at the current thread count."""
    times, cpu = interleaved(steps, args.rounds, args.steps)
    s, t = np.array(times["scratch"]), np.array(times["torch"])
    return dict(
        scratch_step_ms=spread(1e3 * s), torch_step_ms=spread(1e3 * t),
        scratch_cpu_ms_per_step=spread(1e3 * np.array(cpu["scratch"])),
        torch_cpu_ms_per_step=spread(1e3 * np.array(cpu["torch"])),
        scratch_images_per_s=args.batch_size / float(np.median(s)),
        torch_images_per_s=args.batch_size / float(np.median(t)),
        ratio_scratch_over_torch=float(np.median(t) / np.median(s)),
        ratio_per_round=spread(t / s),
        cpu_ratio_per_round=spread(np.array(cpu["torch"]) / np.array(cpu["scratch"])),
        **(dict(scratch_gflops=flops / float(np.median(s)) / 1e9,
                torch_gflops=flops / float(np.median(t)) / 1e9) if flops else {}))


# --------------------------------------------------------------------------- layers
def layer_table(batch_size, repeats, seed):
    """Forward and backward seconds of each layer of the default model, both sides.

    Each side's layers see the input they see in its training step: scratch's in
    the order its ``Sequential`` runs them (a ReLU after the max pool that follows
    it, on the pooled map), torch's in the written order. Rows follow scratch's
    order; ``input_shape`` is scratch's input, ``torch_input_shape`` torch's."""
    import torch

    from reference import convert
    from reference import model as reference_model
    from scratch import arch, model
    from scratch.nn.container import run_order
    spec = arch.mnist_cnn()
    net = model.build(spec, seed=seed, dtype=np.float32)
    twin = reference_model.build(spec)
    convert.load_numpy_state(twin, net.state_dict())
    x0, _ = make_batch(batch_size, seed)

    def time_layers(order, forward, backward):
        x, rows = x0, {}
        for name, layer in order:
            out = forward(layer, x)
            dout = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
            fwd, both = partial(forward, layer, x), partial(backward, layer, x, dout)
            f, cf = median_time(fwd, repeats), min_cpu_time(fwd, repeats)
            rows[name] = dict(kind=type(layer).__name__, input_shape=list(x.shape),
                              forward_ms=1e3 * f, forward_cpu_ms=1e3 * cf,
                              backward_ms=1e3 * (median_time(both, repeats) - f),
                              backward_cpu_ms=1e3 * (min_cpu_time(both, repeats) - cf))
            x = out
        return rows

    def s_backward(layer, x, dout):
        layer.forward(x)
        layer.backward(dout)

    def t_forward(layer, x):
        with torch.no_grad():
            return layer(torch.from_numpy(x)).numpy()

    def t_backward(layer, x, dout):
        layer(torch.from_numpy(x).requires_grad_(True)).backward(torch.from_numpy(dout))

    scratch = time_layers(run_order(net.layers, net.relu_after_max_pool),
                          lambda layer, x: layer.forward(x), s_backward)
    torch_rows = time_layers(zip(net.layers, twin), t_forward, t_backward)
    rows = []
    for name, s_row in scratch.items():
        t_row = torch_rows[name]
        rows.append(dict(layer=name, kind=s_row["kind"], input_shape=s_row["input_shape"],
                         torch_input_shape=t_row["input_shape"],
                         **{f"{side}_{key}": row[key]
                            for side, row in (("scratch", s_row), ("torch", t_row))
                            for key in ("forward_ms", "backward_ms", "forward_cpu_ms",
                                        "backward_cpu_ms")}))
    return rows


# --------------------------------------------------------------------------- load
BURNER = "import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass\n"


def start_burner(seconds: float) -> subprocess.Popen:
    """One CPU-bound process (a busy loop that ends by itself after ``seconds``)."""
    return subprocess.Popen([sys.executable, "-c", BURNER.format(seconds=seconds)])


def load_comparison(steps, args, burner) -> dict:
    """Step times with the competing process paused and running, alternating round by
    round (SIGSTOP / SIGCONT), so that both see the same background; each side's
    slowdown is the ratio of its medians."""
    phases = {"quiet": ({}, {}), "load": ({}, {})}
    for r in range(args.rounds):
        for phase in (("quiet", "load") if r % 2 == 0 else ("load", "quiet")):
            burner.send_signal(signal.SIGCONT if phase == "load" else signal.SIGSTOP)
            time.sleep(0.05)
            times, cpu = interleaved(steps, 1, args.steps, warm_up=False)
            for store, new in zip(phases[phase], (times, cpu)):
                for name, values in new.items():
                    store.setdefault(name, []).extend(values)
    burner.send_signal(signal.SIGCONT)
    row = {}
    for phase, (times, cpu) in phases.items():
        for impl in ("scratch", "torch"):
            row[f"{phase}_{impl}_step_ms"] = spread(1e3 * np.array(times[impl]))
            row[f"{phase}_{impl}_cpu_ms_per_step"] = spread(1e3 * np.array(cpu[impl]))
    for impl in ("scratch", "torch"):
        row[f"{impl}_slowdown"] = (row[f"load_{impl}_step_ms"]["median"]
                                   / row[f"quiet_{impl}_step_ms"]["median"])
        row[f"{impl}_slowdown_per_round"] = spread(
            np.array(phases["load"][0][impl]) / np.array(phases["quiet"][0][impl]))
    row["ratio_scratch_over_torch_under_load"] = (row["load_torch_step_ms"]["median"]
                                                  / row["load_scratch_step_ms"]["median"])
    row["scratch_no_worse_than_torch"] = row["scratch_slowdown"] <= row["torch_slowdown"]
    return row


def stop_burner(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------- memory
def status_kib(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS, VmHWM...), in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def memory_probe(impl, batch_size, seed, arch_name="mnist_cnn"):
    """Peak resident memory during three training steps above the resident memory before
    them (bytes). Runs in a process where every large block goes straight to and from
    the OS (see :func:`measure_memory`), so resident memory follows live memory; the
    peak counter is reset after a warm-up step (Linux ``clear_refs``)."""
    step = (scratch_step_fn if impl == "scratch" else torch_step_fn)(batch_size, seed, arch_name)
    step()
    before = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                  # reset VmHWM to the current RSS
    for _ in range(3):
        step()
    return max(0, status_kib("VmHWM") - before) * 1024


def measure_memory(impl, threads, args) -> int:
    cmd = [sys.executable, "-m", "scripts.bench", "--threads", str(threads),
           "--batch-size", str(args.batch_size), "--seed", str(args.seed),
           "--arch", args.arch, "--memory-probe", impl]
    env = {**os.environ, "CNN_PARITY_KEEP_FREED_MEMORY": "0",
           "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=ROOT)
    return int(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main
def fresh_run_dir(base: Path) -> Path:
    """A new folder ``base/YYYYmmdd-HHMMSS[-n]``, created here (never an existing one)."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    for n in itertools.count(1):
        path = Path(base) / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")


def main(argv=None):
    args = parse_args(argv)
    import torch
    if args.memory_probe:
        use_threads(args.threads[0])
        print(memory_probe(args.memory_probe, args.batch_size, args.seed, args.arch))
        return 0
    before = busy_check()
    if before["warning"]:
        print("WARNING:", before["warning"], file=sys.stderr)
    cnn = args.arch == "mnist_cnn"
    flops = step_flops(args.batch_size) if cnn else None
    steps = dict(scratch=scratch_step_fn(args.batch_size, args.seed, args.arch),
                 torch=torch_step_fn(args.batch_size, args.seed, args.arch))
    result = dict(
        machine=dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
                     numpy=np.__version__, torch=torch.__version__, python=sys.version.split()[0],
                     freed_memory_kept=bool(process.FREED_MEMORY_KEPT)),
        command=["python", "-m", "scripts.bench", *(argv if argv is not None else sys.argv[1:])],
        started=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        before=before, arch=args.arch, batch_size=args.batch_size, dtype="float32",
        rounds=args.rounds, steps_per_round=args.steps,
        step_gflop=flops / 1e9 if flops else None, threads={})
    per_cpu = matmul_gflop_per_cpu_second()
    result["numpy_matmul_gflop_per_cpu_second"] = per_cpu
    for n in args.threads:
        use_threads(n)
        row = step_comparison(steps, args, flops)
        row["numpy_matmul_gflops"] = matmul_gflops(n)
        if flops:
            for impl in ("scratch", "torch"):   # FLOP per CPU second against the product's
                row[f"{impl}_cpu_efficiency"] = (flops / 1e6 / row[
                    f"{impl}_cpu_ms_per_step"]["median"] / per_cpu)
                row[f"{impl}_fraction_of_matmul_ceiling"] = row[f"{impl}_gflops"] / row[
                    "numpy_matmul_gflops"]
        if cnn and not (args.no_layers or args.no_model_layers):
            row["layers"] = layer_table(args.batch_size, args.repeats, args.seed)
        if not args.no_layers:
            row["single_layers"] = layer_bench.table(args.layer_rounds, args.layer_rows,
                                                     args.seed)
        result["threads"][str(n)] = row
    if not args.no_load:
        result["load"] = {}
        burner = start_burner(args.load_seconds)
        try:
            time.sleep(0.5)
            for n in args.threads:
                use_threads(n)
                result["load"][str(n)] = load_comparison(steps, args, burner)
        finally:
            stop_burner(burner)
    if not args.no_memory:
        n = max(args.threads)
        result["peak_step_memory_mb"] = dict(
            threads=n, scratch=measure_memory("scratch", n, args) / 2**20,
            torch=measure_memory("torch", n, args) / 2**20)
    result["after"] = busy_check("after the bench")
    print_report(result)
    out = fresh_run_dir(args.out_dir) / "bench.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")
    return 0


def _range(s: dict) -> str:
    return f"[{s['min']:.2f}-{s['max']:.2f}]"


def _ms(s: dict) -> str:
    return f"{s['median']:6.2f} ms {_range(s)}"


def print_report(r):
    m = r["machine"]
    print(f"{m['cpu']}, {m['cores']} cores; numpy {m['numpy']}, torch {m['torch']}; "
          f"batch {r['batch_size']}, float32; {r['rounds']} interleaved rounds of "
          f"{r['steps_per_round']} step{'s' if r['steps_per_round'] != 1 else ''}; "
          f"freed memory kept by malloc: "
          f"{m['freed_memory_kept']}")
    if r["before"]["warning"]:
        print("WARNING:", r["before"]["warning"])
    gflop = (f"; a step is {r['step_gflop']:.3f} GFLOP" if r["step_gflop"] else "")
    print(f"\n{r['arch']} step: median [min-max over rounds]; ratio = scratch/torch throughput "
          f"of the median steps [min-max of the per-round ratios]{gflop}")
    print("\nthe machine as it is")
    for n, row in r["threads"].items():
        rr, ratio = row["ratio_per_round"], row["ratio_scratch_over_torch"]
        print(f"  {n} thread{'s' if n != '1' else ' '}  scratch {_ms(row['scratch_step_ms'])}"
              f"  torch {_ms(row['torch_step_ms'])}  ratio {ratio:.2f}"
              f" {_range(rr)}  CPU/step scratch "
              f"{row['scratch_cpu_ms_per_step']['median']:.1f} ms, torch "
              f"{row['torch_cpu_ms_per_step']['median']:.1f} ms, CPU ratio "
              f"{row['cpu_ratio_per_round']['median']:.2f} {_range(row['cpu_ratio_per_round'])}")
        if "scratch_cpu_efficiency" not in row:
            continue
        print(f"             ceiling {row['numpy_matmul_gflops']:.0f} GFLOP/s: "
              f"scratch {100 * row['scratch_fraction_of_matmul_ceiling']:.0f}%, "
              f"torch {100 * row['torch_fraction_of_matmul_ceiling']:.0f}%; "
              f"per CPU second (the 1-thread product does "
              f"{r['numpy_matmul_gflop_per_cpu_second']:.0f} GFLOP per CPU second): scratch "
              f"{100 * row['scratch_cpu_efficiency']:.0f}%, torch "
              f"{100 * row['torch_cpu_efficiency']:.0f}%")
    if "load" in r:
        print("\none competing CPU-bound process, paused and running in alternate rounds "
              "(median step, paused -> running; slowdown x median-ratio [range of the "
              "per-round ratios])")
        for n, row in r["load"].items():
            print(f"  {n} thread{'s' if n != '1' else ' '}  scratch "
                  f"{row['quiet_scratch_step_ms']['median']:.2f} -> "
                  f"{row['load_scratch_step_ms']['median']:.2f} ms (x{row['scratch_slowdown']:.2f}"
                  f" {_range(row['scratch_slowdown_per_round'])})"
                  f"  torch {row['quiet_torch_step_ms']['median']:.2f} -> "
                  f"{row['load_torch_step_ms']['median']:.2f} ms (x{row['torch_slowdown']:.2f}"
                  f" {_range(row['torch_slowdown_per_round'])})"
                  f"  ratio under load {row['ratio_scratch_over_torch_under_load']:.2f}"
                  f"  scratch no worse: {row['scratch_no_worse_than_torch']}")
    if "peak_step_memory_mb" in r:
        mem = r["peak_step_memory_mb"]
        print(f"\npeak step memory ({mem['threads']} threads): scratch {mem['scratch']:.1f} MiB"
              f"   torch {mem['torch']:.1f} MiB")
    for n, row in r["threads"].items():
        if "layers" not in row:
            continue
        unit = f"ms, {n} thread{'s' if n != '1' else ''}: median wall | least CPU"
        head = (f"{'layer':8} {'kind':10} {'input':18} {'fwd scratch':>11} {'fwd torch':>10} "
                f"{'bwd scratch':>11} {'bwd torch':>10} | {'fwd scratch':>11} {'fwd torch':>10} "
                f"{'bwd scratch':>11} {'bwd torch':>10}")
        print(f"\n({unit})\n{head}")
        print("-" * len(head))
        moved = False
        for row_ in row["layers"]:
            mark = " *"[row_["input_shape"] != row_["torch_input_shape"]]
            moved |= mark == "*"
            print(f"{row_['layer'] + mark:8} {row_['kind']:10} "
                  f"{str(tuple(row_['input_shape'])):18} "
                  f"{row_['scratch_forward_ms']:11.3f} {row_['torch_forward_ms']:10.3f} "
                  f"{row_['scratch_backward_ms']:11.3f} {row_['torch_backward_ms']:10.3f} | "
                  f"{row_['scratch_forward_cpu_ms']:11.3f} {row_['torch_forward_cpu_ms']:10.3f} "
                  f"{row_['scratch_backward_cpu_ms']:11.3f} {row_['torch_backward_cpu_ms']:10.3f}")
        if moved:
            print("* scratch runs this ReLU after the max pool that follows it, on the pooled "
                  "map (scratch.nn.Sequential); torch's times are on the input written before "
                  "it")
    for n, row in r["threads"].items():
        if "single_layers" in row:
            print("\nsingle layers at MNIST-scale sizes "
                  + layer_bench.format_table(row["single_layers"], int(n)))
    if r["after"]["warning"]:
        print("\n" + r["after"]["warning"])


if __name__ == "__main__":
    sys.exit(main())

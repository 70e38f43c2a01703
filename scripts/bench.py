"""Speed of the scratch CNN against torch on the CPU, in one run.

Measures, for the default MNIST architecture in float32:
  * a whole training step (forward, loss, backward, SGD update) in images/s
    for scratch and torch, and their ratio;
  * forward and backward time of each layer at the shapes the model uses;
  * the peak memory a training step adds, each implementation in its own
    process with plain malloc (large blocks mapped and unmapped one by one);
  * the practical ceiling: GFLOP/s of a large float32 matrix product in NumPy,
    and the scratch step's FLOP rate as a fraction of it.
Prints a table and writes JSON (``--out``) so runs can be compared over time.

    python -m scripts.bench --threads 2 --out runs/bench.json
"""
from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    # BLAS reads its thread count when NumPy is first imported: set it before that.
    _threads = "2"
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            _threads = sys.argv[i + 1]
        elif arg.startswith("--threads="):
            _threads = arg.split("=", 1)[1]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, _threads)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import scripts  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2,
                   help="threads for NumPy's BLAS and for torch (default 2)")
    p.add_argument("--batch-size", type=int, default=64, help="images per step (default 64)")
    p.add_argument("--steps", type=int, default=30,
                   help="timed training steps per implementation (default 30)")
    p.add_argument("--repeats", type=int, default=20,
                   help="timed repetitions of each layer's forward/backward (default 20)")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and data (default 0)")
    p.add_argument("--memory-probe", choices=["scratch", "torch"], default=None,
                   help=argparse.SUPPRESS)  # internal: run one memory measurement
    return p.parse_args(argv)


def median_time(fn, repeats: int) -> float:
    """Median wall time of ``repeats`` calls after one warm-up call (seconds): what a
    long training run sees, stray page faults and other jobs included."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def make_batch(batch_size, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch_size)
    return x, y


# --------------------------------------------------------------------------- steps
def scratch_step_fn(batch_size, seed):
    from scratch import arch, model, nn, optim
    net = model.build(arch.mnist_cnn(), seed=seed, dtype=np.float32)
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x, y = make_batch(batch_size, seed)

    def step():
        loss_fn(net.forward(x), y)
        net.backward(loss_fn.backward(), input_grad=False)
        opt.step()
    return step


def torch_step_fn(batch_size, seed):
    import torch

    from reference import model as reference_model
    from scratch import arch
    net = reference_model.build(arch.mnist_cnn())
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = (torch.from_numpy(a) for a in make_batch(batch_size, seed))

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return step


def step_flops(batch_size) -> float:
    """FLOPs of one training step: 2 per multiply-add, forward + 2x for backward."""
    from scratch import arch
    spec = arch.mnist_cnn()
    shapes = spec.shapes()
    macs = 0
    for (_, layer), shape_in, shape_out in zip(spec.layers, shapes, shapes[1:]):
        if isinstance(layer, arch.Conv2d):
            k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
            macs += int(np.prod(shape_out)) * shape_in[0] * k * k
        elif isinstance(layer, arch.Linear):
            macs += shape_in[0] * shape_out[0]
    return 2 * 3 * macs * batch_size


def matmul_gflops(n=2048, repeats=10) -> float:
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = np.random.default_rng(1).random((n, n), dtype=np.float32)
    return 2 * n ** 3 / median_time(lambda: a @ b, repeats) / 1e9


# --------------------------------------------------------------------------- layers
def layer_table(batch_size, repeats, seed):
    """Forward and backward seconds of each layer of the default model, both sides."""
    import torch

    from reference import convert
    from reference import model as reference_model
    from scratch import arch, model
    spec = arch.mnist_cnn()
    net = model.build(spec, seed=seed, dtype=np.float32)
    twin = reference_model.build(spec)
    convert.load_numpy_state(twin, net.state_dict())
    x, _ = make_batch(batch_size, seed)
    rows = []
    for (name, layer), t_layer in zip(net.layers.items(), twin):
        out = layer.forward(x)
        dout = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
        tx = torch.from_numpy(x).requires_grad_(True)
        tdout = torch.from_numpy(dout)

        def s_fwd():
            layer.forward(x)

        def s_bwd():
            layer.forward(x)
            layer.backward(dout)

        def t_fwd():
            with torch.no_grad():
                t_layer(tx)

        def t_bwd():
            t_layer(tx).backward(tdout)

        sf, tf = median_time(s_fwd, repeats), median_time(t_fwd, repeats)
        rows.append(dict(layer=name, kind=type(layer).__name__, input_shape=list(x.shape),
                         scratch_forward_ms=1e3 * sf, torch_forward_ms=1e3 * tf,
                         scratch_backward_ms=1e3 * (median_time(s_bwd, repeats) - sf),
                         torch_backward_ms=1e3 * (median_time(t_bwd, repeats) - tf)))
        x = out
    return rows


# --------------------------------------------------------------------------- memory
def status_kib(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS, VmHWM...), in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def memory_probe(impl, batch_size, seed):
    """Peak resident memory during three training steps above the resident memory before
    them (bytes). Runs in a process where every large block goes straight to and from
    the OS (see :func:`measure_memory`), so resident memory follows live memory; the
    peak counter is reset after a warm-up step (Linux ``clear_refs``)."""
    step = (scratch_step_fn if impl == "scratch" else torch_step_fn)(batch_size, seed)
    step()
    before = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                  # reset VmHWM to the current RSS
    for _ in range(3):
        step()
    return max(0, status_kib("VmHWM") - before) * 1024


def measure_memory(impl, args) -> int:
    cmd = [sys.executable, "-m", "scripts.bench", "--threads", str(args.threads),
           "--batch-size", str(args.batch_size), "--seed", str(args.seed),
           "--memory-probe", impl]
    env = {**os.environ, "CNN_PARITY_KEEP_FREED_MEMORY": "0",
           "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env,
                         cwd=Path(__file__).resolve().parent.parent)
    return int(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- main
def main(argv=None):
    args = parse_args(argv)
    if args.memory_probe:
        import torch
        torch.set_num_threads(args.threads)
        print(memory_probe(args.memory_probe, args.batch_size, args.seed))
        return 0
    import torch
    torch.set_num_threads(args.threads)

    s_step = scratch_step_fn(args.batch_size, args.seed)
    t_step = torch_step_fn(args.batch_size, args.seed)
    s_time = median_time(s_step, args.steps)
    t_time = median_time(t_step, args.steps)
    ceiling = matmul_gflops()
    flops = step_flops(args.batch_size)
    result = dict(
        machine=dict(cpu=platform.processor() or platform.machine(), cores=os.cpu_count(),
                     threads=args.threads, numpy=np.__version__, torch=torch.__version__,
                     freed_memory_kept=bool(scripts.FREED_MEMORY_KEPT)),
        batch_size=args.batch_size, dtype="float32",
        scratch_images_per_s=args.batch_size / s_time,
        torch_images_per_s=args.batch_size / t_time,
        ratio_scratch_over_torch=t_time / s_time,
        step_gflop=flops / 1e9,
        scratch_gflops=flops / s_time / 1e9,
        torch_gflops=flops / t_time / 1e9,
        numpy_matmul_gflops=ceiling,
        scratch_fraction_of_matmul_ceiling=flops / s_time / 1e9 / ceiling,
        layers=layer_table(args.batch_size, args.repeats, args.seed),
        peak_step_memory_mb=dict(scratch=measure_memory("scratch", args) / 2**20,
                                 torch=measure_memory("torch", args) / 2**20),
    )
    print_report(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
        print(f"\nwrote {args.out}")
    return 0


def print_report(r):
    m = r["machine"]
    print(f"{m['cpu']}, {m['cores']} cores, {m['threads']} threads for BLAS and torch; "
          f"numpy {m['numpy']}, torch {m['torch']}; batch {r['batch_size']}, float32; "
          f"freed memory kept by malloc: {m['freed_memory_kept']}\n")
    print(f"training step   scratch {r['scratch_images_per_s']:8.0f} img/s   "
          f"torch {r['torch_images_per_s']:8.0f} img/s   "
          f"ratio scratch/torch {r['ratio_scratch_over_torch']:.2f}")
    print(f"FLOP rate       scratch {r['scratch_gflops']:6.1f} GFLOP/s   "
          f"torch {r['torch_gflops']:6.1f} GFLOP/s   "
          f"NumPy matmul ceiling {r['numpy_matmul_gflops']:.1f} GFLOP/s "
          f"(scratch at {100 * r['scratch_fraction_of_matmul_ceiling']:.0f}%)")
    mem = r["peak_step_memory_mb"]
    print(f"peak step memory scratch {mem['scratch']:.1f} MiB   torch {mem['torch']:.1f} MiB\n")
    head = f"{'layer':8} {'kind':10} {'input':18} {'fwd scratch':>11} {'fwd torch':>10} " \
           f"{'bwd scratch':>11} {'bwd torch':>10}   (ms)"
    print(head)
    print("-" * len(head))
    for row in r["layers"]:
        print(f"{row['layer']:8} {row['kind']:10} {str(tuple(row['input_shape'])):18} "
              f"{row['scratch_forward_ms']:11.3f} {row['torch_forward_ms']:10.3f} "
              f"{row['scratch_backward_ms']:11.3f} {row['torch_backward_ms']:10.3f}")


if __name__ == "__main__":
    sys.exit(main())

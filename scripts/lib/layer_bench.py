"""One layer's forward and backward, scratch against torch on the CPU, for a table of layers.

The table is data: each :class:`LayerSpec` names a module that scratch and torch
both have (``scratch.nn.X`` and ``torch.nn.X``, the same arguments), the inputs
it takes and how it is called, at sizes an MNIST-scale network feeds it (batch
64; 28x28 maps, 28 rows of 28 pixels, 17 tokens of 32 features as in
``mnist_vit``). Both sides get the same weights (torch's, copied into scratch)
and the same float32 inputs.

:func:`compare` times one forward+backward of each side, interleaved: in each
round scratch and torch run the same number of calls back to back, the order
alternating from round to round, so that a change in the host's load hits both
alike. Per round it keeps the process CPU time and the wall time per call, and
the ratio scratch/torch of the CPU times; a ratio above 1 means scratch takes
longer, above :data:`SLOW` the row is marked.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

SLOW = 2.0
"""A row whose median ratio scratch/torch of the CPU time is above this is marked."""


@dataclass(frozen=True)
class Input:
    """One input array: ``normal`` (standard normal floats), ``uniform`` (in [0, 1)),
    ``index`` (integers in [0, high)), ``unpool_indices`` (the flat argmax positions a
    2x2 max pool of a map twice ``shape``'s height and width would give) or
    ``alias`` (the input number ``high`` again: self-attention's query, key and value)."""
    shape: tuple[int, ...]
    kind: str = "normal"
    high: int = 0
    grad: bool = True        # the input's gradient is computed (float inputs of a layer)


@dataclass(frozen=True)
class LayerSpec:
    name: str                                  # the row's label
    module: str                                # the class name in scratch.nn and torch.nn
    inputs: tuple[Input, ...]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    call: dict = field(default_factory=dict)   # keyword arguments of the call, both sides
    loss: bool = False                         # a scalar loss: backward() without dout


def _x(*shape, kind="normal", high=0, grad=True):
    return Input(tuple(shape), kind, high, grad)


def _loss(name, module, shape, target_kind="normal", **kwargs):
    return LayerSpec(name, module, (_x(*shape), _x(*shape, kind=target_kind, grad=False)),
                     kwargs=kwargs, loss=True)


B = 64                       # images per batch
VIT = (B, 17, 32)            # mnist_vit: 16 patches + the class token, 32 features

LAYERS: tuple[LayerSpec, ...] = (
    LayerSpec("conv1d", "Conv1d", (_x(B, 28, 28),), (28, 32, 3), dict(padding=1)),
    LayerSpec("convT1d", "ConvTranspose1d", (_x(B, 32, 14),), (32, 16, 4),
              dict(stride=2, padding=1)),
    LayerSpec("convT2d", "ConvTranspose2d", (_x(B, 32, 7, 7),), (32, 16, 4),
              dict(stride=2, padding=1)),
    LayerSpec("maxpool1d", "MaxPool1d", (_x(B, 32, 28),), (2,)),
    LayerSpec("avgpool1d", "AvgPool1d", (_x(B, 32, 28),), (2,)),
    LayerSpec("adaptavg1d", "AdaptiveAvgPool1d", (_x(B, 32, 28),), (7,)),
    LayerSpec("adaptmax1d", "AdaptiveMaxPool1d", (_x(B, 32, 28),), (7,)),
    LayerSpec("maxunpool2d", "MaxUnpool2d",
              (_x(B, 16, 14, 14), _x(B, 16, 14, 14, kind="unpool_indices", grad=False)), (2,)),
    LayerSpec("up_nearest", "Upsample", (_x(B, 16, 14, 14),),
              kwargs=dict(scale_factor=2, mode="nearest")),
    LayerSpec("up_bilinear", "Upsample", (_x(B, 16, 14, 14),),
              kwargs=dict(scale_factor=2, mode="bilinear")),
    LayerSpec("pixshuffle", "PixelShuffle", (_x(B, 64, 14, 14),), (2,)),
    LayerSpec("reflectpad", "ReflectionPad2d", (_x(B, 16, 28, 28),), (2,)),
    LayerSpec("layernorm", "LayerNorm", (_x(*VIT),), (32,)),
    LayerSpec("groupnorm", "GroupNorm", (_x(B, 16, 28, 28),), (4, 16)),
    LayerSpec("instnorm2d", "InstanceNorm2d", (_x(B, 16, 28, 28),), (16,)),
    LayerSpec("rmsnorm", "RMSNorm", (_x(*VIT),), (32,)),
    LayerSpec("lrn", "LocalResponseNorm", (_x(B, 16, 14, 14),), (5,)),
    LayerSpec("embedding", "Embedding", (_x(B, 28, kind="index", high=256, grad=False),),
              (256, 32)),
    LayerSpec("gru", "GRU", (_x(B, 28, 28),), (28, 128), dict(batch_first=True)),
    LayerSpec("rnncell", "RNNCell", (_x(B, 28),), (28, 128)),
    LayerSpec("lstmcell", "LSTMCell", (_x(B, 28),), (28, 128)),
    LayerSpec("grucell", "GRUCell", (_x(B, 28),), (28, 128)),
    LayerSpec("mha", "MultiheadAttention",
              (_x(*VIT), _x(*VIT, kind="alias", high=0), _x(*VIT, kind="alias", high=0)),
              (32, 4), dict(batch_first=True), dict(need_weights=False)),
    LayerSpec("encoder", "TransformerEncoderLayer", (_x(*VIT),), (32, 4, 64),
              dict(dropout=0.0, activation="gelu", norm_first=True, batch_first=True)),
    LayerSpec("gelu", "GELU", (_x(B, 17, 64),)),
    LayerSpec("gelu_tanh", "GELU", (_x(B, 17, 64),), ("tanh",)),
    LayerSpec("silu", "SiLU", (_x(B, 16, 28, 28),)),
    LayerSpec("elu", "ELU", (_x(B, 16, 28, 28),)),
    LayerSpec("mish", "Mish", (_x(B, 16, 28, 28),)),
    LayerSpec("hardswish", "Hardswish", (_x(B, 16, 28, 28),)),
    _loss("mse", "MSELoss", (B, 784)),
    _loss("bce_logits", "BCEWithLogitsLoss", (B, 784), target_kind="uniform"),
    _loss("smoothl1", "SmoothL1Loss", (B, 784)),
    _loss("kldiv", "KLDivLoss", (B, 10), target_kind="uniform", reduction="batchmean"),
)


def make_inputs(spec: LayerSpec, rng: np.random.Generator) -> list[np.ndarray]:
    """The spec's inputs as NumPy arrays (float32 floats, int64 indices)."""
    arrays = []
    for inp in spec.inputs:
        if inp.kind == "normal":
            a = rng.standard_normal(inp.shape, dtype=np.float32)
        elif inp.kind == "uniform":
            a = rng.random(inp.shape, dtype=np.float32)
        elif inp.kind == "index":
            a = rng.integers(0, inp.high, inp.shape)
        elif inp.kind == "unpool_indices":
            *_, h, w = inp.shape
            rows = 2 * np.arange(h)[:, None] + rng.integers(0, 2, inp.shape)
            cols = 2 * np.arange(w) + rng.integers(0, 2, inp.shape)
            a = rows * (2 * w) + cols                            # flat index in (2h, 2w)
        elif inp.kind == "alias":
            a = arrays[inp.high]
        else:
            raise ValueError(f"unknown input kind {inp.kind!r}")
        arrays.append(a)
    return arrays


def build_pair(spec: LayerSpec):
    """``(scratch module, torch module)`` with the same arguments and torch's weights."""
    import torch

    from reference import convert
    from scratch import nn
    twin = getattr(torch.nn, spec.module)(*spec.args, **spec.kwargs)
    mine = getattr(nn, spec.module)(*spec.args, **spec.kwargs)
    state = convert.to_numpy_state(twin.state_dict())
    if state:
        mine.load_state_dict(state)
    return mine, twin


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def step_fns(spec: LayerSpec, seed: int = 0):
    """Two callables, each one forward and backward of the spec's layer (scratch, torch)."""
    import torch
    mine, twin = build_pair(spec)
    rng = np.random.default_rng(seed)
    arrays = make_inputs(spec, rng)
    tensors = []
    for inp, a in zip(spec.inputs, arrays):
        if inp.kind == "alias":
            tensors.append(tensors[inp.high])
        else:
            t = torch.from_numpy(a)
            tensors.append(t.requires_grad_(True) if inp.grad else t)
    out = _first(mine.forward(*arrays, **spec.call))
    dout = rng.standard_normal(np.shape(out)).astype(np.float32)
    tdout = torch.from_numpy(dout)
    grads = [t for t in tensors if t.requires_grad]

    def scratch_step():
        mine.forward(*arrays, **spec.call)
        if spec.loss:
            mine.backward()
        else:
            mine.backward(dout)

    def torch_step():
        for t in grads:
            t.grad = None
        twin.zero_grad(set_to_none=True)
        out = _first(twin(*tensors, **spec.call))
        if spec.loss:
            out.backward()
        else:
            out.backward(tdout)
    return scratch_step, torch_step


def _calls_per_round(fn, target_s: float = 0.004) -> int:
    """How many calls of ``fn`` make about ``target_s`` seconds of CPU time (at least 1)."""
    fn()
    start = time.process_time()
    fn()
    once = max(time.process_time() - start, 1e-6)
    return max(1, min(200, int(target_s / once)))


def compare(spec: LayerSpec, rounds: int, seed: int = 0) -> dict:
    """Interleaved forward+backward times of both sides (ms per call) and their ratio:
    per round, the CPU time and wall time per call of each; the ratio of the CPU times
    per round; medians and ranges over the rounds."""
    steps = dict(zip(("scratch", "torch"), step_fns(spec, seed)))
    calls = {name: _calls_per_round(fn) for name, fn in steps.items()}
    cpu = {name: [] for name in steps}
    wall = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            fn, n = steps[name], calls[name]
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                fn()
            cpu[name].append(1e3 * (time.process_time() - c0) / n)
            wall[name].append(1e3 * (time.perf_counter() - w0) / n)
    ratio = np.array(cpu["scratch"]) / np.maximum(np.array(cpu["torch"]), 1e-9)
    row = dict(layer=spec.name, module=spec.module,
               input_shape=[list(i.shape) for i in spec.inputs], rounds=rounds,
               calls_per_round=calls)
    for name in names:
        row[f"{name}_cpu_ms"] = _spread(cpu[name])
        row[f"{name}_wall_ms"] = _spread(wall[name])
    row["ratio"] = _spread(ratio)
    row["wall_ratio"] = float(np.median(wall["scratch"]) / np.median(wall["torch"]))
    row["over_2x"] = row["ratio"]["median"] > SLOW
    return row


def _spread(values) -> dict:
    v = np.asarray(values, np.float64)
    return dict(median=float(np.median(v)), min=float(v.min()), max=float(v.max()),
                q25=float(np.percentile(v, 25)), q75=float(np.percentile(v, 75)))


def table(rounds: int, names=None, seed: int = 0) -> list[dict]:
    """:func:`compare` for every row of :data:`LAYERS` (or those named)."""
    chosen = [s for s in LAYERS if names is None or s.name in names]
    return [compare(spec, rounds, seed) for spec in chosen]


def format_table(rows: list[dict], threads: int) -> str:
    """The rows as text: CPU ms per forward+backward, the ratio's median and range, and
    a mark and a summary line for the rows above :data:`SLOW`."""
    head = (f"{'layer':12} {'module':24} {'input':16} {'scratch':>8} {'torch':>8} "
            f"{'scratch/torch':>13} {'[range]':>13}")
    lines = [f"(forward+backward, ms of CPU per call, {threads} thread"
             f"{'s' if threads != 1 else ''}; median over rounds; ratio = scratch/torch "
             f"time, > 1: scratch slower; !! = over {SLOW:g}x torch)", head, "-" * len(head)]
    for r in rows:
        q = r["ratio"]
        spread = f"[{q['min']:.2f}-{q['max']:.2f}]"
        lines.append(f"{r['layer']:12} {r['module']:24} {str(tuple(r['input_shape'][0])):16} "
                     f"{r['scratch_cpu_ms']['median']:8.3f} {r['torch_cpu_ms']['median']:8.3f} "
                     f"{q['median']:13.2f} {spread:>13}{'  !!' if r['over_2x'] else ''}")
    slow = [r["layer"] for r in rows if r["over_2x"]]
    lines.append(f"over {SLOW:g}x torch: {', '.join(slow) if slow else 'none'} "
                 f"({len(slow)} of {len(rows)})")
    return "\n".join(lines)

"""Backprop through time made visible: ||dLoss/dh_t|| at every step, scratch and torch.

MNIST is read row by row (28 steps of 28 pixels; ``scratch.arch.mnist_rnn``),
a linear classifier sits on the last hidden state, and the loss is the mean
cross-entropy over a fixed probe batch of test images. For a tanh RNN and an
LSTM (and a GRU with ``--cells rnn lstm gru``), the script measures the Frobenius
norm over the batch of the total gradient of the loss with respect to the hidden
state ``h_t`` (through every later step) at each step ``t``:

- scratch: the step pairs of ``scratch.functional`` (``rnn_step_forward`` /
  ``rnn_step_backward``, ``lstm_step_*``, ``gru_step_*``) run in a loop, reading the
  gradient that reaches each step;
- torch: ``torch.nn.RNNCell`` / ``LSTMCell`` / ``GRUCell`` with the same weights, unrolled,
  ``h_t.retain_grad()``, autograd.

It does this at initialisation and after ``--train-steps`` SGD steps with the
gradients clipped by ``scratch.nn.utils.clip_grad_norm_`` / ``torch.nn.utils.
clip_grad_norm_`` (both twins of :func:`scripts.lib.twins.make_twins` trained side
by side on the same batches, as ``scripts.train --clip-grad-norm`` does; since
their weights drift apart, the trained measurement loads scratch's weights into
torch first, so both measure the same network), and writes ``gradients.json``
(with the environment, as ``scripts.lib.env.record``) and ``gradients.png`` into a
fresh run folder ``runs/rnn_gradients/<UTC time>`` (or ``--out-dir``).

    python -m scripts.rnn_gradients
    python -m scripts.rnn_gradients --train-steps 200 --probe 256 --seed 1
"""
from __future__ import annotations

from scripts.lib.process import tune_process

tune_process()   # before NumPy and torch load: idle threads sleep, freed memory is kept

import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from scratch import functional as F  # noqa: E402
from scratch.arch import mnist_rnn  # noqa: E402
from scripts.lib import env  # noqa: E402
from scripts.lib.artifacts import atomic_path, write_json  # noqa: E402
from scripts.lib.drift import parameter_drift  # noqa: E402
from scripts.lib.env import DEFAULT_THREADS  # noqa: E402
from scripts.lib.flags import Parser, non_negative_int, positive_float, positive_int  # noqa: E402
from scripts.lib.flags import data_dir as data_dir_flag  # noqa: E402
from scripts.lib.flags import out_dir as out_dir_flag  # noqa: E402
from scripts.lib.runs import RunDirError, claim_run_dir  # noqa: E402
from scripts.lib.training import batch_order, learning_rate, load_data  # noqa: E402
from scripts.lib.twins import make_twins  # noqa: E402

PROG = "python -m scripts.rnn_gradients"
RUNS_BASE = Path("runs/rnn_gradients")
SGD = dict(momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0)

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def scratch_hidden_grad_norms(model, cell, images, labels) -> list[float]:
    """||dL/dh_t||_F for t = 1..T from the scratch step pairs; images (N, 1, 28, 28)."""
    layer, fc = model.layers[cell], model.layers["fc"]
    w_ih, w_hh, b_ih, b_hh = layer._weights(0, 0)
    x = np.ascontiguousarray(images[:, 0].transpose(1, 0, 2))        # (T, N, 28)
    h = np.zeros((x.shape[1], layer.hidden_size), x.dtype)
    c, caches = np.zeros_like(h), []
    for t in range(x.shape[0]):
        if cell == "lstm":
            h, c, cache = F.lstm_step_forward(x[t], h, c, w_ih, w_hh, b_ih, b_hh)
        elif cell == "gru":
            h, cache = F.gru_step_forward(x[t], h, w_ih, w_hh, b_ih, b_hh)
        else:
            h, cache = F.rnn_step_forward(x[t], h, w_ih, w_hh, b_ih, b_hh, layer.nonlinearity)
        caches.append(cache)
    fc_b = fc._params.get("bias")
    logits, fc_cache = F.linear_forward(h, fc._params["weight"].data,
                                        fc_b.data if fc_b else None)
    _, ce_cache = F.cross_entropy_forward(logits, labels, reduction="mean")
    dh, _, _ = F.linear_backward(F.cross_entropy_backward(np.asarray(1.0, x.dtype), ce_cache),
                                 fc_cache)
    dc, norms = np.zeros_like(dh), []
    for t in reversed(range(x.shape[0])):
        norms.append(float(np.linalg.norm(dh)))      # everything that reaches h_t
        if cell == "lstm":
            _, dh, dc, _, _, _ = F.lstm_step_backward(dh, dc, caches[t])
        elif cell == "gru":
            _, dh, _, _, _, _ = F.gru_step_backward(dh, caches[t])
        else:
            _, dh, _, _, _ = F.rnn_step_backward(dh, caches[t])
    return norms[::-1]


def torch_hidden_grad_norms(model, cell, images, labels) -> list[float]:
    """The same with torch autograd through an unrolled RNNCell / LSTMCell / GRUCell."""
    rec, fc = getattr(model, cell), model.fc
    dtype, device = fc.weight.dtype, fc.weight.device
    step = (torch.nn.LSTMCell(rec.input_size, rec.hidden_size, rec.bias) if cell == "lstm"
            else torch.nn.GRUCell(rec.input_size, rec.hidden_size, rec.bias) if cell == "gru"
            else torch.nn.RNNCell(rec.input_size, rec.hidden_size, rec.bias, rec.nonlinearity))
    step = step.to(device=device, dtype=dtype)
    with torch.no_grad():
        for name, p in step.named_parameters():
            p.copy_(getattr(rec, f"{name}_l0"))
    x = torch.from_numpy(images[:, 0]).to(device)                       # (N, T, 28)
    h = torch.zeros(len(x), rec.hidden_size, dtype=dtype, device=device)
    c, hs = torch.zeros_like(h), []
    for t in range(x.shape[1]):
        if cell == "lstm":
            h, c = step(x[:, t], (h, c))
        else:
            h = step(x[:, t], h)
        h.retain_grad()
        hs.append(h)
    loss = torch.nn.functional.cross_entropy(fc(h), torch.from_numpy(labels).to(device))
    loss.backward()
    return [float(torch.linalg.vector_norm(h.grad)) for h in hs]


def measure(twins, cell, images, labels) -> dict:
    return dict(scratch=scratch_hidden_grad_norms(twins["scratch"].model, cell, images, labels),
                torch=torch_hidden_grad_norms(twins["torch"].model, cell, images, labels))


def train_steps(twins, train_x, train_y, steps, batch_size, lr, seed):
    """``steps`` clipped SGD steps on both twins, same batches, cosine schedule."""
    per_epoch = -(-len(train_x) // batch_size)
    losses = {}
    for step in range(steps):
        epoch, b = divmod(step, per_epoch)
        idx = batch_order(seed, epoch, len(train_x))[b * batch_size:(b + 1) * batch_size]
        for name, twin in twins.items():
            losses[name], _ = twin.step(train_x[idx], train_y[idx],
                                        learning_rate("cosine", lr, step, steps))
    return losses


def plot(results: dict, path: Path, train_steps: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cells = list(results)
    fig, axes = plt.subplots(1, len(cells), figsize=(5.5 * len(cells), 4.2), squeeze=False)
    for ax, cell in zip(axes[0], cells):
        for when, color in (("init", "C0"), ("trained", "C3")):
            label = "at init" if when == "init" else f"after {train_steps} steps"
            curves = results[cell][when]
            steps = range(1, len(curves["scratch"]) + 1)
            ax.semilogy(steps, curves["scratch"], color=color, lw=2.5, alpha=0.5,
                        label=f"scratch, {label}")
            ax.semilogy(steps, curves["torch"], color=color, ls="none", marker="x",
                        label=f"torch, {label}")
        ax.set(xlabel="time step t (image row)", ylabel="||dLoss / dh_t||",
               title=f"{cell.upper()}: gradient reaching each hidden state")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def build_parser() -> Parser:
    p = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", nargs="+", choices=["rnn", "lstm", "gru"],
                   default=["rnn", "lstm"],
                   help="recurrent layers to measure: rnn, lstm, gru (default: rnn lstm)")
    p.add_argument("--hidden", type=positive_int, default=128,
                   help="hidden units (default 128)")
    p.add_argument("--probe", type=positive_int, default=512,
                   help="test images in the probe batch the gradients are measured on "
                        "(default 512)")
    p.add_argument("--train-steps", type=non_negative_int, default=600,
                   help="clipped SGD steps between the two measurements (default 600)")
    p.add_argument("--batch-size", type=positive_int, default=64,
                   help="training batch size (default 64)")
    p.add_argument("--lr-rnn", type=positive_float, default=0.1,
                   help="peak learning rate of the RNN, cosine schedule (default 0.1)")
    p.add_argument("--lr-lstm", type=positive_float, default=0.5,
                   help="peak learning rate of the LSTM, cosine schedule (default 0.5)")
    p.add_argument("--lr-gru", type=positive_float, default=0.5,
                   help="peak learning rate of the GRU, cosine schedule (default 0.5)")
    p.add_argument("--clip-grad-norm", type=positive_float, default=1.0, metavar="MAX",
                   help="clip the gradients' total 2-norm to MAX before every step "
                        "(default 1.0)")
    p.add_argument("--threads", type=positive_int, default=DEFAULT_THREADS,
                   help=f"threads of scratch's own pool and of torch; NumPy's BLAS stays at "
                        f"one (default {DEFAULT_THREADS})")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the initial weights and the batch order (default 0)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="floating type of both models (default float32)")
    p.add_argument("--limit-train", type=positive_int, default=None,
                   help="train on only the first N training images (default: all 60000)")
    p.add_argument("--data-dir", type=data_dir_flag, default=None,
                   help="MNIST root (default $CNN_PARITY_DATA or the user cache directory)")
    p.add_argument("--out-dir", type=out_dir_flag, default=None,
                   help=f"folder for gradients.json and gradients.png; it must be new or "
                        f"empty (default: a fresh folder {RUNS_BASE}/<UTC time>, printed)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    env.apply_threads(args.threads)
    environment = env.record("cpu")
    try:
        out = claim_run_dir(args.out_dir, RUNS_BASE)
    except RunDirError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    print(f"run folder: {out}", flush=True)
    torch.manual_seed(args.seed)
    train_x, train_y, test_x, test_y = load_data(args.data_dir, args.dtype, args.limit_train,
                                                 args.probe)
    results = {}
    for cell in args.cells:
        twins = make_twins(mnist_rnn(cell, args.hidden), args.seed, args.dtype, "cpu", "sgd",
                           SGD, 0.0, clip_grad_norm=args.clip_grad_norm)
        results[cell] = dict(init=measure(twins, cell, test_x, test_y))
        losses = train_steps(twins, train_x, train_y, args.train_steps, args.batch_size,
                             getattr(args, f"lr_{cell}"), args.seed)
        results[cell]["last_train_loss"] = losses
        # The twins trained side by side drift apart (rounding, amplified by training);
        # the gradients are compared on one set of weights: scratch's, copied into torch.
        results[cell]["trained_weights_max_rel_diff"] = parameter_drift(
            twins["scratch"].state_dict(), twins["torch"].state_dict())[0]
        twins["torch"].load_state_dict(twins["scratch"].state_dict())
        results[cell]["trained"] = measure(twins, cell, test_x, test_y)
        for when in ("init", "trained"):
            s, t = (np.array(results[cell][when][k]) for k in ("scratch", "torch"))
            results[cell][when]["max_rel_diff"] = float(np.max(np.abs(s - t) / t))
            results[cell][when]["ratio_last_to_first"] = float(s[-1] / s[0])
            print(f"{cell} {when:7s}: ||dL/dh_1|| = {s[0]:.3e}, ||dL/dh_28|| = {s[-1]:.3e} "
                  f"(ratio {s[-1] / s[0]:.3g}); scratch vs torch max rel. diff "
                  f"{results[cell][when]['max_rel_diff']:.1e}")
    environment["wall_seconds"] = time.perf_counter() - started
    config = {**vars(args), "out_dir": str(out), "optimizer": "sgd", **SGD, "l2": 0.0,
              "data_dir": str(args.data_dir) if args.data_dir else None}
    write_json(out / "gradients.json", dict(config=config, environment=environment,
                                            norm="Frobenius norm over the probe batch of "
                                                 "dLoss/dh_t, loss = mean cross-entropy",
                                            results=results))
    plot(results, out / "gradients.png", args.train_steps)
    print(f"wrote {out / 'gradients.json'} and {out / 'gradients.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

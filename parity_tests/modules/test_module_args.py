"""Every constructor argument of every module, and every field of every layer spec,
drawn and checked against torch on four paths: the scratch module built directly,
the scratch module that ``scratch.model.build`` makes from the spec, the torch
module built directly from the same arguments (independent of our mirror), and
the one ``reference.model.build`` makes. A module that drops an argument, or a
builder that forgets to pass one on, gives a different output, gradient or buffer.

Also here, on the same draws: a freshly built module's buffers and non-random
parameters equal a freshly built torch module's (nothing copied across first),
forward and backward leave their input arrays alone, and pooling takes the
unbatched (C, H, W) input it promises.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
import typing

import numpy as np
import pytest
import torch
from hypothesis import event, given, note
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import TORCH_DTYPE, assert_parity, batch_norm_conditioning, dtypes
from parity_tests.helpers import upstream as random_upstream
from reference import convert, vision_transformer
from reference import model as reference_model
from scratch import arch as A
from scratch import model as scratch_model
from scratch import nn

# The constructor argument each spec leaves to the builder (the input's channels/features).
FIRST_ARG = {A.Conv2d: "in_channels", A.Linear: "in_features", A.BatchNorm1d: "num_features",
             A.BatchNorm2d: "num_features", A.Conv1d: "in_channels",
             A.ConvTranspose2d: "in_channels"}
RANDOM_PARAMS = (A.Conv2d, A.Linear, A.RNN, A.LSTM, A.GRU, A.Conv1d,  # drawn at construction:
                 A.ConvTranspose2d,
                 A.PositionEmbedding, A.TransformerEncoderLayer)  # compared after a copy
RECURRENT = (A.RNN, A.LSTM, A.GRU)
# Specs sized by the last axis of (tokens, features); the ViT pieces torch lacks (its
# VisionTransformer writes them inline) are compared with reference.vision_transformer.
LAST_ARG = {A.ClassToken: "embedding_dim", A.LayerNorm: "normalized_shape",
            A.TransformerEncoderLayer: "d_model"}
VIT_PIECES = (A.Patches, A.ClassToken, A.PositionEmbedding, A.FirstToken)


def _torch_sequence_output(base):
    """torch's RNN/LSTM with ``batch_first=True`` returning ``output[:, -1]`` (``last_step``)
    or the whole output: what a recurrent spec describes, written here independently of
    ``reference.model``'s twin (same class name, so the two reprs compare)."""
    def __init__(self, *args, last_step=True, **kwargs):
        base.__init__(self, *args, batch_first=True, **kwargs)
        self.last_step = last_step

    def forward(self, x):
        out = base.forward(self, x)[0]
        return out[:, -1] if self.last_step else out
    return type(f"{base.__name__}Output", (base,), dict(__init__=__init__, forward=forward))


TORCH_RECURRENT = {A.RNN: _torch_sequence_output(torch.nn.RNN),
                   A.LSTM: _torch_sequence_output(torch.nn.LSTM),
                   A.GRU: _torch_sequence_output(torch.nn.GRU)}


def constructor_kwargs(spec, in_shape) -> dict:
    """torch's keyword arguments for the layer a spec describes (every spec field)."""
    kwargs = {f.name: getattr(spec, f.name) for f in dataclasses.fields(spec)}
    if type(spec) in FIRST_ARG:
        kwargs = {FIRST_ARG[type(spec)]: in_shape[0], **kwargs}
    if isinstance(spec, RECURRENT):                        # per-sample (steps, features)
        kwargs = {"input_size": in_shape[1], **kwargs}
    if type(spec) in LAST_ARG:
        kwargs = {LAST_ARG[type(spec)]: in_shape[-1], **kwargs}
    if isinstance(spec, A.PositionEmbedding):
        kwargs = dict(num_positions=in_shape[0], embedding_dim=in_shape[1])
    if isinstance(spec, A.TransformerEncoderLayer):
        kwargs["batch_first"] = True
    return kwargs


def scratch_module(spec, in_shape, dtype):
    cls = getattr(nn, type(spec).__name__ + ("Output" if isinstance(spec, RECURRENT) else ""))
    kwargs = constructor_kwargs(spec, in_shape)
    if "dtype" in inspect.signature(cls).parameters or isinstance(spec, RECURRENT):
        kwargs["dtype"] = np.dtype(dtype)
    return cls(**kwargs)


def torch_module(spec, in_shape, dtype):
    """Built in ``dtype`` (not cast afterwards: PReLU(init=-0.3) filled in float32 and then
    cast to float64 is not float64's -0.3)."""
    if isinstance(spec, A.Rows):
        return torch.nn.Flatten(1, 2)                      # (N, C, H, W) -> (N, C*H, W)
    cls = TORCH_RECURRENT.get(type(spec)) or getattr(
        vision_transformer if isinstance(spec, VIT_PIECES) else torch.nn, type(spec).__name__)
    kwargs = constructor_kwargs(spec, in_shape)
    if isinstance(spec, (A.BatchNorm1d, A.BatchNorm2d)) and spec.bias:
        del kwargs["bias"]                # torch's default; torch 2.11 has no bias= keyword
    if "dtype" in inspect.signature(cls).parameters:
        kwargs["dtype"] = TORCH_DTYPE[np.dtype(dtype)]
    return cls(**kwargs).to(TORCH_DTYPE[np.dtype(dtype)])


def four_paths(spec, in_shape, dtype, seed):
    """(scratch direct, scratch built, torch direct, torch built), fresh."""
    architecture = A.Architecture(tuple(in_shape), (("layer", spec),))
    built = scratch_model.build(architecture, seed=seed, dtype=dtype).layers["layer"]
    t_built = reference_model.build(architecture, dtype=TORCH_DTYPE[np.dtype(dtype)])
    return (scratch_module(spec, in_shape, dtype), built, torch_module(spec, in_shape, dtype),
            t_built.layer)


def printed_as_torch(module) -> str:
    """``repr(module)``; with a torch before BatchNorm's ``bias=`` (2.11), without the
    ``bias=True`` it did not print."""
    text = repr(module)
    return text if S.BATCH_NORM_HAS_BIAS else text.replace(", bias=True, track", ", track")


def kernel_area(spec) -> int:
    k = getattr(spec, "kernel_size", 1)
    if isinstance(spec, (A.Conv1d, A.MaxPool1d)):         # one axis
        return math.prod(k) if isinstance(k, tuple) else k
    return math.prod(k) if isinstance(k, tuple) else k * k


def test_every_field_of_every_layer_spec_is_drawn():
    """The spec strategies draw each dataclass field (a new field must be drawn too)."""
    assert set(typing.get_args(A.LayerSpec)) == set(S.DRAWN_FIELDS) == set(S.SPEC_STRATEGIES)
    for cls, drawn in S.DRAWN_FIELDS.items():
        assert {f.name for f in dataclasses.fields(cls)} == drawn, cls.__name__


families = pytest.mark.parametrize("family", S.SPEC_FAMILIES)


@families
@dtypes
@given(data=st.data(), seed=S.SEEDS)
def test_fresh_module_state_equals_fresh_torch_module(family, data, seed, dtype):
    """Buffers and non-random parameters of a freshly built module (directly and through
    model.build) equal a fresh torch module's, bit for bit and in the parameters' dtype;
    the torch mirror builds the same module as torch's constructor."""
    spec, in_shape = data.draw(S.SPEC_FAMILIES[family], label="spec")
    direct, built, t_direct, t_built = four_paths(spec, in_shape, dtype, seed)
    assert repr(t_built) == repr(t_direct)
    if not isinstance(spec, A.Rows):                       # torch's twin is Flatten(1, 2)
        assert printed_as_torch(direct) == printed_as_torch(built) == repr(t_direct)
    expected = convert.to_numpy_state(t_direct.state_dict())
    for name, ours in (("direct", direct.state_dict()), ("built", built.state_dict())):
        assert list(ours) == list(expected), name
        for key, value in expected.items():
            if isinstance(spec, RANDOM_PARAMS):
                assert ours[key].shape == value.shape and ours[key].dtype == value.dtype
                continue
            assert ours[key].dtype == value.dtype, (name, key)
            np.testing.assert_array_equal(ours[key], value, err_msg=f"{name} {key}")


def random_state(module, rng, dtype) -> dict:
    state = {k: (rng.uniform(-1, 1, v.shape).astype(dtype) if v.dtype.kind == "f" else v)
             for k, v in module.state_dict().items()}
    if "running_var" in state:
        state["running_var"] = (0.5 + np.abs(state["running_var"])).astype(dtype)
    return state


@families
@dtypes
@given(seed=S.SEEDS, n=st.integers(1, 3), data=st.data())
def test_every_argument_reaches_forward_backward_and_buffers(family, seed, n, data, dtype):
    """Two training steps and one eval step on all four paths, from the same state:
    outputs, input gradients, parameter gradients and buffers equal torch's; inputs
    and upstream gradients are left unchanged; pooling also takes (C, H, W). An input
    torch refuses (batch norm with one value per channel in training) is refused too."""
    spec, in_shape = data.draw(S.SPEC_FAMILIES[family], label="spec")
    note(f"spec {spec!r}, per-sample shape {in_shape}")
    event(f"layer spec: {type(spec).__name__}")
    direct, built, t_direct, t_built = four_paths(spec, in_shape, dtype, seed)
    state = random_state(direct, np.random.default_rng(seed), dtype)
    for module in (direct, built):
        module.load_state_dict(state)
    for module in (t_direct, t_built):
        convert.load_numpy_state(module, state)
    pools = (A.MaxPool2d, A.AvgPool2d, A.AdaptiveAvgPool2d, A.AdaptiveMaxPool2d, A.MaxPool1d)
    for step, training in enumerate([True, True, False, False]):
        if step == 3 and not isinstance(spec, pools):
            break
        shape = (n, *in_shape) if step < 3 else tuple(in_shape)  # step 3: unbatched pooling
        x = data.draw(S.array(shape), label=f"x{step}").astype(dtype)
        x_before = x.copy()
        for module in (direct, built, t_direct, t_built):
            module.train(training)
        t_x = torch.tensor(x, requires_grad=True)
        try:
            t_out = t_direct(t_x)
        except ValueError:
            event("an input torch refuses")
            for module in (direct, built):
                with pytest.raises(ValueError):
                    module.forward(x)
            return  # torch counts the refused batch; scratch, by design, does not
        dout = random_upstream(seed + step, tuple(t_out.shape), dtype)
        dout_before = dout.copy()
        t_direct.zero_grad()
        t_out.backward(torch.from_numpy(dout.copy()))
        k = x.size * kernel_area(spec) * (batch_norm_conditioning(x) if x.ndim > 1 else 1)
        expected = dict(out=t_out, dx=t_x.grad,
                        **{f"grad:{p}": v.grad for p, v in t_direct.named_parameters()},
                        **{f"state:{p}": v for p, v in t_direct.state_dict().items()
                           if v.is_floating_point()})
        t_x2 = torch.tensor(x, requires_grad=True)
        t_out2 = t_built(t_x2)
        t_built.zero_grad()
        t_out2.backward(torch.from_numpy(dout.copy()))
        mirror = dict(out=t_out2, dx=t_x2.grad,
                      **{f"grad:{p}": v.grad for p, v in t_built.named_parameters()},
                      **{f"state:{p}": v for p, v in t_built.state_dict().items()
                         if v.is_floating_point()})
        assert_parity({key: v.detach().numpy() for key, v in mirror.items()}, expected, dtype)
        for name, module in (("direct", direct), ("built", built)):
            out = module.forward(x)
            dx = module.backward(dout)
            np.testing.assert_array_equal(x, x_before, err_msg=f"{name}: forward/backward "
                                                               "changed its input")
            np.testing.assert_array_equal(dout, dout_before, err_msg=f"{name}: backward "
                                                                     "changed dout")
            ours = dict(out=out, dx=dx,
                        **{f"grad:{p}": v.grad for p, v in module.named_parameters()},
                        **{f"state:{p}": v for p, v in module.state_dict().items()
                           if v.dtype.kind == "f"})
            assert_parity(ours, expected, dtype, reductions={key: k for key in expected})
            for key, value in module.state_dict().items():
                if value.dtype.kind == "i":
                    assert int(value) == int(t_direct.state_dict()[key]), (name, key)


@dtypes
@given(case=S.classification_cases(), reduction=st.sampled_from(["mean", "sum", "none"]),
       seed=S.SEEDS)
def test_cross_entropy_loss_module_arguments_match_torch(case, reduction, seed, dtype):
    logits, target, _ = case
    logits = logits.astype(dtype)
    loss_fn = nn.CrossEntropyLoss(reduction=reduction)
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = torch.nn.CrossEntropyLoss(reduction=reduction)(t_logits, torch.from_numpy(target))
    loss = loss_fn(logits, target)
    dloss = random_upstream(seed, loss.shape, dtype)
    dlogits = loss_fn.backward(dloss)
    t_loss.backward(torch.from_numpy(dloss))
    k = logits.size
    assert_parity(dict(loss=loss, dlogits=dlogits), dict(loss=t_loss, dlogits=t_logits.grad),
                  dtype, reductions=dict(loss=k, dlogits=k))


FLAG = st.booleans()
SIZE = st.integers(1, 4)
# The constructor arguments no layer spec carries (the specs above cover the rest), by class.
UNSPECCED_ARGS = {
    "ReLU": dict(inplace=FLAG), "SiLU": dict(inplace=FLAG),
    "LeakyReLU": dict(negative_slope=st.floats(-2, 2), inplace=FLAG),
    "ELU": dict(alpha=st.floats(0.1, 2), inplace=FLAG),
    "Dropout": dict(p=st.floats(0, 1), inplace=FLAG),
    "Dropout2d": dict(p=st.floats(0, 1), inplace=FLAG),
    "MaxPool2d": dict(kernel_size=st.integers(2, 3), return_indices=FLAG, ceil_mode=FLAG),
    "AdaptiveMaxPool2d": dict(output_size=st.one_of(SIZE, st.tuples(st.none() | SIZE, SIZE)),
                              return_indices=FLAG),
    "CrossEntropyLoss": dict(reduction=st.sampled_from(["mean", "sum", "none"]),
                             ignore_index=st.integers(-100, 3),
                             label_smoothing=st.floats(0, 1)),
    "NLLLoss": dict(reduction=st.sampled_from(["mean", "sum", "none"]),
                    ignore_index=st.integers(-100, 3)),
    "RNN": dict(input_size=SIZE, hidden_size=SIZE, num_layers=st.integers(1, 2),
                nonlinearity=st.sampled_from(["tanh", "relu"]), bias=FLAG, batch_first=FLAG,
                bidirectional=FLAG),
    "LSTM": dict(input_size=SIZE, hidden_size=SIZE, num_layers=st.integers(1, 2), bias=FLAG,
                 batch_first=FLAG, bidirectional=FLAG),
}


@pytest.mark.parametrize("name", sorted(UNSPECCED_ARGS))
@given(data=st.data())
def test_modules_print_as_torch_for_the_arguments_no_spec_carries(name, data):
    """``repr`` (what ``print(model)`` shows) equals torch's for every drawn value of the
    constructor arguments outside the layer specs; the spec-drawn ones are compared in
    :func:`test_fresh_module_state_equals_fresh_torch_module`."""
    kwargs = data.draw(st.fixed_dictionaries(UNSPECCED_ARGS[name]), label="kwargs")
    assert repr(getattr(nn, name)(**kwargs)) == repr(getattr(torch.nn, name)(**kwargs))

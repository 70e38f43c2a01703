"""scratch.init against torch's default initialisation: bounds, distributions, seeding.

Two draws from different generators can't be compared element by element,
so the checks are about distributions:

- bounds: every value lies within torch's bound (rounded to the array's dtype,
  as a draw rounded to float32 can land on it); for a large tensor the
  largest |value| is close to the bound: for ``n`` values of U(-b, b),
  ``P(max|x| < b (1 - d)) = (1 - d)**n <= exp(-n d)``, so ``d = ln(1e6) / n``
  fails a correct implementation once in a million draws;
- shape of the distribution: a two-sample Kolmogorov-Smirnov statistic between
  a scratch draw and a torch draw of the same tensor, below the asymptotic
  critical value at alpha = 1e-3 (samples of 10^4 or more values). These
  tests use fixed seeds (parametrized, not hypothesis), so the 1e-3 chance of
  rejecting a correct implementation is taken once, not on every run, and
  :func:`test_ks_check_rejects_a_wrong_distribution` shows the same check does
  reject plausible mistakes.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.distributions import (
    assert_reaches_bound,
    assert_same_distribution,
    assert_within_bound,
    ks_critical_value,
    ks_statistic,
    scratch_default_init,
    torch_fan_in,
    torch_module,
)
from parity_tests.helpers import DTYPES, TORCH_DTYPE, dtypes
from reference import model as reference_model
from scratch import arch as A
from scratch import init, nn
from scratch import model as scratch_model


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.0), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)),
    ("leaky_relu", 1), ("conv1d", None), ("conv3d", None), ("conv_transpose2d", None),
    ("selu", None),
])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(
        nonlinearity, param)


@pytest.mark.parametrize("nonlinearity, param", [("swishy", None), ("leaky_relu", True),
                                                 ("leaky_relu", "0.2")])
def test_calculate_gain_rejects_what_torch_rejects(nonlinearity, param):
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain(nonlinearity, param)
    with pytest.raises(ValueError, match=str(param if param is not None else nonlinearity)):
        init.calculate_gain(nonlinearity, param)


@given(shape=st.lists(st.integers(0, 5), min_size=2, max_size=5).map(tuple))
def test_fan_in_and_fan_out_equal_torchs(shape):
    assert init.fan_in_and_fan_out(shape) == torch.nn.init._calculate_fan_in_and_fan_out(
        torch.empty(shape))


INIT_FUNCTIONS = ["uniform_", "normal_", "constant_", "ones_", "zeros_", "xavier_uniform_",
                  "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "calculate_gain"]


@pytest.mark.parametrize("name", INIT_FUNCTIONS)
def test_init_signatures_equal_torchs(name):
    """Names, order and defaults of the arguments, so torch code calls ours unchanged
    (``generator`` is a NumPy Generator or seed here, a torch.Generator there)."""
    ours = inspect.signature(getattr(init, name)).parameters
    theirs = inspect.signature(getattr(torch.nn.init, name)).parameters
    assert [(p.name, p.default) for p in ours.values()] == [
        (p.name, p.default) for p in theirs.values()]


@dtypes
@pytest.mark.parametrize("call", [
    lambda m, t: m.constant_(t, 0.25), lambda m, t: m.ones_(t), lambda m, t: m.zeros_(t)])
def test_constant_fills_equal_torchs_in_place(call, dtype):
    ours = np.full((3, 4), 7, dtype)
    theirs = torch.full((3, 4), 7, dtype=TORCH_DTYPE[np.dtype(dtype)])
    assert call(init, ours) is ours and call(torch.nn.init, theirs) is theirs
    np.testing.assert_array_equal(ours, theirs.numpy())
    parameter = nn.Parameter(np.full((2,), 7, dtype))
    assert call(init, parameter) is parameter and parameter.data.dtype == dtype


# (scratch call, torch call, bound or None, std) of each random init on one large shape
RANDOM_INITS = {
    "uniform_": (lambda m, t, g: m.uniform_(t, -0.3, 0.7, generator=g), None),
    "normal_": (lambda m, t, g: m.normal_(t, 0.5, 2.0, generator=g), None),
    "xavier_uniform_": (lambda m, t, g: m.xavier_uniform_(t, gain=1.5, generator=g),
                        lambda shape: 1.5 * math.sqrt(6 / (shape[0] + shape[1]) / 25)),
    "xavier_normal_": (lambda m, t, g: m.xavier_normal_(t, gain=0.6, generator=g), None),
    "kaiming_uniform_fan_out": (lambda m, t, g: m.kaiming_uniform_(
        t, mode="fan_out", nonlinearity="relu", generator=g),
        lambda shape: math.sqrt(2) * math.sqrt(3 / (shape[0] * 25))),
    "kaiming_normal_fan_in": (lambda m, t, g: m.kaiming_normal_(t, a=0.2, generator=g), None),
    "kaiming_normal_fan_out": (lambda m, t, g: m.kaiming_normal_(
        t, mode="fan_out", nonlinearity="tanh", generator=g), None),
}


@dtypes
@pytest.mark.parametrize("name", list(RANDOM_INITS))
def test_random_inits_draw_torchs_distribution(name, dtype):
    """On a (40, 60, 5, 5) weight (60,000 values; fan_in 1,500, fan_out 1,000): the same
    distribution as torch's draw (two-sample KS test), within the bound and reaching it
    where there is one; in place, dtype kept, the Parameter form too."""
    call, bound_of = RANDOM_INITS[name]
    shape = (40, 60, 5, 5)
    ours = np.zeros(shape, dtype)
    assert call(init, ours, 11) is ours and ours.dtype == dtype
    theirs = call(torch.nn.init, torch.zeros(shape, dtype=TORCH_DTYPE[np.dtype(dtype)]),
                  torch.Generator().manual_seed(12)).numpy()
    assert_same_distribution(ours, theirs, name)
    if bound_of is not None:
        for who, values in (("scratch", ours), ("torch", theirs)):
            assert_within_bound(values, bound_of(shape), who)
            assert_reaches_bound(values, bound_of(shape), who)
    parameter = nn.Parameter(np.zeros((3, 4), dtype))
    assert call(init, parameter, 0) is parameter and parameter.data.any()


@pytest.mark.parametrize("call, shape", [
    (lambda m, t: m.kaiming_uniform_(t, mode="fan_avg"), (4, 3)),
    (lambda m, t: m.xavier_uniform_(t), (4,)), (lambda m, t: m.kaiming_normal_(t), (4,))])
def test_init_errors_like_torch(call, shape):
    """An unknown mode, or a fan asked of a vector: ValueError on both sides."""
    with pytest.raises(ValueError):
        call(torch.nn.init, torch.zeros(shape))
    with pytest.raises(ValueError, match="fan_avg|fewer than 2 dimensions"):
        call(init, np.zeros(shape))
    with pytest.raises(TypeError, match="floating NumPy array"):
        init.normal_(np.zeros(3, np.int64))


def test_kaiming_uniform_needs_two_dims_like_torch():
    """fan_in is undefined for a vector: torch refuses rather than guess."""
    with pytest.raises(ValueError):
        torch.nn.init.kaiming_uniform_(torch.empty(5))
    with pytest.raises(ValueError, match="2 dimensions"):
        init.kaiming_uniform_(np.zeros(5), generator=np.random.default_rng(0))


# --------------------------------------------------------------------------- bounds
NONLINEARITIES = st.sampled_from(["leaky_relu", "relu", "tanh", "linear", "sigmoid"])


@dtypes
@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=4).map(tuple),
       a=st.one_of(st.just(0.0), st.just(math.sqrt(5)), st.floats(0.0, 3.0)),
       nonlinearity=NONLINEARITIES, seed=S.SEEDS)
def test_kaiming_uniform_stays_within_torch_bound(shape, a, nonlinearity, seed, dtype):
    """Bound ``gain(nonlinearity, a) * sqrt(3 / fan_in)``, torch's documented formula;
    torch's own draw is checked against it too, so the formula is torch's."""
    bound = torch.nn.init.calculate_gain(nonlinearity, a) * math.sqrt(3 / torch_fan_in(shape))
    ours = init.kaiming_uniform_(np.zeros(shape, dtype), a=a,
                                 generator=np.random.default_rng(seed),
                                 nonlinearity=nonlinearity)
    theirs = torch.nn.init.kaiming_uniform_(
        torch.empty(shape, dtype=TORCH_DTYPE[np.dtype(dtype)]), a=a, nonlinearity=nonlinearity,
        generator=torch.Generator().manual_seed(seed))
    assert ours.dtype == np.dtype(dtype)
    assert_within_bound(ours, bound, "scratch")
    assert_within_bound(theirs.numpy(), bound, "torch")


@st.composite
def layer_factories(draw):
    """(torch module factory, weight shape, has bias) for a small Linear or Conv2d."""
    bias = draw(st.booleans())
    if draw(st.booleans()):
        fin, fout = draw(st.integers(1, 8)), draw(st.integers(1, 8))
        return (lambda: torch.nn.Linear(fin, fout, bias=bias)), (fout, fin), bias
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (lambda: torch.nn.Conv2d(cin, cout, (kh, kw), bias=bias)), (cout, cin, kh, kw), bias


@dtypes
@given(layer=layer_factories(), seed=S.SEEDS)
def test_default_init_stays_within_torch_bound(layer, seed, dtype):
    """Weight and bias within 1/sqrt(fan_in), as torch's reset_parameters draws them."""
    factory, weight_shape, has_bias = layer
    module = torch_module(factory, seed, dtype)
    bound = 1 / math.sqrt(torch_fan_in(weight_shape))
    weight, bias = scratch_default_init(weight_shape, has_bias, seed, dtype)
    assert weight.dtype == np.dtype(dtype) and tuple(module.weight.shape) == weight_shape
    assert_within_bound(weight, bound, "scratch weight")
    assert_within_bound(module.weight.detach().numpy(), bound, "torch weight")
    if has_bias:
        assert bias.dtype == np.dtype(dtype)
        assert_within_bound(bias, bound, "scratch bias")
        assert_within_bound(module.bias.detach().numpy(), bound, "torch bias")


# --------------------------------------------------------------------------- distributions
# torch module, and which of its tensors hold >= 10^4 values for the KS check.
LARGE_LAYERS = {
    "linear_200_to_100": (lambda: torch.nn.Linear(200, 100), ["weight"]),
    "linear_5_to_20000": (lambda: torch.nn.Linear(5, 20000), ["weight", "bias"]),
    "conv_6_to_128_k3x5": (lambda: torch.nn.Conv2d(6, 128, (3, 5)), ["weight"]),
    "conv_2_to_16000_k1": (lambda: torch.nn.Conv2d(2, 16000, 1), ["weight", "bias"]),
}


@dtypes
@pytest.mark.parametrize("layer", list(LARGE_LAYERS))
def test_default_init_draws_torch_default_distribution(layer, dtype):
    factory, large = LARGE_LAYERS[layer]
    module = torch_module(factory, seed=1234, dtype=dtype)
    shape = tuple(module.weight.shape)
    bound = 1 / math.sqrt(torch_fan_in(shape))
    weight, bias = scratch_default_init(shape, True, seed=5678, dtype=dtype)
    ours = dict(weight=weight, bias=bias)
    for name in ["weight", "bias"]:
        theirs = getattr(module, name).detach().numpy()
        assert_within_bound(ours[name], bound, f"scratch {name}")
        assert_within_bound(theirs, bound, f"torch {name}")
        assert_reaches_bound(ours[name], bound, f"scratch {name}")
        assert_reaches_bound(theirs, bound, f"torch {name}")
        if name in large:
            assert_same_distribution(ours[name], theirs, f"{layer} {name}")


KAIMING_SHAPES = [(20000, 3), (160, 25, 5)]
KAIMING_ARGS = [(0.0, "leaky_relu"), (0.2, "leaky_relu"), (math.sqrt(5), "leaky_relu"),
                (0.0, "relu"), (0.0, "tanh"), (0.0, "linear"), (0.0, "sigmoid")]


@dtypes
@pytest.mark.parametrize("shape", KAIMING_SHAPES, ids=str)
@pytest.mark.parametrize("a, nonlinearity", KAIMING_ARGS, ids=lambda v: f"{v:.3g}"
                         if isinstance(v, float) else v)
def test_kaiming_uniform_draws_torch_distribution(shape, a, nonlinearity, dtype):
    bound = torch.nn.init.calculate_gain(nonlinearity, a) * math.sqrt(3 / torch_fan_in(shape))
    ours = init.kaiming_uniform_(np.zeros(shape, dtype), a=a,
                                 generator=np.random.default_rng(99),
                                 nonlinearity=nonlinearity)
    theirs = torch.nn.init.kaiming_uniform_(
        torch.empty(shape, dtype=TORCH_DTYPE[np.dtype(dtype)]), a=a, nonlinearity=nonlinearity,
        generator=torch.Generator().manual_seed(77)).numpy()
    for who, values in [("scratch", ours), ("torch", theirs)]:
        assert_within_bound(values, bound, who)
        assert_reaches_bound(values, bound, who)
    assert_same_distribution(ours, theirs, f"kaiming_uniform_(a={a}, {nonlinearity})")


def _wrong_draws(rng, bound, size):
    """Plausible mistakes for Linear(200, 100)'s weight (correct: U(-b, b), b = 1/sqrt(200))."""
    return {
        # kaiming_uniform_'s own default a=0 instead of reset_parameters' a=sqrt(5)
        "gain_of_a_0": rng.uniform(-1, 1, size) * math.sqrt(2) * math.sqrt(3 / 200),
        "fan_out_instead_of_fan_in": rng.uniform(-1, 1, size) / math.sqrt(100),
        "bound_10_percent_wide": rng.uniform(-1, 1, size) * bound * 1.1,
        "normal_with_same_variance": rng.standard_normal(size) * bound / math.sqrt(3),
    }


@pytest.mark.parametrize("mistake", list(_wrong_draws(np.random.default_rng(0), 1.0, 1)))
def test_ks_check_rejects_a_wrong_distribution(mistake):
    """The KS check above has power: it rejects each mistake on samples of the size it
    is used with, while a correct draw of the same size passes."""
    module = torch_module(lambda: torch.nn.Linear(200, 100), seed=1234, dtype=np.float64)
    theirs = module.weight.detach().numpy()
    bound = 1 / math.sqrt(200)
    wrong = _wrong_draws(np.random.default_rng(2024), bound, theirs.shape)[mistake]
    print(f"{mistake}: KS statistic {ks_statistic(wrong, theirs):.4f}, "
          f"critical {ks_critical_value(wrong.size, theirs.size):.4f}")
    with pytest.raises(AssertionError, match="KS statistic"):
        assert_same_distribution(wrong, theirs, mistake)
    right = np.random.default_rng(2024).uniform(-bound, bound, theirs.shape)
    assert_same_distribution(right, theirs, "correct U(-b, b)")


# --------------------------------------------------------------------------- seeding
@dtypes
@given(layer=layer_factories(), seed=S.SEEDS, other=S.SEEDS)
def test_default_init_same_seed_same_weights_different_seed_different(layer, seed, other,
                                                                       dtype):
    _, shape, has_bias = layer
    first = scratch_default_init(shape, has_bias, seed, dtype)
    again = scratch_default_init(shape, has_bias, seed, dtype)
    for a, b in zip(first, again):
        if a is not None:
            assert a.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(a, b)
    if other != seed:
        different = scratch_default_init(shape, has_bias, other, dtype)
        assert not np.array_equal(first[0], different[0])


# --------------------------------------------------------------------------- model.build
def conv_linear_layers(model):
    return {name: layer for name, layer in model.layers.items()
            if isinstance(layer, (nn.Conv2d, nn.Linear))}


def layer_fan_in(layer) -> int:
    """From the layer's own geometry, not from the weight through scratch.init."""
    if isinstance(layer, nn.Linear):
        return layer.in_features
    return layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]


@dtypes
@pytest.mark.parametrize("seed", [0, 7])
def test_build_initialises_every_conv_and_linear_within_torch_bound(seed, dtype):
    model = scratch_model.build(A.mnist_cnn(), seed=seed, dtype=dtype)
    layers = conv_linear_layers(model)
    assert set(layers) == {"conv1", "conv2", "fc1", "fc2"}
    for name, layer in layers.items():
        bound = 1 / math.sqrt(layer_fan_in(layer))
        for pname, p in layer.named_parameters():
            assert p.data.dtype == np.dtype(dtype), (name, pname)
            assert_within_bound(p.data, bound, f"{name}.{pname}")
            assert_reaches_bound(p.data, bound, f"{name}.{pname}")
            assert p.grad is None
    for p in model.parameters():
        assert p.data.dtype == np.dtype(dtype)


@dtypes
def test_build_weights_follow_torch_default_distribution(dtype):
    """Every conv/linear value scaled by sqrt(fan_in) is U(-1, 1) in both models:
    pooled over the network, scratch's and torch's values pass the KS check."""
    architecture = A.mnist_cnn()

    def pooled(layers):
        return np.concatenate([np.ravel(values) * math.sqrt(fan) for fan, values in layers])

    scratch = conv_linear_layers(scratch_model.build(architecture, seed=3, dtype=dtype))
    ours = pooled((layer_fan_in(layer), p.data) for layer in scratch.values()
                  for p in layer.parameters())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        reference = reference_model.build(architecture, dtype=TORCH_DTYPE[np.dtype(dtype)])
    theirs = pooled((torch_fan_in(tuple(m.weight.shape)), p.detach().numpy())
                    for m in reference.children()
                    if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))
                    for p in m.parameters())
    assert ours.size == theirs.size
    assert_same_distribution(ours, theirs, "mnist_cnn conv/linear parameters")


@given(seed=S.SEEDS, other=S.SEEDS, dtype=st.sampled_from(DTYPES))
def test_build_same_seed_same_weights_different_seed_different(seed, other, dtype):
    architecture = A.mnist_cnn(channels=(2, 3), hidden=8)
    first = scratch_model.build(architecture, seed=seed, dtype=dtype).state_dict()
    again = scratch_model.build(architecture, seed=np.random.default_rng(seed),
                                dtype=dtype).state_dict()
    assert first.keys() == again.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], again[name], err_msg=name)
    if other != seed:
        different = scratch_model.build(architecture, seed=other, dtype=dtype).state_dict()
        assert not np.array_equal(first["fc1.weight"], different["fc1.weight"])


# --------------------------------------------------------------------------- at construction
# scratch layer built alone, its torch twin, the tensors holding >= 10^4 values
LAYERS_BUILT_ALONE = {
    "linear_200_to_100": (lambda d, g: nn.Linear(200, 100, dtype=d, generator=g),
                          lambda: torch.nn.Linear(200, 100), ["weight"]),
    "conv_2_to_16000_k1": (lambda d, g: nn.Conv2d(2, 16000, 1, dtype=d, generator=g),
                           lambda: torch.nn.Conv2d(2, 16000, 1), ["weight", "bias"]),
    "conv_grouped_reflect": (lambda d, g: nn.Conv2d(8, 640, 3, groups=4, padding_mode="reflect",
                                                    dtype=d, generator=g),
                             lambda: torch.nn.Conv2d(8, 640, 3, groups=4,
                                                     padding_mode="reflect"), ["weight"]),
}


@dtypes
@pytest.mark.parametrize("layer", list(LAYERS_BUILT_ALONE))
def test_layer_built_alone_draws_torch_default_distribution(layer, dtype):
    """No model.build needed: the constructor draws weight and bias as torch's
    reset_parameters does (bounds from torch's own fan_in, KS against torch's draw)."""
    make, make_torch, large = LAYERS_BUILT_ALONE[layer]
    ours = make(dtype, np.random.default_rng(5678))
    theirs = torch_module(make_torch, seed=1234, dtype=dtype)
    bound = 1 / math.sqrt(torch_fan_in(tuple(theirs.weight.shape)))
    for name, p in ours.named_parameters():
        values, t_values = p.data, getattr(theirs, name).detach().numpy()
        assert values.shape == t_values.shape and values.dtype == np.dtype(dtype)
        assert_within_bound(values, bound, f"scratch {name}")
        assert_reaches_bound(values, bound, f"scratch {name}")
        if name in large:
            assert_same_distribution(values, t_values, f"{layer} {name}")


def test_manual_seed_fixes_the_weights_of_layers_built_without_a_generator():
    import scratch

    def layers():
        return [m.state_dict() for m in (nn.Conv2d(2, 3, 3), nn.Linear(4, 5), nn.RNN(2, 3),
                                         nn.LSTM(2, 3))]
    scratch.manual_seed(3)
    first = layers()
    scratch.manual_seed(3)
    again = layers()
    scratch.manual_seed(4)
    other = nn.Conv2d(2, 3, 3).state_dict()
    for a, b in zip(first, again):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert not np.array_equal(first[0]["weight"], other["weight"])
    seeded = nn.Linear(4, 5, generator=9).state_dict()
    from_generator = nn.Linear(4, 5, generator=np.random.default_rng(9)).state_dict()
    np.testing.assert_array_equal(seeded["weight"], from_generator["weight"])


def test_a_layer_built_alone_is_usable_and_not_all_zero():
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(np.float32)
    out = nn.Conv2d(1, 4, 3)(x)
    assert np.abs(out).max() > 0
    assert np.abs(nn.Linear(3, 2)(np.ones(3, np.float32))).max() > 0


@pytest.mark.parametrize("seed", [0, 7])
def test_build_draws_the_same_weights_as_before_initialisation_moved_into_the_layers(seed):
    """model.build used to create zero layers and then call init.default_init_ on each
    Conv2d/Linear in order with one generator; the layers now draw at construction from
    that generator. The weights are bit for bit the old ones (recorded runs rely on it)."""
    architecture = A.mnist_cnn()
    built = scratch_model.build(architecture, seed=seed).state_dict()
    rng = np.random.default_rng(seed)
    for name in ["conv1", "conv2", "fc1", "fc2"]:
        weight, bias = np.zeros_like(built[f"{name}.weight"]), np.zeros_like(built[f"{name}.bias"])
        init.default_init_(weight, bias, rng)
        np.testing.assert_array_equal(built[f"{name}.weight"], weight, err_msg=name)
        np.testing.assert_array_equal(built[f"{name}.bias"], bias, err_msg=name)


def test_apply_with_init_functions_reinitialises_a_model_as_in_torch_code():
    """The torch idiom, unchanged: ``model.apply(fn)`` with ``init.xavier_uniform_`` on
    each Linear's weight and ``init.zeros_`` on its bias."""
    def reset(m):
        if isinstance(m, nn.Linear):
            init.xavier_uniform_(m.weight, generator=0)
            init.zeros_(m.bias)
    model = scratch_model.build(A.mnist_cnn(), seed=0)
    before = model.conv1.weight.data.copy()
    model.apply(reset)
    for fc in (model.fc1, model.fc2):
        out_features, in_features = fc.weight.data.shape
        assert_within_bound(fc.weight.data, math.sqrt(6 / (in_features + out_features)))
        assert not fc.bias.data.any() and fc.weight.data.any()
    np.testing.assert_array_equal(model.conv1.weight.data, before)

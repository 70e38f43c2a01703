"""Bad input to scratch.nn gets an error naming the layer, what it expected and what it got.

Never a NumPy IndexError or broadcasting error from deep inside a layer:
``pytest.raises(ValueError)`` lets any other exception fail the test. The
drawn cases are invalid by construction (no filtering), and the last tests
check that the checks refuse nothing valid.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from scratch import arch as A
from scratch import model as scratch_model
from scratch import nn

f32 = np.float32


def zeros(*shape, dtype=f32):
    return np.zeros(shape, dtype)


def esc(value) -> str:
    return re.escape(str(value))


def backward_with(layer, x, dout):
    layer.forward(x)
    return layer.backward(dout)


# --------------------------------------------------------------------------- one example each
# (id, call that must fail, exception type, regex on the message)
CASES = [
    ("conv_2d_input", lambda: nn.Conv2d(1, 4, 3).forward(zeros(28, 28)), ValueError,
     r"Conv2d expects input of shape \(N, C, H, W\) or \(C, H, W\) \(3 or 4 dims\), got "
     r"shape \(28, 28\) \(2 dims\).*x\[None, None\]"),
    # (C, H, W) is an unbatched input, as in torch: (8, 28, 28) has 8 channels
    ("conv_missing_channel_axis", lambda: nn.Conv2d(1, 4, 3).forward(zeros(8, 28, 28)),
     ValueError, r"Conv2d expects 1 input channels on axis 0 \(in_channels=1\), got 8 in "
     r"input of shape \(8, 28, 28\).*x\[:, None\]"),
    ("conv_unbatched_channels_last", lambda: nn.Conv2d(3, 4, 3).forward(zeros(9, 9, 3)),
     ValueError, r"Conv2d expects 3 input channels on axis 0 .*got 9 .*x\.transpose\(2, 0, 1\)"),
    ("conv_flattened_images", lambda: nn.Conv2d(1, 4, 3).forward(zeros(5, 784)), ValueError,
     r"Conv2d .*got shape \(5, 784\).*x\.reshape\(-1, 1, 28, 28\)"),
    ("conv_in_channels", lambda: nn.Conv2d(3, 4, 3).forward(zeros(2, 1, 8, 8)), ValueError,
     r"Conv2d expects 3 input channels on axis 1 \(in_channels=3\), got 1 in input of "
     r"shape \(2, 1, 8, 8\)"),
    ("conv_channels_last", lambda: nn.Conv2d(3, 4, 3).forward(zeros(2, 8, 8, 3)), ValueError,
     r"Conv2d expects 3 input channels.*got 8.*x\.transpose\(0, 3, 1, 2\)"),
    ("conv_too_small", lambda: nn.Conv2d(1, 1, 5, padding=1, dilation=2).forward(
        zeros(1, 1, 6, 9)), ValueError,
     r"Conv2d: input of spatial size \(6, 9\) is too small for kernel_size=\(5, 5\), "
     r"dilation=\(2, 2\), padding=\(1, 1\)"),
    ("conv_zero_kernel", lambda: nn.Conv2d(1, 1, 0), ValueError,
     r"Conv2d: kernel_size must be positive, got 0"),
    ("conv_zero_stride", lambda: nn.Conv2d(1, 1, 3, stride=(1, 0)), ValueError,
     r"Conv2d: stride must be positive, got \(1, 0\)"),
    ("conv_stride_none", lambda: nn.Conv2d(1, 1, 3, stride=None), ValueError,
     r"Conv2d: stride must be an int or a pair of ints, got None"),
    ("conv_negative_padding", lambda: nn.Conv2d(1, 1, 3, padding=-1), ValueError,
     r"Conv2d: padding must be >= 0, got -1"),
    ("conv_zero_dilation", lambda: nn.Conv2d(1, 1, 3, dilation=0), ValueError,
     r"Conv2d: dilation must be positive, got 0"),
    ("conv_string_padding", lambda: nn.Conv2d(1, 1, 3, padding="full"), ValueError,
     r"Conv2d: invalid padding string 'full', should be one of 'same', 'valid'"),
    ("conv_groups_not_dividing", lambda: nn.Conv2d(4, 6, 3, groups=4), ValueError,
     r"Conv2d: groups=4 must divide both in_channels=4 and out_channels=6"),
    ("conv_zero_channels", lambda: nn.Conv2d(0, 1, 3), ValueError,
     r"Conv2d: in_channels must be a positive int, got 0"),
    ("conv_int_dtype_param", lambda: nn.Conv2d(1, 1, 3, dtype=np.int32), TypeError,
     r"Conv2d: dtype must be a floating-point type.*got int32"),
    ("conv_int_input", lambda: nn.Conv2d(1, 4, 3).forward(zeros(2, 1, 8, 8, dtype=np.uint8)),
     TypeError, r"Conv2d needs floating-point input \(its parameters are float32\), got dtype "
     r"uint8"),
    ("conv_float64_input", lambda: nn.Conv2d(1, 4, 3).forward(zeros(2, 1, 8, 8, dtype=float)),
     TypeError, r"Conv2d has float32 parameters but got input of dtype float64.*no hidden "
     r"upcasting"),
    ("linear_features", lambda: nn.Linear(784, 10).forward(zeros(8, 100)), ValueError,
     r"Linear expects 784 input features on axis 1 \(in_features=784\), got 100 in input "
     r"of shape \(8, 100\)"),
    # Linear takes (*, in_features) as torch does: the last axis must hold the features
    ("linear_unflattened", lambda: nn.Linear(12, 2).forward(zeros(8, 3, 2, 2)), ValueError,
     r"Linear expects 12 input features on axis 3 \(in_features=12\), got 2 in input of "
     r"shape \(8, 3, 2, 2\).*Flatten"),
    ("linear_0d", lambda: nn.Linear(5, 2).forward(zeros()), ValueError,
     r"Linear expects input of shape \(\*, in_features\) \(at least 1 dim\), got shape "
     r"\(\) \(0 dims\)"),
    ("linear_list_input", lambda: nn.Linear(2, 2).forward([[1.0, 2.0]]), TypeError,
     r"Linear expects input as a NumPy array, got list"),
    ("linear_int_into_float64", lambda: nn.Linear(2, 2, dtype=np.float64).forward(
        np.ones((3, 2), int)), TypeError, r"Linear needs floating-point input \(its parameters "
     r"are float64\), got dtype int64; convert with x\.astype\(np\.float64\)"),
    ("linear_float32_into_float64", lambda: nn.Linear(2, 2, dtype=np.float64).forward(
        zeros(3, 2)), TypeError, r"Linear has float64 parameters but got input of dtype float32"),
    ("max_pool_padding", lambda: nn.MaxPool2d(3, padding=2), ValueError,
     r"MaxPool2d: padding=2 must be at most half of kernel_size=3 \(torch's limit\)"),
    ("avg_pool_padding", lambda: nn.AvgPool2d((2, 4), padding=(1, 3)), ValueError,
     r"AvgPool2d: padding=\(1, 3\) must be at most half of kernel_size=\(2, 4\)"),
    ("max_pool_too_small", lambda: nn.MaxPool2d(3).forward(zeros(1, 1, 2, 5)), ValueError,
     r"MaxPool2d: input of spatial size \(2, 5\) is too small for kernel_size=\(3, 3\)"),
    ("max_pool_window_in_padding", lambda: nn.MaxPool2d(2, 1, 1, dilation=3).forward(
        zeros(1, 1, 2, 2)), ValueError, r"MaxPool2d: a pooling window .* lies entirely in the "
     r"padding"),
    ("max_pool_2d_input", lambda: nn.MaxPool2d(2).forward(zeros(4, 4)), ValueError,
     r"MaxPool2d expects input of shape \(N, C, H, W\) or \(C, H, W\) \(3 or 4 dims\), got "
     r"shape \(4, 4\)"),
    ("batch_norm_channels", lambda: nn.BatchNorm2d(3).forward(zeros(4, 5, 2, 2)), ValueError,
     r"BatchNorm2d expects 3 input channels on axis 1 \(num_features=3\), got 5"),
    ("batch_norm2d_ndim", lambda: nn.BatchNorm2d(3).forward(zeros(4, 3)), ValueError,
     r"BatchNorm2d expects input of shape \(N, C, H, W\) \(4 dims\), got shape \(4, 3\)"),
    ("batch_norm1d_ndim", lambda: nn.BatchNorm1d(3).forward(zeros(4, 3, 2, 2)), ValueError,
     r"BatchNorm1d expects input of shape \(N, C\) or \(N, C, L\) \(2 or 3 dims\)"),
    ("batch_norm_one_value", lambda: nn.BatchNorm1d(3).forward(zeros(1, 3)), ValueError,
     r"BatchNorm1d: Expected more than 1 value per channel when training, got input of "
     r"shape \(1, 3\)"),
    ("prelu_channels", lambda: nn.PReLU(3).forward(zeros(2, 4, 5)), ValueError,
     r"PReLU expects 3 input channels on axis 1 \(num_parameters=3\), got 4"),
    ("relu_bool", lambda: nn.ReLU().forward(np.ones((2, 2), bool)), TypeError,
     r"ReLU needs floating-point input, got dtype bool"),
    ("tanh_complex", lambda: nn.Tanh().forward(np.ones(3, complex)), TypeError,
     r"Tanh needs floating-point input, got dtype complex128"),
    ("flatten_1d", lambda: nn.Flatten().forward(zeros(784)), ValueError,
     r"Flatten expects input of shape \(N, \.\.\.\) \(at least 2 dims\), got shape \(784,\)"),
    ("leaky_relu_slope", lambda: nn.LeakyReLU("0.1"), TypeError,
     r"LeakyReLU: negative_slope must be a number, got '0.1'"),
    ("dout_shape", lambda: backward_with(nn.Linear(2, 3), zeros(4, 2), zeros(4, 2)), ValueError,
     r"Linear\.backward expects dout of shape \(4, 3\) \(the shape of its forward output\), "
     r"got \(4, 2\)"),
    ("dout_dtype", lambda: backward_with(nn.ReLU(), zeros(4, 2), zeros(4, 2, dtype=float)),
     TypeError, r"ReLU\.backward expects dout of dtype float32 .*got float64"),
    ("backward_before_forward", lambda: nn.MaxPool2d(2).backward(zeros(1, 1)), RuntimeError,
     r"MaxPool2d\.backward called before forward"),
    ("target_too_large", lambda: nn.CrossEntropyLoss().forward(zeros(3, 10),
                                                               np.array([0, 10, 2])),
     ValueError, r"CrossEntropyLoss: target class 10 is out of range for 10 classes "
     r"\(valid: 0 to 9\)"),
    ("target_negative", lambda: nn.CrossEntropyLoss().forward(zeros(3, 4), np.array([0, -1, 2])),
     ValueError, r"target class -1 is out of range for 4 classes"),
    ("target_float", lambda: nn.CrossEntropyLoss().forward(zeros(3, 4), np.array([0., 1., 2.])),
     TypeError, r"CrossEntropyLoss expects integer class indices as target, got dtype float64"),
    ("target_length", lambda: nn.CrossEntropyLoss().forward(zeros(3, 4), np.array([0, 1])),
     ValueError, r"CrossEntropyLoss expects target of shape \(3,\) .*batch size 3\).*got shape "
     r"\(2,\)"),
    ("loss_reduction", lambda: nn.CrossEntropyLoss(reduction="avg"), ValueError,
     r"CrossEntropyLoss: reduction must be one of 'mean', 'sum', 'none', got 'avg'"),
    ("loss_backward_before_forward", lambda: nn.CrossEntropyLoss().backward(), RuntimeError,
     r"CrossEntropyLoss\.backward called before forward"),
    ("sequential_list", lambda: nn.Sequential([nn.ReLU()]), TypeError,
     r"Sequential: layer '0' is a list, not a scratch.nn Module; pass the layers themselves"),
    ("sequential_name", lambda: nn.Sequential({"fc.1": nn.ReLU()}), KeyError,
     r"Sequential: a layer name must be a non-empty string without '\.', got 'fc\.1'"),
    ("sequential_index", lambda: nn.Sequential(nn.ReLU())[1], IndexError,
     r"index 1 is out of range for a Sequential of 1 layers"),
    ("parameter_assignment", lambda: setattr(nn.Linear(2, 1), "weight", zeros(1, 2)), TypeError,
     r"cannot assign 'numpy\.ndarray' as parameter 'weight' \(scratch\.nn\.Parameter or None "
     r"expected\)"),
    ("missing_attribute", lambda: nn.Linear(2, 1).weights, AttributeError,
     r"'Linear' object has no attribute 'weights'"),
    ("sequential_layer", lambda: nn.Sequential({"fc1": nn.Linear(4, 3), "fc2": nn.Linear(2, 1)})
     .forward(zeros(5, 4)), ValueError,
     r"^layer 'fc2' \(Linear\): Linear expects 2 input features .*got 3"),
    ("sequential_backward", lambda: backward_with(nn.Sequential({"fc": nn.Linear(4, 3)}),
                                                  zeros(5, 4), zeros(5, 4)), ValueError,
     r"^layer 'fc' \(Linear\): Linear\.backward expects dout of shape \(5, 3\)"),
]


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_gets_an_error_naming_layer_expected_and_got(call, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        call()
    assert type(info.value) is error
    assert str(info.value).count("\n") <= 1, "messages are one or two lines"


def test_sequential_keeps_the_type_and_traceback_of_the_layer_error():
    model = scratch_model.build(A.mnist_cnn())
    with pytest.raises(ValueError, match=r"^layer 'conv1' \(Conv2d\): Conv2d expects input "
                                         r"of shape \(N, C, H, W\) or \(C, H, W\) \(3 or 4 "
                                         r"dims\), got shape \(28, 28\) \(2 dims\)") as info:
        model.forward(zeros(28, 28))
    assert info.traceback[-1].name == "input_array"  # raised at the check, not re-created


def test_nested_sequential_names_every_level():
    model = nn.Sequential({"block": nn.Sequential({"fc": nn.Linear(3, 2)})})
    with pytest.raises(ValueError, match=r"^layer 'block' \(Sequential\): layer 'fc' "
                                         r"\(Linear\): Linear expects 3"):
        model.forward(zeros(1, 2))


def test_a_refused_dout_leaves_the_forward_cache_for_a_corrected_call():
    layer = nn.Linear(2, 3)
    layer.forward(zeros(4, 2))
    with pytest.raises(ValueError, match="expects dout of shape"):
        layer.backward(zeros(4, 2))
    assert layer.backward(zeros(4, 3)).shape == (4, 2)


def test_refused_batch_norm_input_leaves_its_batch_counter_alone():
    bn = nn.BatchNorm2d(3)
    with pytest.raises(ValueError):
        bn.forward(zeros(2, 4, 2, 2))
    assert int(bn.state_dict()["num_batches_tracked"]) == 0


# --------------------------------------------------------------------------- drawn bad inputs
def other_than(draw, value, low=1, high=4):
    """An int in [low, high + 1] different from ``value`` (valid by construction)."""
    other = draw(st.integers(low, high))
    return other if other < value else other + 1


@st.composite
def conv_with_wrong_channels(draw):
    case = draw(S.conv_cases())
    c = case.x.shape[1]
    layer_c = other_than(draw, c)
    layer = nn.Conv2d(layer_c, case.w.shape[0], case.w.shape[2:], case.stride, case.padding,
                      case.dilation, dtype=np.float64)
    return layer, case.x, layer_c, c


@given(conv_with_wrong_channels())
def test_drawn_conv2d_with_wrong_channel_count_names_both_counts(drawn):
    layer, x, layer_c, c = drawn
    with pytest.raises(ValueError, match=rf"^Conv2d expects {layer_c} input channels on axis 1 "
                                         rf"\(in_channels={layer_c}\), got {c} in input of "
                                         rf"shape {esc(x.shape)}"):
        layer.forward(x)


@given(ndim=st.sampled_from([0, 1, 2, 5]), data=st.data())
def test_drawn_conv2d_with_wrong_rank_names_both_ranks(ndim, data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    layer = nn.Conv2d(data.draw(st.integers(1, 3)), 2, data.draw(st.integers(1, 3)))
    with pytest.raises(ValueError, match=rf"^Conv2d expects input of shape \(N, C, H, W\) or "
                                         rf"\(C, H, W\) \(3 or 4 dims\), got shape "
                                         rf"{esc(shape)} \({ndim} dims?\)"):
        layer.forward(np.zeros(shape, f32))


@given(n=st.integers(1, 4), fin=st.integers(1, 6), data=st.data())
def test_drawn_linear_with_wrong_feature_count_names_both_counts(n, fin, data):
    got = other_than(data.draw, fin, high=6)
    with pytest.raises(ValueError, match=rf"^Linear expects {fin} input features on axis 1 "
                                         rf"\(in_features={fin}\), got {got}"):
        nn.Linear(fin, 2).forward(zeros(n, got))


@given(cls=st.sampled_from([nn.BatchNorm1d, nn.BatchNorm2d, nn.PReLU]),
       c=st.integers(2, 4), data=st.data())
def test_drawn_per_channel_layers_with_wrong_channel_count_name_both_counts(cls, c, data):
    got = other_than(data.draw, c, low=2)
    shape = (3, got) if cls is nn.BatchNorm1d else (3, got, 2, 2)
    with pytest.raises(ValueError, match=rf"^{cls.__name__} expects {c} input channels on "
                                         rf"axis 1 \(\w+={c}\), got {got}"):
        cls(c).forward(zeros(*shape))


@st.composite
def too_small_window(draw):
    """(kernel, padding, dilation, spatial size) where one axis is too small for the window."""
    k = draw(st.integers(2, 4))
    d = draw(st.integers(1, 3))
    span = d * (k - 1) + 1
    small = draw(st.integers(1, span - 1))
    p = draw(st.integers(0, min(k // 2, (span - small - 1) // 2)))
    axis = draw(st.integers(0, 1))
    size = [span + draw(st.integers(0, 3))] * 2
    size[axis] = small
    return k, p, d, tuple(size)


@given(too_small_window(), st.sampled_from(["Conv2d", "MaxPool2d", "AvgPool2d"]))
def test_drawn_input_too_small_for_the_window_names_size_kernel_dilation_padding(drawn, kind):
    k, p, d, size = drawn
    if kind == "AvgPool2d":  # no dilation: the same window with dilation 1 and one more tap
        k, d = d * (k - 1) + 1, 1
        p = min(p, k // 2)
    layer = {"Conv2d": lambda: nn.Conv2d(1, 1, k, padding=p, dilation=d),
             "MaxPool2d": lambda: nn.MaxPool2d(k, padding=p, dilation=d),
             "AvgPool2d": lambda: nn.AvgPool2d(k, padding=p)}[kind]()
    with pytest.raises(ValueError, match=rf"^{kind}: input of spatial size {esc(size)} is too "
                                         rf"small for kernel_size={esc((k, k))}, dilation="
                                         rf"{esc((d, d))}, padding={esc((p, p))}"):
        layer.forward(zeros(1, 1, *size))


# name -> (constructor taking a dtype, a valid input shape)
LAYERS = {
    "Conv2d": (lambda dt: nn.Conv2d(2, 3, 2, dtype=dt), (2, 2, 4, 3)),
    "Linear": (lambda dt: nn.Linear(3, 2, dtype=dt), (2, 3)),
    "BatchNorm1d": (lambda dt: nn.BatchNorm1d(3, dtype=dt), (4, 3)),
    "BatchNorm2d": (lambda dt: nn.BatchNorm2d(2, dtype=dt), (2, 2, 3, 3)),
    "PReLU": (lambda dt: nn.PReLU(2, dtype=dt), (2, 2, 3)),
    "MaxPool2d": (lambda dt: nn.MaxPool2d(2), (1, 2, 4, 4)),
    "AvgPool2d": (lambda dt: nn.AvgPool2d(2, padding=1), (1, 2, 3, 4)),
    "ReLU": (lambda dt: nn.ReLU(), (3, 2)),
    "LeakyReLU": (lambda dt: nn.LeakyReLU(0.1), (3, 2, 2)),
    "Sigmoid": (lambda dt: nn.Sigmoid(), (2,)),
    "Tanh": (lambda dt: nn.Tanh(), (2, 2)),
    "Flatten": (lambda dt: nn.Flatten(), (2, 3, 2)),
    "GELU": (lambda dt: nn.GELU(), (2, 3)),
    "ELU": (lambda dt: nn.ELU(), (3,)),
    "SiLU": (lambda dt: nn.SiLU(), (2, 2)),
    "Softmax": (lambda dt: nn.Softmax(1), (2, 3)),
    "LogSoftmax": (lambda dt: nn.LogSoftmax(-1), (2, 3, 2)),
    "Dropout": (lambda dt: nn.Dropout(0.5, generator=0), (4, 3)),
    "Dropout2d": (lambda dt: nn.Dropout2d(0.5, generator=0), (2, 3, 2, 2)),
    "AdaptiveAvgPool2d": (lambda dt: nn.AdaptiveAvgPool2d((2, None)), (1, 2, 3, 4)),
    "AdaptiveMaxPool2d": (lambda dt: nn.AdaptiveMaxPool2d(2), (2, 3, 3)),
}
WITH_PARAMS = ["Conv2d", "Linear", "BatchNorm1d", "BatchNorm2d", "PReLU"]
NOT_FLOAT = st.sampled_from([np.bool_, np.int8, np.int32, np.int64, np.uint8, np.complex64,
                             np.complex128])


@given(name=st.sampled_from(sorted(LAYERS)), dtype=NOT_FLOAT)
def test_drawn_non_float_input_is_a_type_error_naming_layer_and_dtype(name, dtype):
    make, shape = LAYERS[name]
    params = r" \(its parameters are float32\)" if name in WITH_PARAMS else ""
    with pytest.raises(TypeError, match=rf"^{name} needs floating-point input{params}, got "
                                        rf"dtype {np.dtype(dtype)}"):
        make(f32).forward(np.zeros(shape, dtype))


@given(name=st.sampled_from(WITH_PARAMS),
       dtypes=st.permutations([np.float32, np.float64]).map(tuple))
def test_drawn_float_dtype_other_than_the_parameters_names_both(name, dtypes):
    layer_dtype, x_dtype = map(np.dtype, dtypes)
    make, shape = LAYERS[name]
    with pytest.raises(TypeError, match=rf"^{name} has {layer_dtype} parameters but got input "
                                        rf"of dtype {x_dtype}"):
        make(layer_dtype).forward(np.zeros(shape, x_dtype))


@st.composite
def other_shape(draw, shape):
    """A shape different from ``shape``: one axis resized, one axis dropped or one added."""
    how = draw(st.sampled_from(["resize", "drop", "add"] if shape else ["add"]))
    axis = draw(st.integers(0, max(len(shape) - 1, 0)))
    if how == "resize":
        return shape[:axis] + (shape[axis] + draw(st.integers(1, 2)),) + shape[axis + 1:]
    if how == "drop":
        return shape[:axis] + shape[axis + 1:]
    return shape[:axis] + (draw(st.integers(1, 2)),) + shape[axis:]


@given(name=st.sampled_from(sorted(LAYERS)), data=st.data())
def test_drawn_dout_of_the_wrong_shape_names_the_forward_output_shape(name, data):
    make, shape = LAYERS[name]
    layer = make(np.dtype(np.float64))
    out = layer.forward(np.random.default_rng(0).standard_normal(shape))
    bad = data.draw(other_shape(out.shape))
    with pytest.raises(ValueError, match=rf"^{name}\.backward expects dout of shape "
                                         rf"{esc(out.shape)} .*got {esc(bad)}"):
        layer.backward(np.zeros(bad))


@given(n=st.integers(1, 5), k=st.integers(1, 6), data=st.data())
def test_drawn_targets_out_of_range_name_the_class_and_the_range(n, k, data):
    target = np.array(data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    bad = data.draw(st.one_of(st.integers(-5, -1), st.integers(k, k + 5)))
    target[data.draw(st.integers(0, n - 1))] = bad
    with pytest.raises(ValueError, match=rf"^CrossEntropyLoss: target class {bad} is out of "
                                         rf"range for {k} classes \(valid: 0 to {k - 1}\)"):
        nn.CrossEntropyLoss().forward(zeros(n, k), target)


@given(architecture=S.architectures(), data=st.data())
def test_drawn_model_given_wrong_channels_names_the_first_layer(architecture, data):
    c, h, w = architecture.input_shape
    got = other_than(data.draw, c)
    model = scratch_model.build(architecture, dtype=np.float64)
    with pytest.raises(ValueError, match=rf"^layer 'conv' \(Conv2d\): Conv2d expects {c} input "
                                         rf"channels .*got {got}"):
        model.forward(np.zeros((2, got, h, w)))


# --------------------------------------------------------------------------- valid input passes
@given(S.conv_cases())
def test_every_valid_conv2d_input_is_accepted(case):
    f, c, kh, kw = case.w.shape
    layer = nn.Conv2d(c, f, (kh, kw), case.stride, case.padding, case.dilation,
                      bias=case.b is not None, dtype=np.float64)
    out = layer.forward(case.x)
    assert layer.backward(np.ones_like(out)).shape == case.x.shape


@given(S.pool_cases(), st.booleans())
def test_every_valid_pooling_input_is_accepted(case, average):
    if average:  # AvgPool2d has no dilation
        layer = nn.AvgPool2d(case.kernel_size, case.stride, case.padding, case.ceil_mode)
    else:
        layer = nn.MaxPool2d(case.kernel_size, case.stride, case.padding, case.dilation,
                             ceil_mode=case.ceil_mode)
    out = layer.forward(case.x)
    assert layer.backward(np.ones_like(out)).shape == case.x.shape


@given(name=st.sampled_from(sorted(LAYERS)), dtype=st.sampled_from([np.float32, np.float64]))
def test_every_layer_accepts_valid_input_in_its_own_dtype(name, dtype):
    make, shape = LAYERS[name]
    layer = make(np.dtype(dtype))
    out = layer.forward(np.ones(shape, dtype))
    assert out.dtype == dtype
    assert layer.backward(np.ones_like(out)).shape == shape


@given(S.classification_cases())
def test_every_valid_target_is_accepted(case):
    logits, target, _ = case
    loss_fn = nn.CrossEntropyLoss()
    loss_fn.forward(logits, target.astype(np.uint8))
    assert loss_fn.backward().shape == logits.shape

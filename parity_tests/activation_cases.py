"""The activations of ``scratch.functional.{piecewise,smooth}_activation``: for each,
its drawn constructor arguments (torch's positional order), the points where it
bends (drawn into the input on purpose, so the gradient exactly at a kink is
compared with torch's), the scratch functional pair and the torch function.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch.nn.functional as TF
from hypothesis import strategies as st

from parity_tests.strategies import INPUT_VALUES, SEEDS, array
from scratch import functional as F


@dataclass(frozen=True)
class Activation:
    cls: str                          # the module's name in torch.nn and scratch.nn
    forward: object                   # scratch forward(x, *args) -> (out, cache)
    backward: object
    torch_fn: object                  # torch function(input, *args)
    args: object = st.just(())        # strategy of the constructor's positional arguments
    kinks: object = lambda *args: ()  # the bends for those arguments
    inplace: bool = False             # torch's constructor takes inplace (last)
    min_dims: int = 0
    dim: bool = False                 # the one argument is an axis (drawn per shape)


def _hardtanh_args():
    return st.tuples(st.sampled_from([-1.0, -2.0, 0.0, -0.5]),
                     st.sampled_from([0.5, 1.0, 2.0, 3.0])).map(lambda a: (a[0], a[0] + a[1]))


ACTIVATIONS = {
    "hardtanh": Activation("Hardtanh", F.hardtanh_forward, F.hardtanh_backward, TF.hardtanh,
                           _hardtanh_args(), lambda lo, hi: (lo, hi), inplace=True),
    "relu6": Activation("ReLU6", F.relu6_forward, F.relu6_backward, TF.relu6,
                        kinks=lambda: (0.0, 6.0), inplace=True),
    "threshold": Activation("Threshold", F.threshold_forward, F.threshold_backward,
                            TF.threshold, st.tuples(st.sampled_from([0.0, 1.0, -0.5]),
                                                    st.sampled_from([0.0, -3.0, 20.0])),
                            lambda t, v: (t,), inplace=True),
    "hardshrink": Activation("Hardshrink", F.hardshrink_forward, F.hardshrink_backward,
                             TF.hardshrink, st.tuples(st.sampled_from([0.5, 1.0, 0.0, -0.5])),
                             lambda lam: (lam, -lam)),
    "softshrink": Activation("Softshrink", F.softshrink_forward, F.softshrink_backward,
                             TF.softshrink, st.tuples(st.sampled_from([0.5, 1.0, 0.0, 2.0])),
                             lambda lam: (lam, -lam)),
    "hardsigmoid": Activation("Hardsigmoid", F.hardsigmoid_forward, F.hardsigmoid_backward,
                              TF.hardsigmoid, kinks=lambda: (-3.0, 3.0), inplace=True),
    "hardswish": Activation("Hardswish", F.hardswish_forward, F.hardswish_backward,
                            TF.hardswish, kinks=lambda: (-3.0, 3.0), inplace=True),
    "softplus": Activation("Softplus", F.softplus_forward, F.softplus_backward, TF.softplus,
                           st.tuples(st.sampled_from([1.0, 2.0, 0.5]),
                                     st.sampled_from([20.0, 1.0, 2.0])),
                           lambda beta, threshold: (threshold / beta,)),
    "mish": Activation("Mish", F.mish_forward, F.mish_backward, TF.mish, inplace=True),
    "log_sigmoid": Activation("LogSigmoid", F.log_sigmoid_forward, F.log_sigmoid_backward,
                              TF.logsigmoid),
    "selu": Activation("SELU", F.selu_forward, F.selu_backward, TF.selu, inplace=True),
    "celu": Activation("CELU", F.celu_forward, F.celu_backward, TF.celu,
                       st.tuples(st.sampled_from([1.0, 0.5, 2.0])), inplace=True),
    "softsign": Activation("Softsign", F.softsign_forward, F.softsign_backward, TF.softsign),
    "tanhshrink": Activation("Tanhshrink", F.tanhshrink_forward, F.tanhshrink_backward,
                             TF.tanhshrink),
    "glu": Activation("GLU", F.glu_forward, F.glu_backward, TF.glu, min_dims=1, dim=True),
    "softmin": Activation("Softmin", F.softmin_forward, F.softmin_backward, TF.softmin,
                          dim=True),
    "softmax2d": Activation("Softmax2d", F.softmax2d_forward, F.softmax2d_backward,
                            lambda t: TF.softmax(t, -3), min_dims=3),
}


@dataclass
class ActivationCase:
    name: str
    x: np.ndarray
    args: tuple        # positional arguments of the functional (and of the constructor,
    seed: int          # with ``inplace`` appended where torch has it)


@st.composite
def activation_cases(draw, name, kinks=True):
    """Arguments first, then a shape that suits the layer (GLU: an even size along the
    drawn dim; Softmax2d: 3 or 4 dims), then values with the kinks mixed in."""
    spec = ACTIVATIONS[name]
    args = draw(spec.args, label="args")
    ndim = draw(st.integers(spec.min_dims, 3 if name != "softmax2d" else 4), label="ndim")
    shape = [draw(st.integers(1, 3)) for _ in range(ndim)]
    if spec.dim:
        dim = draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1), label="dim")
        if name == "glu":
            shape[dim] = 2 * draw(st.integers(1, 2))
        args = (dim,)
    points = spec.kinks(*args) if not spec.dim else ()
    values = st.one_of(INPUT_VALUES, st.sampled_from(points)) if points and kinks else \
        INPUT_VALUES
    return ActivationCase(name, draw(array(tuple(shape), values)), args, draw(SEEDS))

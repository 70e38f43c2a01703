"""Fully connected layer ``Linear``, and ``Identity`` (torch keeps both in linear.py)."""
from __future__ import annotations

from scratch import checks, init
from scratch import functional as F
from scratch import random as R
from scratch.nn.module import Module, Parameter


class Linear(Module):
    """``x @ weight.T + bias``: ``weight`` (out, in), ``bias`` (out,).

    torch's arguments in torch's order; ``device``: None or ``'cpu'``; ``dtype``:
    None means float32. Weights are drawn at construction as torch's
    ``reset_parameters`` draws them, from the keyword-only ``generator`` (a
    NumPy Generator or an int seed; default: the one :func:`scratch.manual_seed`
    seeds).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None, *,
                 generator=None):
        super().__init__()
        self.in_features = checks.count(self, "in_features", in_features)
        self.out_features = checks.count(self, "out_features", out_features)
        bias = checks.flag(self, "bias", bias)
        checks.device(self, device)
        dtype = checks.param_dtype(self, dtype)
        rng = R.generator(type(self).__name__, generator)
        self._params["weight"] = Parameter(init.empty((out_features, in_features), dtype))
        self._params["bias"] = Parameter(init.empty((out_features,), dtype)) if bias else None
        self.reset_parameters(rng)

    def reset_parameters(self, generator=None):
        """torch's: weight U(-1/sqrt(in_features), 1/sqrt(in_features)), bias the same."""
        bias = self._params.get("bias")
        init.default_init_(self._params["weight"].data, bias.data if bias else None,
                           R.generator(type(self).__name__, generator))

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self._params.get('bias') is not None}")

    def forward(self, x):
        """x: (*, in_features) of the weight's dtype (1-D included) -> (*, out_features)."""
        w, b = self._params["weight"].data, self._params.get("bias")
        checks.input_array(self, x, "(*, in_features)", min_ndim=1, dtype=w.dtype,
                           channels=self.in_features)
        checks.channels(self, x, self.in_features, "in_features", "input features", axis=-1)
        return self._keep(*F.linear_forward(x, w, b.data if b else None))

    def backward(self, dout, input_grad=True):
        dx, dw, db = F.linear_backward(dout, self._take_cache(dout), input_grad)
        self._params["weight"].grad = dw
        if db is not None:
            self._params["bias"].grad = db
        return dx


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under torch's name for MultiheadAttention's ``out_proj`` (it prints so)."""


class Identity(Module):
    """Passes its input through; any constructor arguments are ignored, as torch's
    ``Identity`` (a placeholder, e.g. for a removed layer). ``backward`` returns ``dout``."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        checks.input_array(self, x)
        return self._keep(x, True)

    def backward(self, dout, input_grad=True):
        self._take_cache(dout)
        return dout

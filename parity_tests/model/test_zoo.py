"""Every named architecture, built with every one of its arguments drawn away from its
default: the computed output shape has the drawn number of classes (a reconstruction
network: the input's shape), the scratch model really produces it, and the torch mirror
(same weights) gives the same logits.

The arguments are read from each builder's signature; an argument this file has no
strategy for fails the test, so a new one cannot slip in undrawn.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import assert_parity
from reference import convert
from reference import model as reference_model
from scratch import arch as A
from scratch import model as scratch_model

# argument name -> strategy (small sizes: whole networks on a few images)
ARGUMENTS = {
    "num_classes": st.integers(2, 12),
    "hidden": st.integers(3, 12),
    "channels": None,             # one width per stage: as many as the default has
    "cell": st.sampled_from(["rnn", "lstm", "gru"]),
    "embed_dim": st.sampled_from([4, 8, 12]),      # every one divisible by every heads
    "heads": st.sampled_from([1, 2, 4]),
    "depth": st.integers(1, 2),
    "mlp_dim": st.integers(3, 12),
    "patch": st.integers(4, 28),
    "loss": st.sampled_from(sorted(A.RECONSTRUCTION_LOSSES)),
}


def _strategy(name, param):
    if ARGUMENTS[name] is None:               # channels: as many widths as the default has
        return st.tuples(*[st.integers(1, 4)] * len(param.default))
    return ARGUMENTS[name]


@pytest.mark.parametrize("name", sorted(A.ARCHITECTURES))
@S.fewer_examples(1 / 3)   # whole networks
@given(data=st.data(), seed=st.integers(0, 2**16))
def test_every_named_architecture_argument_reaches_both_models(name, data, seed):
    builder = A.ARCHITECTURES[name]
    params = inspect.signature(builder).parameters
    unknown = sorted(set(params) - set(ARGUMENTS))
    assert not unknown, f"{name}: no strategy draws argument(s) {unknown}: add them to ARGUMENTS"
    kwargs = {p: data.draw(_strategy(p, params[p]), label=p) for p in params}
    architecture = builder(**kwargs)
    classes = kwargs.get("num_classes", 10)
    out_shape = ((classes,) if architecture.task == A.Classification()   # else: the input's
                 else tuple(architecture.input_shape))
    assert architecture.shapes()[-1] == out_shape
    model = scratch_model.build(architecture, seed=seed, dtype=np.float64)
    mirror = reference_model.build(architecture, dtype=torch.float64)
    convert.load_numpy_state(mirror, model.state_dict())
    model.eval()
    mirror.eval()
    x = np.random.default_rng(seed).standard_normal((2, *architecture.input_shape))
    logits = model.forward(x)
    assert logits.shape == (2, *out_shape)
    with torch.no_grad():
        t_logits = mirror(torch.from_numpy(x))
    assert_parity({"logits": logits}, {"logits": t_logits}, np.float64)

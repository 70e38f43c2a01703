"""The shapes an Architecture computes are the shapes its layers really produce.

``Architecture.shapes()`` sizes every Linear and per-channel layer of both models
(the torch mirror reads it too), so a wrong formula there makes both sides wrong
together and every parity test still passes. Here the computed shapes are compared
with the shapes observed layer by layer in the scratch forward and, through forward
hooks, in the torch mirror's; and the two models agree on logits and gradients.
Architectures are drawn deep and small (down to one pixel), with every conv and
pooling option, so ceil_mode, dilation and stride corners reach the shape formula.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, note
from hypothesis import strategies as st

from parity_tests import strategies as S
from parity_tests.helpers import dtypes
from parity_tests.model_helpers import batch_for, compare_step, comparison_budget, twins
from scratch import arch as A


def scratch_shapes(model, x):
    shapes = [x.shape[1:]]
    for layer in model.layers.values():
        x = layer.forward(x)
        shapes.append(x.shape[1:])
    return shapes


def torch_shapes(model, x):
    shapes = [tuple(x.shape[1:])]
    hooks = [m.register_forward_hook(lambda m, i, out: shapes.append(tuple(out.shape[1:])))
             for m in model.children()]
    with torch.no_grad():
        model(torch.from_numpy(x))
    for h in hooks:
        h.remove()
    return shapes


@dtypes
@given(architecture=S.deep_architectures(), seed=S.SEEDS, n=st.integers(2, 3))
def test_computed_shapes_equal_real_forward_shapes_of_both_models(architecture, seed, n,
                                                                   dtype):
    computed = architecture.shapes()
    note(f"computed shapes {computed}")
    scratch, torch_model = twins(architecture, dtype, seed)
    x, y = batch_for(architecture, n, seed, dtype)
    assert [tuple(s) for s in scratch_shapes(scratch, x)] == computed
    assert torch_shapes(torch_model, x) == computed
    k = comparison_budget(architecture, torch_model, x)
    compare_step(scratch, torch_model, x, y, dtype, k, train=True)


@pytest.mark.parametrize("family", sorted(S.SPEC_FAMILIES))
@given(data=st.data(), seed=S.SEEDS)
def test_computed_shape_of_every_layer_spec_equals_its_real_output(family, data, seed):
    """One layer spec of each family with every field drawn (conv and pooling geometry
    aimed at the corners: ceil_mode overhangs and drops, default stride, one output;
    adaptive pooling to sizes with None on non-square maps), then a Linear sized from the
    computed shape: computed shapes equal the real ones on both sides."""
    spec, in_shape = data.draw(S.SPEC_FAMILIES[family], label="spec")
    architecture = A.Architecture(in_shape, (("layer", spec), ("flatten", A.Flatten()),
                                             ("fc", A.Linear(2))))
    computed = architecture.shapes()
    note(f"computed shapes {computed}")
    scratch, torch_model = twins(architecture, np.float64, seed)
    x, _ = batch_for(architecture, 2, seed, np.float64)
    assert torch_shapes(torch_model, x) == computed
    assert [tuple(s) for s in scratch_shapes(scratch, x)] == computed


def test_one_pixel_input_through_every_window_layer():
    spec = A.Architecture((1, 1, 1), (("conv", A.Conv2d(2, 1)), ("pool", A.MaxPool2d(1)),
                                      ("avg", A.AvgPool2d(1, ceil_mode=True)),
                                      ("flatten", A.Flatten()), ("fc", A.Linear(3))))
    assert spec.shapes() == [(1, 1, 1), (2, 1, 1), (2, 1, 1), (2, 1, 1), (2,), (3,)]
    scratch, torch_model = twins(spec, np.float64)
    x = np.ones((2, 1, 1, 1))
    assert [tuple(s) for s in scratch_shapes(scratch, x)] == spec.shapes()
    assert torch_shapes(torch_model, x) == spec.shapes()

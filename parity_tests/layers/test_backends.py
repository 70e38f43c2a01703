"""The fast-path switch, ``scratch.backends.fast``: each way to set it is honoured, by every
fast path, and importing scratch changes no process setting."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from scratch import functional as F
from scratch import nn, parallel
from scratch.backends import fast
from scratch.backends.fast import activation as fast_activation
from scratch.backends.fast import conv as fast_conv
from scratch.backends.fast import conv_transpose as fast_conv_transpose
from scratch.backends.fast import linear as fast_linear
from scratch.backends.fast import loss as fast_loss
from scratch.backends.fast import normalization as fast_norm
from scratch.backends.fast import pooling as fast_pooling
from scratch.functional.conv import Conv2dCache
from scratch.functional.pooling import MaxPool2dCache
from scratch.nn.container import run_order


@pytest.fixture
def two_threads(monkeypatch):
    before = parallel.get_num_threads()
    for name in ("MIN_ELEMENTS", "MIN_MACS", "MIN_TASK_MACS"):
        monkeypatch.setattr(parallel, name, 0)
    parallel.set_num_threads(2)
    yield
    parallel.set_num_threads(before)
    parallel.restore_blas_threads()


def _paths_taken():
    """Which path each layer took on inputs every fast path accepts."""
    x = np.random.default_rng(0).standard_normal((4, 2, 6, 6))
    _, conv = F.conv2d_forward(x, np.ones((3, 2, 3, 3)), None, 1, 1)
    _, pool = F.max_pool2d_forward(x, 2)
    seq = nn.Sequential({"relu": nn.ReLU(), "pool": nn.MaxPool2d(2)})
    seq.relu_after_max_pool = True
    return {"conv": isinstance(conv, fast_conv.Stride1Cache),
            "pool": isinstance(pool, fast_pooling.Pool2x2Cache),
            "relu": fast_activation.relu_forward(x) is not None,
            "linear": fast_linear.matmul(x.reshape(4, -1), np.ones((72, 2))) is not None,
            "relu_after_pool": [n for n, _ in run_order(seq.layers, True)] == ["pool", "relu"],
            "group_norm": isinstance(F.group_norm_forward(x, 2)[1], fast_norm.GroupNormFastCache),
            "layer_norm": isinstance(F.layer_norm_forward(x, (6,))[1],
                                     fast_norm.LayerNormFastCache),
            "smooth_l1": fast_loss.smooth_l1_loss(x, 1.0, "mean") is not None,
            "silu": fast_activation.silu_forward(x) is not None,
            "hardswish": isinstance(F.hardswish_forward(x)[1], fast_activation.HardswishFastCache),
            "elu": isinstance(F.elu_forward(x)[1], fast_activation.ELUFastCache),
            "gelu_float32": isinstance(F.gelu_forward(x.astype(np.float32))[1],
                                       fast_activation.GELUFastCache),
            "silu_backward": fast_activation.silu_backward(
                x, F.silu_forward(x)[1]) is not None,
            "adaptive_max_pool": isinstance(F.adaptive_max_pool2d_forward(x, 3)[1],
                                            fast_pooling.AdaptiveTileCache),
            "conv_transpose": fast_conv_transpose.conv_transpose2d_forward(
                x, np.ones((2, 3, 3, 3)), None, (1, 1), (0, 0), (1, 1), 1, (8, 8)) is not None}


def test_each_fast_path_runs_when_on_and_none_when_off(two_threads):
    with fast.flags(enabled=True):
        assert all(_paths_taken().values()), _paths_taken()
    with fast.flags(enabled=False):
        assert not any(_paths_taken().values()), _paths_taken()


def test_off_the_layers_keep_the_plain_caches():
    x = np.random.default_rng(0).standard_normal((4, 2, 6, 6))
    with fast.flags(enabled=False):
        assert type(F.conv2d_forward(x, np.ones((3, 2, 3, 3)), None, 1, 1)[1]) is Conv2dCache
        assert type(F.max_pool2d_forward(x, 2)[1]) is MaxPool2dCache


def test_setting_the_attribute_is_the_same_switch_and_flags_restores_it():
    before = fast.enabled
    try:
        fast.enabled = False
        assert fast.is_enabled() is False and fast.enabled is False
        with fast.flags(enabled=True):
            assert fast.enabled is True
        assert fast.enabled is False
    finally:
        fast.enabled = before


def test_flags_restores_the_switch_when_the_block_raises():
    before = fast.enabled
    with pytest.raises(KeyError):
        with fast.flags(enabled=not before):
            raise KeyError("inside")
    assert fast.enabled is before


@pytest.mark.parametrize("bad", [0, 1, "off", None])
def test_the_switch_takes_only_a_bool(bad):
    before = fast.enabled
    with pytest.raises(TypeError, match="must be True or False"):
        fast.enabled = bad
    if bad is not None:                    # flags(None) would mean "leave it"
        with pytest.raises(TypeError, match="must be True or False"):
            with fast.flags(enabled=bad):
                pass
    assert fast.enabled is before


def test_a_backward_follows_its_forwards_cache_whatever_the_switch_says_by_then():
    x = np.random.default_rng(0).standard_normal((4, 2, 6, 6))
    w = np.random.default_rng(1).standard_normal((3, 2, 3, 3))
    with fast.flags(enabled=True):
        out, cache = F.conv2d_forward(x, w, None, 1, 1)
        expected = F.conv2d_backward(out, cache)
    with fast.flags(enabled=False):
        for a, b in zip(F.conv2d_backward(out, cache), expected):
            assert (a is None and b is None) or a.tobytes() == b.tobytes()


def _run_python(code, **env):
    full = {**os.environ, **env}
    if "SCRATCH_FAST_PATHS" in env and env["SCRATCH_FAST_PATHS"] is None:
        full.pop("SCRATCH_FAST_PATHS")
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("value, expected", [(None, "True"), ("1", "True"), ("on", "True"),
                                             ("0", "False"), ("false", "False"),
                                             ("OFF", "False")])
def test_the_environment_variable_sets_the_default(value, expected):
    done = _run_python("import scratch.backends.fast as f; print(f.enabled)",
                       SCRATCH_FAST_PATHS=value)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_an_unreadable_environment_variable_is_refused_naming_it():
    done = _run_python("import scratch.backends.fast", SCRATCH_FAST_PATHS="maybe")
    assert done.returncode != 0
    assert "SCRATCH_FAST_PATHS='maybe'" in done.stderr and "expected one of" in done.stderr


def test_importing_scratch_changes_no_process_setting():
    """No BLAS thread count, no scratch thread, no NumPy error state, no environment
    variable changed by importing every scratch package."""
    code = """
import os, numpy as np
from threadpoolctl import threadpool_info
blas = lambda: [p["num_threads"] for p in threadpool_info()]
env, before, err = dict(os.environ), blas(), np.geterr()
import scratch, scratch.backends, scratch.functional, scratch.nn, scratch.model
from scratch import parallel
assert blas() == before, (blas(), before)
assert np.geterr() == err and dict(os.environ) == env
assert parallel.get_num_threads() == 1 and parallel._pool is None
print("ok")
"""
    done = _run_python(code)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr

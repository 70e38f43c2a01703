"""The speed bench runs end to end and writes what the README says it writes.

Timings themselves are never asserted (speed is a benchmark's output, not a
test's); this only checks the report's shape, at the smallest settings. ``ci`` runs the
bench at one thread without its competing load or memory probe; the whole report (two
thread counts, 20 s of load) runs under the ``thorough`` profile.
"""
from __future__ import annotations

import json

import pytest

from parity_tests.profiles import thorough_only
from scratch import parallel
from scratch.backends import fast
from scripts import bench
from scripts.lib import layer_bench


def test_bench_writes_ratio_ceiling_fraction_and_layers_at_one_thread(tmp_path, capsys):
    before = parallel.get_num_threads()
    try:
        assert bench.main(["--threads", "1", "--rounds", "1", "--steps", "1", "--repeats", "1",
                           "--no-load", "--no-memory", "--out-dir", str(tmp_path)]) == 0
    finally:
        parallel.set_num_threads(before)
        parallel.restore_blas_threads()
    (run,) = tmp_path.iterdir()
    row = json.loads((run / "bench.json").read_text())["threads"]["1"]
    assert row["ratio_scratch_over_torch"] > 0
    assert row["scratch_fraction_of_matmul_ceiling"] > 0
    layers = [r["layer"] for r in row["layers"]]
    assert (layers.index("pool1") < layers.index("relu1")) == fast.is_enabled()
    out = capsys.readouterr().out
    assert "ratio" in out
    assert ("* scratch runs this ReLU after the max pool" in out) == fast.is_enabled()


@thorough_only("adds a second thread count and 20 s of competing load to the run ci does: "
               "timings of the same steps, with no result of scratch's to check")
def test_bench_writes_ratios_ceiling_fractions_layers_and_load_per_thread_count(
        tmp_path, capsys):
    before = parallel.get_num_threads()
    try:
        assert bench.main(["--threads", "1,2", "--rounds", "2", "--steps", "1",
                           "--repeats", "1", "--load-seconds", "20", "--no-memory",
                           "--layer-rounds", "1", "--layer-rows", "gelu,mse",
                           "--out-dir", str(tmp_path)]) == 0
    finally:
        parallel.set_num_threads(before)
        parallel.restore_blas_threads()
    (run,) = tmp_path.iterdir()
    report = json.loads((run / "bench.json").read_text())
    for n in ("1", "2"):
        row = report["threads"][n]
        assert row["ratio_scratch_over_torch"] > 0
        assert row["scratch_fraction_of_matmul_ceiling"] > 0
        layers = [r["layer"] for r in row["layers"]]
        # scratch's run order: the builder's ReLU-after-pool, unless the fast paths are off
        reordered = fast.is_enabled()
        assert (layers.index("pool1") < layers.index("relu1")) == reordered
        relu1 = row["layers"][layers.index("relu1")]
        assert (relu1["input_shape"] != relu1["torch_input_shape"]) == reordered
        load = report["load"][n]
        assert {"scratch_slowdown", "torch_slowdown", "scratch_slowdown_per_round",
                "scratch_no_worse_than_torch"} <= set(load)
        single = row["single_layers"]
        assert [r["layer"] for r in single] == ["gelu", "mse"]
        for r in single:
            assert r["ratio"]["median"] > 0 and r["scratch_cpu_ms"]["median"] > 0
            assert r["over_2x"] == (r["ratio"]["median"] > 2)
    out = capsys.readouterr().out
    assert "ratio" in out
    assert "over 2x torch:" in out
    assert ("* scratch runs this ReLU after the max pool" in out) == fast.is_enabled()


def test_every_row_of_the_single_layer_table_runs_both_sides_once():
    """Each spec builds on both sides with the same arguments and runs forward and
    backward (a spec that either side refuses fails here, not in a long bench run)."""
    for spec in layer_bench.LAYERS:
        for step in layer_bench.step_fns(spec):
            step()


def test_bench_refuses_an_unknown_layer_row():
    with pytest.raises(SystemExit):
        bench.parse_args(["--layer-rows", "gelu,nosuchlayer"])

"""torch's module protocol: drawn trees of modules written as scratch subclasses and as
torch subclasses from one description (``parity_tests/module_trees.py``) have the same
state_dict, walks, repr and load_state_dict behaviour; registration refuses what torch
refuses, with torch's error type and wording; ModuleList and ModuleDict behave as
torch's under drawn sequences of operations."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from parity_tests import module_trees as T
from scratch import nn

WALKS = ({}, {"prefix": "net"}, {"recurse": False}, {"remove_duplicate": False})


def _names(pairs):
    return [name for name, _ in pairs]


@given(tree=T.trees())
def test_drawn_tree_state_dict_keys_shapes_dtypes_and_order_match_torch(tree):
    ours, theirs = T.twins(tree)
    assert T.shapes_of(ours.state_dict()) == T.shapes_of(theirs.state_dict())


@given(tree=T.trees())
def test_drawn_tree_named_parameters_and_buffers_match_torch(tree):
    """Same names in the same order, each shared or tied member once (unless
    remove_duplicate=False), empty slots and non-persistent buffers as torch has them."""
    ours, theirs = T.twins(tree)
    for kwargs in WALKS:
        assert _names(ours.named_parameters(**kwargs)) == _names(
            theirs.named_parameters(**kwargs)), kwargs
        assert _names(ours.named_buffers(**kwargs)) == _names(
            theirs.named_buffers(**kwargs)), kwargs
    assert [p.data.shape for p in ours.parameters()] == [
        tuple(p.shape) for p in theirs.parameters()]


@given(tree=T.trees())
def test_drawn_tree_named_modules_and_children_match_torch(tree):
    ours, theirs = T.twins(tree)
    for kwargs in ({}, {"prefix": "net"}, {"remove_duplicate": False}):
        assert [(n, type(m).__name__) for n, m in ours.named_modules(**kwargs)] == [
            (n, type(m).__name__) for n, m in theirs.named_modules(**kwargs)], kwargs
    assert _names(ours.named_children()) == _names(theirs.named_children())
    assert [type(m).__name__ for m in ours.children()] == [
        type(m).__name__ for m in theirs.children()]


@given(tree=T.trees())
def test_drawn_tree_repr_matches_torch(tree):
    ours, theirs = T.twins(tree)
    assert repr(ours) == repr(theirs)


@given(tree=T.trees())
def test_drawn_tree_train_eval_apply_and_zero_grad_reach_every_module_as_torch(tree):
    ours, theirs = T.twins(tree)
    for mode in (False, True):
        assert ours.train(mode) is ours
        theirs.train(mode)
        assert [m.training for m in ours.modules(remove_duplicate=False)] == [
            m.training for m in theirs.modules(remove_duplicate=False)]
    order, t_order = [], []
    ours.apply(lambda m: order.append(type(m).__name__))
    theirs.apply(lambda m: t_order.append(type(m).__name__))
    assert order == t_order
    for p in ours.parameters():
        p.grad = np.ones_like(p.data)
    ours.zero_grad()
    assert all(p.grad is None for _, p in ours.named_parameters(remove_duplicate=False))


@given(tree=T.trees())
def test_drawn_tree_get_submodule_parameter_and_buffer_find_what_torch_finds(tree):
    ours, theirs = T.twins(tree)
    for name, module in theirs.named_modules():
        assert type(ours.get_submodule(name)).__name__ == type(module).__name__
    for name, param in theirs.named_parameters():
        assert ours.get_parameter(name).data.shape == tuple(param.shape)
    for name, buffer in theirs.named_buffers():
        assert ours.get_buffer(name).shape == tuple(buffer.shape)


def _torch_extra_keys(theirs) -> list[str]:
    """Keys a checkpoint may hold that this tree does not load, read from the torch tree:
    a stray key and one below a missing child, at each module; each empty parameter slot
    and non-persistent buffer; and one below each empty child slot."""
    keys = ["stray"]
    for prefix, module in theirs.named_modules(remove_duplicate=False):
        dot = f"{prefix}." if prefix else ""
        keys += [f"{dot}stray", f"{dot}ghost.weight"]
        keys += [dot + n for n, p in module._parameters.items() if p is None]
        keys += [dot + n for n in module._non_persistent_buffers_set]
        keys += [f"{dot}{n}.weight" for n, m in module._modules.items() if m is None]
    return keys


def _error_lines(err: Exception) -> list[str]:
    """The lines of a load_state_dict error, a size mismatch reduced to its key (the two
    libraries word the shapes differently)."""
    return [re.sub(r"^(size mismatch for \S+): .*$", r"\1", line)
            for line in str(err).split("\n\t")]


@given(tree=T.trees(), data=st.data(), strict=st.booleans())
def test_drawn_tree_load_state_dict_matches_torch(tree, data, strict):
    """A checkpoint with keys dropped, unexpected keys added and an entry of the wrong
    shape: the same error lines (missing, unexpected, size mismatch, in torch's order),
    or the same (missing, unexpected) result and the same values loaded."""
    ours, theirs = T.twins(tree)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    state = {k: rng.standard_normal(v.shape).astype(v.dtype) if v.dtype.kind == "f" else v
             for k, v in ours.state_dict().items()}
    keys = list(state)
    for key in data.draw(st.sets(st.sampled_from(keys))) if keys else ():
        del state[key]
    for key in data.draw(st.sets(st.sampled_from(_torch_extra_keys(theirs)), max_size=3)):
        state[key] = np.zeros(1, np.float32)
    if state and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(list(state)))
        state[key] = np.zeros(data.draw(st.sampled_from([(1,), state[key].shape + (2,)])),
                              state[key].dtype)
    outcomes = []
    for module, arrays in ((ours, state), (theirs, {k: torch.from_numpy(np.array(v))
                                                    for k, v in state.items()})):
        try:
            outcomes.append(tuple(module.load_state_dict(arrays, strict=strict)))
        except RuntimeError as err:
            outcomes.append(_error_lines(err))
    assert outcomes[0] == outcomes[1]
    if isinstance(outcomes[0], tuple):
        loaded, t_loaded = ours.state_dict(), theirs.state_dict()
        for key in state.keys() & loaded.keys():
            np.testing.assert_array_equal(loaded[key], t_loaded[key].numpy(), err_msg=key)


def _checkpoint_tree(lib):
    """A module with a nested child, an empty child slot, an empty parameter slot and a
    non-persistent buffer."""
    m = lib.nn.Module()
    m.w = lib.param((2,))
    m.block = lib.nn.Module()
    m.block.fc = lib.nn.Linear(2, 2)
    m.register_module("empty", None)
    m.register_parameter("hole", None)
    m.register_buffer("scratchpad", lib.array((1,)), persistent=False)
    return m


@pytest.mark.parametrize("strict", [True, False])
def test_load_state_dict_reports_the_keys_torch_reports(strict):
    """Stray keys at the top, below a child, below a name that is no child and below a
    parameter are unexpected, and so are keys naming an empty parameter slot or a
    non-persistent buffer; a key below an empty child slot is ignored; missing keys are
    listed in walk order."""
    state = {"block.fc.bias": np.zeros(2, np.float32), "w": np.ones(2, np.float32),
             "stray": np.zeros(1, np.float32), "block.stray": np.zeros(1, np.float32),
             "block.fc.stray": np.zeros(1, np.float32), "empty.weight": np.zeros(1, np.float32),
             "ghost.weight": np.zeros(1, np.float32), "w.grad": np.zeros(1, np.float32),
             "hole": np.zeros(1, np.float32), "scratchpad": np.zeros(1, np.float32)}
    outcomes = []
    for lib, arrays in ((T.SCRATCH, state), (T.TORCH, {k: torch.from_numpy(v)
                                                        for k, v in state.items()})):
        try:
            outcomes.append(tuple(_checkpoint_tree(lib).load_state_dict(arrays, strict=strict)))
        except RuntimeError as err:
            outcomes.append(_error_lines(err))
    assert outcomes[0] == outcomes[1]
    assert "ghost.weight" in str(outcomes[0]) and "empty.weight" not in str(outcomes[0])


# ------------------------------------------------------------------ registration errors
_TORCH_WORDS = {"torch.nn.Parameter": "scratch.nn.Parameter",
                "torch.nn.Module": "scratch.nn.Module", "torch.nn.modules.": "scratch.nn.",
                "torch.nn.Buffer, torch.Tensor": "scratch.nn.Buffer, numpy.ndarray",
                "torch Tensor": "numpy.ndarray"}


def _in_scratch_words(message: str) -> str:
    for theirs, ours in _TORCH_WORDS.items():
        message = message.replace(theirs, ours)
    return message


def _with(setup):
    """A module of ``lib`` with a parameter ``w``, a buffer ``b`` and a child ``c``, then
    ``setup(module, lib)``."""
    def run(lib):
        m = lib.nn.Module()
        m.w = lib.param((2,))
        m.register_buffer("b", lib.array((2,)))
        m.c = lib.nn.ReLU()
        return setup(m, lib)
    return run


def _early(assign):
    """A subclass that assigns before calling ``Module.__init__``."""
    def run(lib):
        class Early(lib.nn.Module):
            def __init__(self):
                assign(self, lib)
                super().__init__()
        return Early()
    return run


BAD_REGISTRATIONS = {
    "parameter_name_not_str": _with(lambda m, L: m.register_parameter(1, None)),
    "parameter_name_dotted": _with(lambda m, L: m.register_parameter("a.b", None)),
    "parameter_name_empty": _with(lambda m, L: m.register_parameter("", None)),
    "parameter_name_taken": _with(lambda m, L: m.register_parameter("training", None)),
    "parameter_name_is_a_child": _with(lambda m, L: m.register_parameter("c", L.param((1,)))),
    "parameter_not_a_parameter": _with(lambda m, L: m.register_parameter("v", [1.0])),
    "buffer_name_not_str": _with(lambda m, L: m.register_buffer(1, None)),
    "buffer_name_dotted": _with(lambda m, L: m.register_buffer("a.b", None)),
    "buffer_name_empty": _with(lambda m, L: m.register_buffer("", None)),
    "buffer_name_taken": _with(lambda m, L: m.register_buffer("forward", None)),
    "buffer_name_is_a_parameter": _with(lambda m, L: m.register_buffer("w", None)),
    "buffer_not_an_array": _with(lambda m, L: m.register_buffer("v", 3)),
    "module_not_a_module": _with(lambda m, L: m.add_module("x", 3)),
    "module_name_not_str": _with(lambda m, L: m.add_module(3, None)),
    "module_name_dotted": _with(lambda m, L: m.register_module("a.b", None)),
    "module_name_empty": _with(lambda m, L: m.add_module("", None)),
    "module_name_taken": _with(lambda m, L: m.add_module("eval", None)),
    "module_name_is_a_buffer": _with(lambda m, L: m.add_module("b", L.nn.ReLU())),
    "assign_to_parameter": _with(lambda m, L: setattr(m, "w", 3)),
    "assign_module_to_parameter": _with(lambda m, L: setattr(m, "w", L.nn.ReLU())),
    "assign_to_child": _with(lambda m, L: setattr(m, "c", "relu")),
    "assign_to_buffer": _with(lambda m, L: setattr(m, "b", [0.0, 0.0])),
    "parameter_before_init": _early(lambda self, L: setattr(self, "w", L.param((1,)))),
    "module_before_init": _early(lambda self, L: setattr(self, "c", L.nn.ReLU())),
    "buffer_before_init": _early(lambda self, L: self.register_buffer("b", None)),
    "missing_attribute": _with(lambda m, L: m.nope),
    "delete_missing_attribute": _with(lambda m, L: delattr(m, "nope")),
    "submodule_missing": _with(lambda m, L: m.get_submodule("c.inner")),
    "submodule_not_a_module": _with(lambda m, L: m.get_submodule("w")),
    "parameter_path_missing": _with(lambda m, L: m.get_parameter("c.weight")),
    "parameter_path_not_a_parameter": _with(lambda m, L: m.get_parameter("b")),
    "buffer_path_not_a_buffer": _with(lambda m, L: m.get_buffer("w")),
    "train_mode_not_bool": _with(lambda m, L: m.train("yes")),
    "load_state_dict_not_a_mapping": _with(lambda m, L: m.load_state_dict([("w", 1)])),
    "module_list_extend_not_iterable": lambda L: L.nn.ModuleList().extend(3),
    "module_list_index_out_of_range": lambda L: L.nn.ModuleList([L.nn.ReLU()])[-2],
    "module_list_index_not_int": lambda L: L.nn.ModuleList([L.nn.ReLU()])["0"],
    "module_dict_update_not_iterable": lambda L: L.nn.ModuleDict().update(3),
    "module_dict_update_not_pairs": lambda L: L.nn.ModuleDict().update([3]),
    "module_dict_update_short_pair": lambda L: L.nn.ModuleDict().update([("a",)]),
    "module_dict_missing_key": lambda L: L.nn.ModuleDict()["a"],
    "module_dict_key_taken": lambda L: L.nn.ModuleDict({"keys": L.nn.ReLU()}),
}


@pytest.mark.parametrize("case", BAD_REGISTRATIONS, ids=list(BAD_REGISTRATIONS))
def test_bad_registration_raises_torchs_error(case):
    """The same error type and message as torch (torch's class names read as scratch's)."""
    errors = []
    for lib in (T.SCRATCH, T.TORCH):
        with pytest.raises(Exception) as info:
            BAD_REGISTRATIONS[case](lib)
        errors.append((info.type, str(info.value)))
    (ours, message), (theirs, t_message) = errors
    assert ours is theirs and message == _in_scratch_words(t_message)


# ------------------------------------------------------------------ attribute protocol
def test_a_torch_style_subclass_registers_its_layers():
    """The subclass torch teaches: parameters, state_dict and repr as torch's."""
    def net(lib):
        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = lib.nn.Linear(4, 3)
                self.fc2 = lib.nn.Linear(3, 2)
        return Net()
    ours, theirs = net(T.SCRATCH), net(T.TORCH)
    assert len(ours.parameters()) == len(list(theirs.parameters())) == 4
    assert T.shapes_of(ours.state_dict()) == T.shapes_of(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert ours.fc1 is ours.get_submodule("fc1") and ours.fc1.weight is ours.get_parameter(
        "fc1.weight")


def _slots(lib):
    m = lib.nn.Module()
    m.a = lib.param((1,))
    m.b = lib.param((2,))
    m.c = lib.param((3,))
    m.x = lib.nn.ReLU()
    m.y = lib.nn.Tanh()
    m.register_buffer("r", lib.array((1,)))
    m.register_buffer("s", lib.array((2,)))
    m.a, m.x, m.r = None, None, None             # emptied: the slots stay
    return m


def test_a_none_slot_keeps_its_place_in_the_order():
    """Assigning None empties a registered slot without removing it: the state_dict and
    walks skip it, the repr shows it, and a value assigned later returns to its place."""
    for lib in (T.SCRATCH, T.TORCH):
        m = _slots(lib)
        assert list(m.state_dict()) == ["b", "c", "s"]
        assert m.a is None and m.x is None and m.r is None
        m.a, m.x, m.r = lib.param((1,)), lib.nn.Sigmoid(), lib.array((1,))
        assert list(m.state_dict()) == ["a", "b", "c", "r", "s"]
        assert _names(m.named_children()) == ["x", "y"]
    ours, theirs = _slots(T.SCRATCH), _slots(T.TORCH)
    assert repr(ours) == repr(theirs)
    assert _names(ours.named_parameters()) == _names(theirs.named_parameters()) == ["b", "c"]


def test_a_non_persistent_buffer_is_in_named_buffers_but_not_in_state_dict():
    for lib in (T.SCRATCH, T.TORCH):
        m = lib.nn.Module()
        m.register_buffer("kept", lib.array((1,)))
        m.register_buffer("scratchpad", lib.array((2,)), persistent=False)
        m.marked = lib.nn.Buffer(lib.array((3,)), persistent=False)
        assert _names(m.named_buffers()) == ["kept", "scratchpad", "marked"]
        assert list(m.state_dict()) == ["kept"]
        m.scratchpad = lib.array((4,))              # replaced: still not persistent
        assert list(m.state_dict()) == ["kept"] and m.scratchpad.shape == (4,)


def test_assigning_a_module_or_parameter_replaces_what_held_the_name():
    """torch's __setattr__ removes the name from the other registries (and from the plain
    attributes) before registering: the name moves to the end of its new registry."""
    results = []
    for lib in (T.SCRATCH, T.TORCH):
        m = lib.nn.Module()
        m.register_buffer("z", lib.array((1,)))
        m.plain = 3
        m.fc = lib.nn.Linear(2, 2)
        m.plain = lib.nn.ReLU()                    # a plain attribute becomes a child
        m.z = lib.nn.Tanh()                        # a buffer becomes a child
        m.fc = lib.param((2,))                     # a child becomes a parameter
        del m.plain
        results.append((list(m.state_dict()), _names(m.named_children()), repr(m)))
    assert results[0] == results[1]


def test_deleting_removes_a_parameter_buffer_or_child():
    for lib in (T.SCRATCH, T.TORCH):
        m = lib.nn.Module()
        m.w, m.c = lib.param((1,)), lib.nn.Linear(1, 1)
        m.register_buffer("b", lib.array((1,)), persistent=False)
        del m.w, m.b, m.c
        assert list(m.state_dict()) == [] and not list(m.named_buffers())
        m.register_buffer("b", lib.array((1,)))      # the name is free again: persistent
        assert list(m.state_dict()) == ["b"]


def test_a_shared_module_is_walked_once_and_saved_under_each_name():
    results = []
    for lib in (T.SCRATCH, T.TORCH):
        m = lib.nn.Module()
        m.first = lib.nn.Linear(2, 2)
        m.second = m.first
        m.tied = m.first.weight
        results.append((_names(m.named_parameters()), list(m.state_dict()),
                        _names(m.named_modules()), len(list(m.parameters()))))
    assert results[0] == results[1]
    assert results[0][3] == 2


# ------------------------------------------------------------------ ModuleList / ModuleDict
POOL = 6


def _pool(lib):
    """Modules that print differently, so a repr shows which one sits where."""
    return [lib.nn.Linear(i + 1, 1) for i in range(POOL)]


_PICKS = st.lists(st.integers(0, POOL - 1), max_size=3)
LIST_OPS = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(0, POOL - 1)),
    st.tuples(st.just("extend"), _PICKS),
    st.tuples(st.just("iadd"), _PICKS),
    st.tuples(st.just("insert"), st.integers(0, 99), st.integers(0, POOL - 1)),
    st.tuples(st.just("setitem"), st.integers(0, 99), st.integers(0, POOL - 1)),
    st.tuples(st.just("delitem"), st.integers(0, 99)),
    st.tuples(st.just("pop"), st.integers(0, 99)),
    st.tuples(st.just("delslice"), st.integers(-4, 4), st.integers(-4, 4),
              st.sampled_from([None, 1, 2, -1]))), max_size=8)


def _apply_list_op(ml, pool, op):
    """Apply a drawn ModuleList operation; an index is drawn as any int and folded into
    the valid range (negative half the time) so every draw is valid by construction."""
    n = len(ml)

    def fold(i, size):
        return i % (2 * size) - size

    kind = op[0]
    if kind == "append":
        ml.append(pool[op[1]])
    elif kind == "extend":
        ml.extend([pool[k] for k in op[1]])
    elif kind == "iadd":
        ml += [pool[k] for k in op[1]]
    elif kind == "insert":
        ml.insert(op[1] % (n + 1), pool[op[2]])
    elif kind == "delslice":
        del ml[op[1]:op[2]:op[3]]
    elif n and kind == "setitem":
        ml[fold(op[1], n)] = pool[op[2]]
    elif n and kind == "delitem":
        del ml[fold(op[1], n)]
    elif n and kind == "pop":
        ml.pop(fold(op[1], n))


@given(ops=LIST_OPS, start=_PICKS, cut=st.tuples(st.integers(-4, 4), st.integers(-4, 4)))
def test_module_list_operations_match_torch(ops, start, cut):
    """After each drawn operation the two lists hold the same modules in the same order,
    named '0', '1', ..., and print alike; slicing and + give what torch's give."""
    pool, t_pool = _pool(T.SCRATCH), _pool(T.TORCH)
    ml = nn.ModuleList([pool[k] for k in start])
    tml = torch.nn.ModuleList([t_pool[k] for k in start])
    for op in ops:
        _apply_list_op(ml, pool, op)
        _apply_list_op(tml, t_pool, op)
        assert [pool.index(m) for m in ml] == [t_pool.index(m) for m in tml]
        assert list(ml._modules) == list(tml._modules) and len(ml) == len(tml)
        assert repr(ml) == repr(tml)
    assert repr(ml[cut[0]:cut[1]]) == repr(tml[cut[0]:cut[1]])
    assert repr(ml + nn.ModuleList(pool[:2])) == repr(tml + torch.nn.ModuleList(t_pool[:2]))
    assert list(ml.state_dict()) == list(tml.state_dict())


KEYS = st.sampled_from(["a", "b", "conv", "fc"])
DICT_OPS = st.lists(st.one_of(
    st.tuples(st.just("set"), KEYS, st.integers(0, POOL - 1)),
    st.tuples(st.just("del"), KEYS),
    st.tuples(st.just("pop"), KEYS),
    st.tuples(st.just("update"), st.lists(st.tuples(KEYS, st.integers(0, POOL - 1)),
                                          max_size=3)),
    st.tuples(st.just("update_dict"), st.dictionaries(KEYS, st.integers(0, POOL - 1),
                                                      max_size=3)),
    st.tuples(st.just("clear"))), max_size=8)


def _apply_dict_op(md, pool, op):
    kind = op[0]
    if kind == "set":
        md[op[1]] = pool[op[2]]
    elif kind == "del" and op[1] in md:
        del md[op[1]]
    elif kind == "pop" and op[1] in md:
        md.pop(op[1])
    elif kind == "update":
        md.update([(k, pool[i]) for k, i in op[1]])
    elif kind == "update_dict":
        md.update({k: pool[i] for k, i in op[1].items()})
    elif kind == "clear":
        md.clear()


@given(ops=DICT_OPS)
def test_module_dict_operations_match_torch(ops):
    pool, t_pool = _pool(T.SCRATCH), _pool(T.TORCH)
    md, tmd = nn.ModuleDict(), torch.nn.ModuleDict()
    for op in ops:
        _apply_dict_op(md, pool, op)
        _apply_dict_op(tmd, t_pool, op)
        assert list(md) == list(tmd) == list(md.keys()) and len(md) == len(tmd)
        assert [(k, pool.index(m)) for k, m in md.items()] == [
            (k, t_pool.index(m)) for k, m in tmd.items()]
        assert [pool.index(m) for m in md.values()] == [t_pool.index(m) for m in tmd.values()]
        assert all((k in md) == (k in tmd) for k in ("a", "b", "conv", "fc"))
        assert repr(md) == repr(tmd)
    assert list(md.state_dict()) == list(tmd.state_dict())


def test_sequential_registers_its_layers_as_children():
    """Sequential's layers are its registered children: reached as attributes, replaced
    by assignment, and renumbered after a deletion, as torch's."""
    def seq(lib):
        s = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.ReLU(), lib.nn.Linear(3, 1))
        s[1] = lib.nn.Tanh()
        s.insert(0, lib.nn.Identity())
        del s[2]
        s.extend([lib.nn.Sigmoid()])
        s.pop(-1)
        return s
    ours, theirs = seq(T.SCRATCH), seq(T.TORCH)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "1.weight", "1.bias", "2.weight", "2.bias"]
    assert getattr(ours, "1") is ours[1] and ours.layers is ours._modules


@given(start=_PICKS, index=st.integers(-6, 6), pick=st.integers(0, POOL - 1))
def test_module_list_insert_takes_any_index_as_list_insert(start, index, pick):
    """Where torch's insert fails (a negative index: KeyError) or leaves a gap (past the
    end), scratch's places the module where ``list.insert`` would, numbered '0', '1', ..."""
    pool = _pool(T.SCRATCH)
    ml, expected = nn.ModuleList([pool[k] for k in start]), [pool[k] for k in start]
    ml.insert(index, pool[pick])
    expected.insert(index, pool[pick])
    assert list(ml) == expected
    assert list(ml._modules) == [str(i) for i in range(len(expected))]

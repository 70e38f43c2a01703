"""Drawn module trees, built twice from one description: as scratch subclasses and as
torch subclasses (for ``test_module_protocol.py``).

A description is plain data: leaves (Linear, Conv2d, BatchNorm2d, ReLU), containers
(Sequential, ModuleList, ModuleDict) and custom subclasses whose ``__init__`` runs a
list of entries, each registering one thing the way a user would: a child by
attribute or ``add_module``/``register_module``, a parameter by attribute or
``register_parameter``, a buffer (persistent or not) by ``register_buffer`` or a
``Buffer`` assigned, ``None`` slots (registered empty, or registered then emptied
by assigning ``None``), a module reached twice (a child of another branch assigned
again), a tied parameter (one Parameter under two names), a name re-assigned from
a buffer to a module to a parameter, and a child deleted again. :func:`build` turns a
description into modules of either library; both see the same calls in the same
order, so every difference between the two trees is a difference of the protocol.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch
from hypothesis import strategies as st

from scratch import nn

# Names a custom module's entries draw from: none is an attribute of Module itself.
ENTRY_NAMES = ("fc", "conv", "bn", "act", "head", "blocks", "body", "w", "scale", "bias",
               "weight", "stats", "steps", "extra", "skip", "tied", "gone", "maybe")
CLASS_NAMES = ("Block", "Net", "Stem", "Head")
SHAPES = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)


@dataclass(frozen=True)
class Leaf:
    kind: str            # linear, conv, bn, relu
    args: tuple


@dataclass(frozen=True)
class Container:
    kind: str            # sequential, list, dict
    items: tuple         # nodes; for dict, (key, node) pairs


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str            # child, param, param_none, emptied_param, buffer, buffer_none,
    #                      child_none, emptied_child, shared, tied, rekind, deleted
    how: str = ""        # attr, add_module, register_module, register, marker
    node: object = None  # child / rekind / deleted: the module's description
    shape: tuple = ()
    persistent: bool = True
    pick: int = 0        # shared / tied: which earlier module / parameter


@dataclass(frozen=True)
class Custom:
    cls: str
    entries: tuple


# ------------------------------------------------------------------ strategies
def leaves():
    sizes = st.integers(1, 3)
    return st.one_of(
        st.builds(lambda i, o, b: Leaf("linear", (i, o, b)), sizes, sizes, st.booleans()),
        st.builds(lambda i, o, k, b: Leaf("conv", (i, o, k, b)), sizes, sizes,
                  st.integers(1, 3), st.booleans()),
        st.builds(lambda c, a, t: Leaf("bn", (c, a, t)), sizes, st.booleans(), st.booleans()),
        st.just(Leaf("relu", ())))


@st.composite
def entries(draw, nodes):
    kind = draw(st.sampled_from(("child", "child", "param", "param_none", "emptied_param",
                                 "buffer", "buffer_none", "child_none", "emptied_child",
                                 "shared", "tied", "rekind", "deleted")))
    name = draw(st.sampled_from(ENTRY_NAMES))
    if kind in ("child", "rekind", "deleted", "emptied_child"):
        how = draw(st.sampled_from(("attr", "add_module", "register_module")))
        return Entry(name, kind, how, node=draw(nodes), shape=draw(SHAPES),
                     persistent=draw(st.booleans()))
    if kind in ("param", "emptied_param"):
        return Entry(name, kind, draw(st.sampled_from(("attr", "register"))),
                     shape=draw(SHAPES))
    if kind == "buffer":
        return Entry(name, kind, draw(st.sampled_from(("register", "marker"))),
                     shape=draw(SHAPES), persistent=draw(st.booleans()))
    if kind == "child_none":
        return Entry(name, kind, draw(st.sampled_from(("add_module", "register_module"))))
    return Entry(name, kind, pick=draw(st.integers(0, 50)))


def customs(nodes, max_entries=5):
    return st.builds(Custom, st.sampled_from(CLASS_NAMES),
                     st.lists(entries(nodes), max_size=max_entries,
                              unique_by=lambda e: e.name).map(tuple))


def containers(nodes):
    keys = st.sampled_from(("a", "b", "conv", "fc", "x0"))
    return st.one_of(
        st.builds(lambda items: Container("sequential", tuple(items)),
                  st.lists(nodes, min_size=1, max_size=3)),
        st.builds(lambda items: Container("list", tuple(items)), st.lists(nodes, max_size=3)),
        st.builds(lambda items: Container("dict", tuple(items)),
                  st.lists(st.tuples(keys, nodes), max_size=3, unique_by=lambda kv: kv[0])))


def nodes(depth: int = 2):
    """A module description at most ``depth`` containers / custom modules deep."""
    if depth == 0:
        return leaves()
    inner = nodes(depth - 1)
    return st.one_of(leaves(), customs(inner), containers(inner))


def trees(depth: int = 3):
    """A root custom module (a user's subclass) with a drawn tree below it."""
    return customs(nodes(depth - 1), max_entries=6)


# ------------------------------------------------------------------ the two libraries
SCRATCH = SimpleNamespace(
    name="scratch", nn=nn,
    param=lambda shape: nn.Parameter(np.zeros(shape, np.float32)),
    array=lambda shape: np.zeros(shape, np.float32))
TORCH = SimpleNamespace(
    name="torch", nn=torch.nn,
    param=lambda shape: torch.nn.Parameter(torch.zeros(shape)),
    array=lambda shape: torch.zeros(shape))

_CLASSES: dict = {}


def custom_class(lib, name: str):
    """The subclass ``name`` of ``lib.nn.Module``, one per library and name, whose
    ``__init__`` registers its entries in order, as a user's ``__init__`` would."""
    key = (lib.name, name)
    if key not in _CLASSES:
        def __init__(self, entries, builder):
            lib.nn.Module.__init__(self)
            for entry in entries:
                builder.attach(self, entry)
        _CLASSES[key] = type(name, (lib.nn.Module,), {"__init__": __init__})
    return _CLASSES[key]


class Builder:
    """Builds descriptions in one library, keeping the modules finished so far and the
    parameters made so far (in the same order in both libraries) for sharing and tying."""

    def __init__(self, lib):
        self.lib, self.modules, self.params = lib, [], []

    def build(self, node):
        nn_ = self.lib.nn
        if isinstance(node, Leaf):
            module = {"linear": lambda i, o, b: nn_.Linear(i, o, bias=b),
                      "conv": lambda i, o, k, b: nn_.Conv2d(i, o, k, bias=b),
                      "bn": lambda c, a, t: nn_.BatchNorm2d(c, affine=a,
                                                            track_running_stats=t),
                      "relu": nn_.ReLU}[node.kind](*node.args)
            self.params += list(module.parameters())
        elif isinstance(node, Container):
            if node.kind == "dict":
                module = nn_.ModuleDict({k: self.build(v) for k, v in node.items})
            else:
                items = [self.build(v) for v in node.items]
                module = nn_.Sequential(*items) if node.kind == "sequential" else (
                    nn_.ModuleList(items))
        else:
            module = custom_class(self.lib, node.cls)(node.entries, self)
        self.modules.append(module)
        return module

    def attach(self, owner, e: Entry):
        lib = self.lib
        if e.kind in ("child", "deleted", "emptied_child"):
            child = self.build(e.node)
            if e.how == "attr":
                setattr(owner, e.name, child)
            else:
                getattr(owner, e.how)(e.name, child)
            if e.kind == "deleted":
                delattr(owner, e.name)
            elif e.kind == "emptied_child":
                setattr(owner, e.name, None)
        elif e.kind in ("param", "emptied_param"):
            param = lib.param(e.shape)
            self.params.append(param)
            if e.how == "attr":
                setattr(owner, e.name, param)
            else:
                owner.register_parameter(e.name, param)
            if e.kind == "emptied_param":
                setattr(owner, e.name, None)
        elif e.kind == "param_none":
            owner.register_parameter(e.name, None)
        elif e.kind == "buffer":
            if e.how == "marker":
                setattr(owner, e.name, lib.nn.Buffer(lib.array(e.shape),
                                                     persistent=e.persistent))
            else:
                owner.register_buffer(e.name, lib.array(e.shape), e.persistent)
        elif e.kind == "buffer_none":
            owner.register_buffer(e.name, None)
        elif e.kind == "child_none":
            getattr(owner, e.how)(e.name, None)
        elif e.kind == "shared" and self.modules:
            setattr(owner, e.name, self.modules[e.pick % len(self.modules)])
        elif e.kind == "tied" and self.params:
            setattr(owner, e.name, self.params[e.pick % len(self.params)])
        elif e.kind == "rekind":     # a buffer, then a module, then a parameter: one name
            owner.register_buffer(e.name, lib.array(e.shape), e.persistent)
            setattr(owner, e.name, self.build(e.node))
            param = lib.param(e.shape)
            self.params.append(param)
            setattr(owner, e.name, param)


def build(description, lib):
    """The module ``description`` describes, made of ``lib``'s classes."""
    return Builder(lib).build(description)


def twins(description):
    """``(scratch module, torch module)`` built from one description."""
    return build(description, SCRATCH), build(description, TORCH)


def shapes_of(state: dict) -> list:
    """``[(key, shape, dtype name)]`` of a state_dict of either library, in order."""
    return [(k, tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in state.items()]


# ------------------------------------------------------------------ a custom module's backward
@dataclass(frozen=True)
class ResidualCase:
    in_channels: int
    out_channels: int
    stride: int
    shape: tuple         # (N, C_in, H, W)
    seed: int


@st.composite
def residual_cases(draw):
    """A residual block and its input: the identity shortcut (stride 1, equal channels)
    or the 1x1-conv one, with a batch of at least two (batch norm in training mode)."""
    in_channels = draw(st.integers(1, 3))
    if draw(st.booleans()):
        out_channels, stride = in_channels, 1
    else:
        out_channels, stride = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    shape = (draw(st.integers(2, 3)), in_channels, draw(st.integers(3, 6)),
             draw(st.integers(3, 6)))
    return ResidualCase(in_channels, out_channels, stride, shape,
                        draw(st.integers(0, 2**32 - 1)))

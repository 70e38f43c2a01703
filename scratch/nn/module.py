"""``Module``: torch's module protocol over NumPy arrays, the twin of ``torch.nn.Module``.

Registration is torch's: in a subclass's ``__init__``, assigning a
:class:`Parameter` to an attribute registers a parameter, assigning a
``Module`` registers a child, and assigning ``None`` to a registered name
keeps the slot (empty, in its place in the order); :class:`Buffer` or
:meth:`Module.register_buffer` registers a buffer. Every walk
(``named_modules``, ``named_parameters``, ``state_dict``, ``load_state_dict``,
``train``, ``repr``...) runs over that tree in torch's order with torch's
rules and errors, so a scratch module and the same class written against
torch have the same ``state_dict`` keys.

Every module has ``forward(x)`` (keeps what backward needs) and
``backward(dout)`` (returns ``dx`` and *sets* each parameter's ``.grad``;
it does not accumulate): scratch has no autograd, so a module made of
children writes its own ``backward``, calling theirs in reverse
(``docs/modules.md``). Parameter and buffer names and shapes equal those of
the torch module of the same name, so ``state_dict()`` moves across by a
plain dict copy plus an array conversion.

Bad input is refused with an error naming the layer, what it expected and
what it got (see :mod:`scratch.checks`): ``ValueError`` for shapes and
values, ``TypeError`` for dtypes (a float input must have the parameters'
dtype: no hidden upcasting), ``RuntimeError`` for backward before forward.
``backward(dout)`` requires ``dout`` of the forward output's shape and dtype.
"""
from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from scratch import checks
from scratch.nn.parameter import Buffer, Parameter

__all__ = ["Buffer", "IncompatibleKeys", "Module", "Parameter"]


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` did not match (torch's ``_IncompatibleKeys``)."""
    missing_keys: list
    unexpected_keys: list

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


def _dotted(prefix: str, name: str) -> str:
    """``'block.fc'``: a name below ``prefix`` (the root's prefix is ``''``)."""
    return f"{prefix}.{name}" if prefix else name


def _quoted(keys) -> str:
    return ", ".join(f'"{k}"' for k in keys) + ". "


def _typename(value) -> str:
    """torch's ``typename`` for what errors name: ``int``, ``numpy.ndarray``."""
    kind = type(value)
    module = kind.__module__
    return kind.__qualname__ if module in ("builtins", "") else f"{module}.{kind.__qualname__}"


def _addindent(text: str) -> str:
    """Indent every line but the first by two spaces (torch's ``_addindent``)."""
    return text.replace("\n", "\n  ")


class Module:
    """Base class: named parameters, buffers and child modules, registered as torch's."""

    def __init__(self):
        init = object.__setattr__          # plain attributes: no registration rules
        init(self, "training", True)
        init(self, "_params", {})          # name -> Parameter or None (torch's _parameters)
        init(self, "_buffers", {})         # name -> ndarray or None
        init(self, "_non_persistent_buffers_set", set())
        init(self, "_modules", {})         # name -> Module or None
        init(self, "_cache", None)
        init(self, "_out", None)           # (shape, dtype) of the last forward output

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, x):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def backward(self, dout, input_grad=True):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"backward" function (scratch has no autograd: a module '
                                  f'returns dx and sets its parameters\' .grad)')

    def _keep(self, out, cache):
        """Remember ``cache`` for backward and the output's shape and dtype; return ``out``."""
        object.__setattr__(self, "_cache", cache)     # internal: no registration rules
        object.__setattr__(self, "_out", (out.shape, out.dtype))
        _note_users(self)
        return out

    def _take_cache(self, dout):
        """The forward cache (used once), after checking ``dout`` against the output."""
        if self._cache is None:
            raise backward_without_cache(self, forward_ran=self._out is not None)
        checks.grad(self, dout, *self._out)
        _refuse_tied_use(self)
        cache = self._cache
        object.__setattr__(self, "_cache", None)
        return cache

    # ------------------------------------------------------------ registration
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (a :class:`Parameter`, or None for an empty slot) under ``name``,
        reachable as ``self.name``; torch's rules and errors."""
        if "_params" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"parameter name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError('parameter name can\'t contain "."')
        if name == "":
            raise KeyError('parameter name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._params:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            f"(scratch.nn.Parameter or None required)")
        self._params[name] = param

    def register_buffer(self, name: str, tensor: np.ndarray | None,
                        persistent: bool = True) -> None:
        """Add the array ``tensor`` (or None) as the buffer ``name``: state that is not
        trained (running statistics). ``persistent=False`` keeps it out of
        ``state_dict()``; it is still in ``named_buffers()``. torch's rules and errors."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError('buffer name can\'t contain "."')
        if name == "":
            raise KeyError('buffer name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, np.ndarray):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            f"(numpy.ndarray or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add the child ``module`` (or None for an empty slot) under ``name``; torch's
        rules and errors."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    def register_module(self, name: str, module: Module | None) -> None:
        """Alias for :meth:`add_module`."""
        self.add_module(name, module)

    def _get_name(self) -> str:
        return type(self).__name__

    def get_submodule(self, target: str) -> Module:
        """The module at the dotted path ``target`` (``''``: this module), as torch's."""
        if target == "":
            return self
        module = self
        for item in target.split("."):
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The :class:`Parameter` at the dotted path ``target``, as torch's."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> np.ndarray:
        """The buffer array at the dotted path ``target``, as torch's."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        buffer = getattr(module, name)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return buffer

    # ------------------------------------------------------------ torch's attribute access
    def __getattr__(self, name):
        """``layer.weight``, ``bn.running_mean``, ``model.fc1``: parameters (the
        :class:`Parameter`), buffers and child modules by name, as torch's."""
        state = self.__dict__
        for registered in ("_params", "_buffers", "_modules"):
            found = state.get(registered)
            if found is not None and name in found:
                return found[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        """torch's ``Module.__setattr__``: a :class:`Parameter` registers a parameter and a
        ``Module`` a child (either replaces whatever held the name); a :class:`Buffer`
        registers a buffer; an array assigned to a buffer's name replaces the buffer;
        ``None`` assigned to a registered name empties the slot. Anything else assigned
        to a registered name is refused; other values are plain attributes."""
        state = self.__dict__
        params = state.get("_params")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove(name, state, self._buffers, self._modules,
                         self._non_persistent_buffers_set)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                f"(scratch.nn.Parameter or None expected)")
            self.register_parameter(name, value)
            return
        modules = state.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove(name, state, params, self._buffers, self._non_persistent_buffers_set)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                f"(scratch.nn.Module or None expected)")
            modules[name] = value
            return
        buffers = state.get("_buffers")
        if isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, (Buffer, np.ndarray)):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                f"(scratch.nn.Buffer, numpy.ndarray or None expected)")
            if isinstance(value, Buffer):
                persistent, value = value.persistent, value.data
            else:
                persistent = name not in self._non_persistent_buffers_set
            self.register_buffer(name, value, persistent)
            return
        object.__setattr__(self, name, value)

    @staticmethod
    def _remove(name, *dicts_or_sets):
        for found in dicts_or_sets:
            if name in found:
                if isinstance(found, dict):
                    del found[name]
                else:
                    found.discard(name)

    def __delattr__(self, name):
        """``del self.fc``: removes a parameter, buffer or child, as torch's."""
        if name in self._params:
            del self._params[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = [*dir(type(self)), *self.__dict__, *self._params, *self._modules, *self._buffers]
        return sorted(k for k in set(keys) if not k[0].isdigit())

    # ------------------------------------------------------------ walks, in torch's order
    def named_children(self):
        """``(name, child)`` pairs, empty slots skipped, a child held under two names given
        once, as torch's."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and child not in seen:
                seen.add(child)
                yield name, child

    def children(self):
        """The child modules, each once, as torch's ``children()``."""
        for _, child in self.named_children():
            yield child

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """``(name, module)`` for this module (``prefix``, default ``''``) and every
        descendant, depth first, as torch's ``named_modules()``: ``'block.fc'``; a module
        reached twice is given once unless ``remove_duplicate=False``."""
        memo = set() if memo is None else memo
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, _dotted(prefix, name), remove_duplicate)

    def modules(self, remove_duplicate=True):
        """This module and every descendant, as torch's ``modules()``."""
        for _, module in self.named_modules(remove_duplicate=remove_duplicate):
            yield module

    def _named_members(self, members, prefix, recurse, remove_duplicate):
        """``(dotted name, member)`` of each module's ``members`` dict, empty slots skipped,
        each member once unless ``remove_duplicate=False`` (torch's ``_named_members``)."""
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        seen = set()
        for module_name, module in modules:
            for name, member in members(module).items():
                if member is None or id(member) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(member))
                yield _dotted(module_name, name), member

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """``('fc1.weight', Parameter)`` pairs in torch's order (each module's own, then
        its children's), each parameter once, as torch's ``named_parameters()``."""
        yield from self._named_members(lambda m: m._params, prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True) -> list[Parameter]:
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """``('bn.running_mean', array)`` pairs, persistent or not, as torch's
        ``named_buffers()``."""
        yield from self._named_members(lambda m: m._buffers, prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True) -> list[np.ndarray]:
        return [b for _, b in self.named_buffers(recurse=recurse)]

    def apply(self, fn):
        """``fn(module)`` on every child (recursively), then on this module; returns this
        module, as torch's ``apply`` (``model.apply(init_weights)``)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def train(self, mode=True):
        """Training mode (``mode=True``) or evaluation mode for this module and every
        descendant, as torch's; returns this module."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True):
        """Every parameter's gradient to None (or, with ``set_to_none=False``, to zeros)."""
        for p in self.parameters():
            if p.grad is not None:
                p.grad = None if set_to_none else np.zeros_like(p.grad)

    # ------------------------------------------------------------ state_dict
    def _local_state(self, keep_vars=False) -> dict:
        """This module's own state_dict entries: non-empty parameters, then non-empty
        persistent buffers (torch's ``_save_to_state_dict``)."""
        local = {name: p if keep_vars else p.data
                 for name, p in self._params.items() if p is not None}
        local.update((name, b) for name, b in self._buffers.items()
                     if b is not None and name not in self._non_persistent_buffers_set)
        return local

    def state_dict(self, *, destination=None, prefix="", keep_vars=False) -> dict:
        """Copies of every parameter and persistent buffer, keyed and ordered as torch's
        state_dict: each module's own entries, then its children's, a module held under
        two names listed under each. ``keep_vars=True``: the :class:`Parameter` objects
        and buffer arrays themselves instead of copies."""
        destination = {} if destination is None else destination
        for name, value in self._local_state(keep_vars).items():
            destination[prefix + name] = value if keep_vars else value.copy()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination=destination, prefix=f"{prefix}{name}.",
                                 keep_vars=keep_vars)
        return destination

    def _named_arrays(self):
        """``(key, array)`` of every state_dict entry: the arrays themselves, not copies."""
        for key, value in self.state_dict(keep_vars=True).items():
            yield key, value.data if isinstance(value, Parameter) else value

    def load_state_dict(self, state_dict: Mapping, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into this module in place, as torch's ``load_state_dict``.

        ``strict`` (default): the keys must be exactly those of ``state_dict()``.
        Otherwise the matching keys are loaded and the others reported. A shape
        mismatch is an error either way. Keys are matched module by module as torch
        matches them (a key below an empty child slot is ignored; a key naming an
        empty parameter slot or a non-persistent buffer is unexpected). On any error
        a ``RuntimeError`` lists every problem (torch's wording) and nothing is
        copied (torch may have copied some entries by then). Returns
        ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing, unexpected, errors, copies = [], [], [], []
        self._load_into(dict(state_dict), "", missing, unexpected, errors, copies)
        if strict and unexpected:
            errors.insert(0, "Unexpected key(s) in state_dict: " + _quoted(unexpected))
        if strict and missing:
            errors.insert(0, "Missing key(s) in state_dict: " + _quoted(missing))
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for target, value in copies:
            np.copyto(target, value, casting="same_kind")
        return IncompatibleKeys(missing, unexpected)

    def _load_into(self, state, prefix, missing, unexpected, errors, copies):
        """torch's ``_load_from_state_dict`` for this module, then its children: what to
        copy where, and the missing, unexpected and mismatched keys, in torch's order."""
        self._complete_state(state, prefix)
        local = self._local_state()
        for name, target in local.items():
            key = prefix + name
            if key not in state:
                missing.append(key)
                continue
            value = np.asarray(state[key])
            if target.ndim == 0 and value.shape == (1,):    # torch's 0-dim compatibility
                value = value.reshape(())
            if value.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying an array of shape "
                              f"{value.shape}, the shape in this module is {target.shape}.")
            elif not np.can_cast(value.dtype, target.dtype, casting="same_kind"):
                errors.append(f"dtype mismatch for {key}: cannot copy {value.dtype} into "
                              f"{target.dtype}.")
            else:
                copies.append((target, value))
        for key in state:
            if key.startswith(prefix):
                head, *rest = key[len(prefix):].split(".", 1)
                if head not in (self._modules if rest else local):
                    unexpected.append(key)
        for name, child in self._modules.items():
            if child is not None:
                child_prefix = f"{prefix}{name}."
                child._load_into({k: v for k, v in state.items() if k.startswith(child_prefix)},
                                 child_prefix, missing, unexpected, errors, copies)

    def _complete_state(self, state: dict, prefix: str) -> None:
        """Add to ``state`` (this module's part of a checkpoint, a copy) what a module
        assumes when a checkpoint lacks it; nothing here (batch norm overrides it)."""

    # ------------------------------------------------------------ torch's repr
    def extra_repr(self) -> str:
        """The arguments shown inside ``Name(...)``, as the torch module of the same name
        shows them (each module overrides this)."""
        return ""

    def __repr__(self):
        """torch's layout: ``Linear(in_features=4, out_features=2, bias=True)``, and the
        children one per line as ``(name): repr`` (``None`` for an empty slot),
        indented two spaces."""
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): " + _addindent(repr(child))
                    for name, child in self._modules.items()]
        if len(lines) == 1 and not children:
            return f"{self._get_name()}({lines[0]})"
        if not lines and not children:
            return f"{self._get_name()}()"
        return f"{self._get_name()}(\n  " + "\n  ".join(lines + children) + "\n)"


def backward_without_cache(module, forward_ran: bool) -> RuntimeError:
    """The error for a backward with no forward cache: none ran yet, or a backward used it."""
    name = type(module).__name__
    if forward_ran:
        return RuntimeError(f"{name}.backward called a second time after one forward: the "
                            f"first backward used up the forward's cache (each forward allows "
                            f"one backward; run forward again before the next backward)")
    return RuntimeError(f"{name}.backward called before forward (each forward allows one "
                        f"backward)")


# A parameter tied between two modules (the same Parameter registered in both) and used by
# both in one forward needs the sum of their gradients, as torch's autograd gives. Scratch
# has no autograd: each module's backward *sets* its parameters' .grad, so the second
# backward would silently replace the first's gradient. Rather than compute a wrong
# gradient, the backward of such a module is refused. Each Parameter keeps weak
# references to the modules that registered it and ran forward (``Parameter._users``).


def _note_users(module) -> None:
    for p in module._params.values():
        if p is None:
            continue
        p._users = [r for r in p._users if r() is not None]
        if not any(r() is module for r in p._users):
            p._users.append(weakref.ref(module))


def _refuse_tied_use(module) -> None:
    """Refuse ``module``'s backward when one of its parameters is also the parameter of
    another module whose forward ran and whose backward has not (the same forward pass)."""
    for name, p in module._params.items():
        if p is None:
            continue
        for ref in p._users:
            other = ref()
            if (other is None or other is module or other._cache is None
                    or not any(q is p for q in other._params.values())):
                continue
            raise RuntimeError(
                f"{type(module).__name__}.backward: its parameter '{name}' is also a "
                f"parameter of {type(other).__name__}, which ran forward too and has not "
                f"run backward: a parameter tied between two modules and used by both in "
                f"one forward is not supported in scratch (no autograd: each backward sets "
                f".grad, so the second would replace the first's gradient instead of adding "
                f"to it as torch does). Use the parameter in one module only, or give each "
                f"module its own parameter")

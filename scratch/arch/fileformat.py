"""Architectures as JSON or TOML files: :func:`to_dict` / :func:`from_dict` (plain
data), :func:`load` (a ``.json`` or ``.toml`` file), :func:`resolve` (a name or a file).

A file holds ``input_shape`` and ``layers``, a list of tables each with a ``name``, a
``type`` (a spec class of :func:`layer_types`) and that spec's fields. A field that holds
layers (a ``Residual`` block's ``body`` and ``shortcut``) is a list of such tables::

    input_shape = [1, 28, 28]
    [[layers]]
    name = "block"
    type = "Residual"
    [[layers.body]]
    name = "conv"
    type = "Conv2d"
    out_channels = 1
    kernel_size = 3
    padding = 1

A network trained for something other than classification says so in a ``task`` table
(:mod:`scratch.arch.task`; none: classification)::

    [task]
    type = "Reconstruction"
    loss = "MSELoss"
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from scratch.arch import specs
from scratch.arch.network import Architecture, Residual
from scratch.arch.task import TASKS, Classification
from scratch.arch.zoo import ARCHITECTURES


class ArchitectureFileError(ValueError):
    """A JSON or TOML architecture description that cannot be read (says where and why)."""


def layer_types() -> dict[str, type]:
    """Every spec class by name: the ``type`` values a file may use."""
    leaves = {cls.__name__: cls for cls in specs.LayerSpec.__args__}
    return dict(sorted({**leaves, "Residual": Residual}.items()))


def _holds_layers(f: dataclasses.Field) -> bool:
    return bool(f.metadata.get("layers"))


def _layers_to_list(layers) -> list[dict]:
    entries = []
    for name, spec in layers:
        entry = {"name": name, "type": type(spec).__name__}
        for f in dataclasses.fields(spec):
            value = getattr(spec, f.name)
            entry[f.name] = (_layers_to_list(value) if _holds_layers(f)
                             else list(value) if isinstance(value, tuple) else value)
        entries.append(entry)
    return entries


def to_dict(architecture: Architecture) -> dict:
    """Plain data (JSON/TOML-ready) that :func:`from_dict` turns back into ``architecture``
    (a ``task`` table only for a task other than classification, the default)."""
    data = {"input_shape": list(architecture.input_shape),
            "layers": _layers_to_list(architecture.layers)}
    if architecture.task != Classification():
        data["task"] = {"type": type(architecture.task).__name__,
                        **dataclasses.asdict(architecture.task)}
    return data


def _task(entry, source: str):
    """The task of a ``task`` table (``{"type": "Reconstruction", "loss": ...}``)."""
    if not isinstance(entry, dict) or entry.get("type") not in TASKS:
        raise ArchitectureFileError(f"{source}: task must be a table whose type is one of "
                                    f"{', '.join(TASKS)}, got {entry!r}")
    fields = dict(entry)
    kind = TASKS[fields.pop("type")]
    known = [f.name for f in dataclasses.fields(kind)]
    extra = sorted(set(fields) - set(known))
    if extra:
        raise ArchitectureFileError(f"{source}: task {kind.__name__} has no field(s) {extra};"
                                    f" its fields: {', '.join(known) or 'none'}")
    try:
        return kind(**fields)
    except (TypeError, ValueError) as err:
        raise ArchitectureFileError(f"{source}: task: {err}") from None


def _spec(entry: dict, kind: str, where: str, types: dict):
    """The spec of type ``kind`` from ``entry``'s fields (name and type already taken)."""
    fields = {f.name: f for f in dataclasses.fields(types[kind])}
    extra = sorted(set(entry) - set(fields))
    if extra:
        raise ArchitectureFileError(f"{where}: {kind} has no field(s) {extra}; its fields: "
                                    f"{', '.join(fields) or 'none'}")
    missing = [n for n, f in fields.items() if n not in entry
               and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ArchitectureFileError(f"{where}: {kind} needs field(s) {missing}")
    values = {}
    for key, value in entry.items():
        if _holds_layers(fields[key]):
            values[key] = _layers_from_list(value, f"{where} {key}", types,
                                            allow_empty=key != "body")
        else:
            values[key] = tuple(value) if isinstance(value, list) else value
    try:
        return types[kind](**values)
    except (TypeError, ValueError) as err:
        raise ArchitectureFileError(f"{where}: {err}") from None


def _layers_from_list(entries, where: str, types: dict, allow_empty=False) -> tuple:
    """``((name, spec), ...)`` from a list of layer tables; ``where`` names the list."""
    if not isinstance(entries, list) or not (entries or allow_empty):
        raise ArchitectureFileError(f"{where}: layers must be a non-empty list of tables")
    layers, seen = [], set()
    for i, entry in enumerate(entries):
        at = f"{where}: layer {i + 1}"
        if not isinstance(entry, dict):
            raise ArchitectureFileError(f"{at}: expected a table, got {entry!r}")
        entry = dict(entry)
        name, kind = entry.pop("name", None), entry.pop("type", None)
        if not isinstance(name, str) or not name.isidentifier():
            raise ArchitectureFileError(f"{at}: 'name' must be an identifier such as "
                                        f"'conv1', got {name!r}")
        at = f"{where}: layer {i + 1} ({name!r})"
        if name in seen:
            raise ArchitectureFileError(f"{at}: the name is used twice")
        seen.add(name)
        if kind not in types:
            raise ArchitectureFileError(f"{at}: unknown type {kind!r}; known types: "
                                        f"{', '.join(types)}")
        layers.append((name, _spec(entry, kind, at, types)))
    return tuple(layers)


def from_dict(data: dict, source: str = "architecture") -> Architecture:
    """An :class:`Architecture` from ``{"input_shape": [...], "layers": [{"name": ...,
    "type": "Conv2d", <fields>}, ...]}``; :class:`ArchitectureFileError` naming the layer
    and the problem (unknown type or field, missing field, bad shape) otherwise."""
    if not isinstance(data, dict):
        raise ArchitectureFileError(f"{source}: expected a table with input_shape and layers, "
                                    f"got {type(data).__name__}")
    unknown = sorted(set(data) - {"input_shape", "layers", "task"})
    if unknown:
        raise ArchitectureFileError(f"{source}: unknown top-level key(s) {unknown}; "
                                    f"expected input_shape, layers and (optionally) task")
    shape = data.get("input_shape")
    if (not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= 3
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)):
        raise ArchitectureFileError(f"{source}: input_shape must be a list of 1 to 3 positive "
                                    f"whole numbers, as [1, 28, 28]; got {shape!r}")
    layers = _layers_from_list(data.get("layers"), source, layer_types())
    task = _task(data["task"], source) if "task" in data else Classification()
    architecture = Architecture(tuple(shape), layers, task)
    try:
        architecture.shapes()
    except (ValueError, TypeError, ZeroDivisionError) as err:
        raise ArchitectureFileError(f"{source}: {err}") from None
    return architecture


def load(path) -> Architecture:
    """An :class:`Architecture` from a ``.json`` or ``.toml`` file (layout: :func:`from_dict`)."""
    try:
        import tomllib
    except ImportError:            # Python 3.10: TOML needs the tomli package
        tomllib = None
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ArchitectureFileError(f"cannot read architecture file {path}: "
                                    f"{err.strerror or err}") from None
    try:
        if path.suffix.lower() == ".toml":
            if tomllib is None:
                raise ArchitectureFileError(f"{path}: reading TOML needs Python 3.11 or "
                                            f"later; use a .json file")
            data = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            raise ArchitectureFileError(f"{path}: expected a .json or .toml file")
    except (json.JSONDecodeError, getattr(tomllib, "TOMLDecodeError", ValueError)) as err:
        raise ArchitectureFileError(f"{path} is not valid {path.suffix[1:].upper()}: "
                                    f"{err}") from None
    return from_dict(data, str(path))


def resolve(name_or_path: str) -> Architecture:
    """A named architecture (:data:`ARCHITECTURES`) or one read from a .json/.toml file."""
    if name_or_path in ARCHITECTURES:
        return ARCHITECTURES[name_or_path]()
    if name_or_path.lower().endswith((".json", ".toml")):
        return load(name_or_path)
    raise ArchitectureFileError(f"unknown architecture {name_or_path!r}: expected one of "
                                f"{', '.join(ARCHITECTURES)} or a .json/.toml file")

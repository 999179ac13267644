"""JSON shapes of the package's typed values: frozen dataclasses to and from plain JSON data.

Why dataclasses and not TypedDicts: a record's fields are then read as attributes (`record.energy_j`),
so a JSON key such as "energy_j" is spelled once, as the field's name in the module that defines the
shape, and mypy checks every read. The JSON shape follows the fields one for one (names, nesting,
order), so `show --json`, exports and spool files keep the keys they always had.

Why not cattrs or msgspec: either costs 30-40 ms to import, a fifth of what `mlfootprint show` may
take in all; the two functions below are all the conversion the shapes need.

`to_json` turns a value into dicts, lists and scalars (tuples become lists); a field whose JSON key
cannot be a Python name (e.g. "from") says so in its metadata: `field(metadata={JSON_KEY: "from"})`.
`from_json` builds a dataclass from such data, leniently, as stores and files written by older versions need: unknown
keys are ignored, missing fields take their defaults (None for an optional field without one), and
nested dataclasses, lists, tuples and dicts of them are built by their annotations.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, TypeVar, Union, get_args, get_origin

T = TypeVar("T")

__all__ = ["JSON_KEY", "ShapeError", "from_json", "to_json"]

JSON_KEY = "json_key"  # field metadata: the JSON key of a field whose name differs from it


class ShapeError(ValueError):
    """Data that does not have the shape of the type asked for; the message names the field."""


def to_json(value: Any) -> Any:
    """Dicts, lists and scalars for a value made of dataclasses, mappings, sequences and scalars."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.metadata.get(JSON_KEY, f.name): to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def from_json(cls: type[T], data: Any, where: str = "") -> T:
    """A `cls` (a dataclass) built from JSON data; raises ShapeError naming the first bad field."""
    return typing.cast(T, _build(cls, data, where or cls.__name__))


@lru_cache(maxsize=None)
def _hints(cls: type) -> tuple[tuple[str, str, Any, bool], ...]:
    """(name, JSON key, annotation, required) of each init field of a dataclass, annotations resolved once."""
    module = sys.modules.get(cls.__module__)
    hints = typing.get_type_hints(cls, globalns=vars(module) if module else None)
    out = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.append((f.name, f.metadata.get(JSON_KEY, f.name), hints[f.name], required))
    return tuple(out)


def _build(tp: Any, data: Any, where: str) -> Any:
    if tp is Any:
        return data
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        options = get_args(tp)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _build(option, data, where)
            except ShapeError as exc:
                errors.append(str(exc))
        raise ShapeError(errors[0] if errors else f"{where}: got {data!r}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(data, Mapping):
            raise ShapeError(f"{where}: expected an object, got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for name, key, hint, required in _hints(tp):
            if key in data:
                kwargs[name] = _build(hint, data[key], f"{where}.{key}")
            elif required:
                if _optional(hint):
                    kwargs[name] = None
                else:
                    raise ShapeError(f"{where}: missing {key!r}")
        made: Any = tp(**kwargs)
        return made
    if origin in (list, tuple, typing.Sequence) or tp in (list, tuple):
        if not isinstance(data, (list, tuple)):
            raise ShapeError(f"{where}: expected a list, got {type(data).__name__}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(data):
                raise ShapeError(f"{where}: expected {len(args)} items, got {len(data)}")
            return tuple(_build(a, d, f"{where}[{i}]") for i, (a, d) in enumerate(zip(args, data)))
        item = args[0] if args else Any
        built = [_build(item, d, f"{where}[{i}]") for i, d in enumerate(data)]
        return tuple(built) if origin is tuple or tp is tuple else built
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        if not isinstance(data, Mapping):
            raise ShapeError(f"{where}: expected an object, got {type(data).__name__}")
        args = get_args(tp)
        value_type = args[1] if len(args) == 2 else Any
        return {str(k): _build(value_type, v, f"{where}.{k}") for k, v in data.items()}
    if origin is typing.Literal:
        if data not in get_args(tp):
            raise ShapeError(f"{where}: expected one of {', '.join(map(repr, get_args(tp)))}, got {data!r}")
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise ShapeError(f"{where}: expected a number, got {data!r}")
        return float(data)
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            if isinstance(data, float) and data.is_integer():
                return int(data)
            raise ShapeError(f"{where}: expected an integer, got {data!r}")
        return data
    if tp is str:
        if not isinstance(data, str):
            raise ShapeError(f"{where}: expected text, got {data!r}")
        return data
    if tp is bool:
        if not isinstance(data, bool):
            raise ShapeError(f"{where}: expected true or false, got {data!r}")
        return data
    if tp is type(None):
        if data is not None:
            raise ShapeError(f"{where}: expected null, got {data!r}")
        return None
    return data  # object, or a type this module does not check: taken as it is


def _optional(tp: Any) -> bool:
    origin = get_origin(tp)
    return (origin is Union or origin is types.UnionType) and type(None) in get_args(tp)

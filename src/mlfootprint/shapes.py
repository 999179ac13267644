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
    try:
        return typing.cast(T, _converter(typing.cast(Any, cls))(data))
    except _Bad as bad:
        raise ShapeError(f"{where or cls.__name__}{''.join(reversed(bad.path))}: {bad.message}") from None


class _Bad(Exception):
    """A bad value deep in the data; each enclosing converter adds its step to `path` as it unwinds (the
    path is built only when something is wrong: a listing of 10,000 rows builds none)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []


Convert = typing.Callable[[Any], Any]


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


@lru_cache(maxsize=None)
def _converter(tp: Any) -> Convert:
    """The function that builds a `tp` from JSON data, made once per type (the annotations are read here,
    not for every value)."""
    if tp is Any:
        return _same
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return _union(get_args(tp))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass(tp)
    if origin in (list, tuple, typing.Sequence) or tp in (list, tuple):
        return _sequence(tp, origin)
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        args = get_args(tp)
        return _mapping(_converter(args[1] if len(args) == 2 else Any))
    if origin is typing.Literal:
        return _literal(get_args(tp))
    return _SCALARS.get(tp, _same)  # object, or a type this module does not check: taken as it is


def _same(data: Any) -> Any:
    return data


def _union(options: tuple[Any, ...]) -> Convert:
    nullable = type(None) in options
    converters = [_converter(o) for o in options if o is not type(None)]

    def convert(data: Any) -> Any:
        if data is None and nullable:
            return None
        first: _Bad | None = None
        for conv in converters:
            try:
                return conv(data)
            except _Bad as bad:
                first = first or bad
        raise first or _Bad(f"got {data!r}")
    return convert


def _dataclass(tp: type) -> Convert:
    fields = [(name, key, _converter(hint), required and _optional(hint), required and not _optional(hint))
              for name, key, hint, required in _hints(tp)]

    def convert(data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise _Bad(f"expected an object, got {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        for name, key, conv, none_when_missing, must_have in fields:
            if key in data:
                try:
                    kwargs[name] = conv(data[key])
                except _Bad as bad:
                    bad.path.append(f".{key}")
                    raise
            elif none_when_missing:
                kwargs[name] = None
            elif must_have:
                raise _Bad(f"missing {key!r}")
        return tp(**kwargs)
    return convert


def _sequence(tp: Any, origin: Any) -> Convert:
    args = get_args(tp)
    as_tuple = origin is tuple or tp is tuple

    def items(data: Any) -> None:
        if not isinstance(data, (list, tuple)):
            raise _Bad(f"expected a list, got {type(data).__name__}")

    if origin is tuple and args and args[-1] is not Ellipsis:
        fixed = [_converter(a) for a in args]

        def convert_fixed(data: Any) -> Any:
            items(data)
            if len(fixed) != len(data):
                raise _Bad(f"expected {len(fixed)} items, got {len(data)}")
            return tuple(_item(conv, d, i) for i, (conv, d) in enumerate(zip(fixed, data)))
        return convert_fixed
    conv = _converter(args[0] if args else Any)

    def convert(data: Any) -> Any:
        items(data)
        built = [_item(conv, d, i) for i, d in enumerate(data)]
        return tuple(built) if as_tuple else built
    return convert


def _item(conv: Convert, data: Any, i: int) -> Any:
    try:
        return conv(data)
    except _Bad as bad:
        bad.path.append(f"[{i}]")
        raise


def _mapping(conv: Convert) -> Convert:
    def convert(data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise _Bad(f"expected an object, got {type(data).__name__}")
        out = {}
        for k, v in data.items():
            try:
                out[str(k)] = conv(v)
            except _Bad as bad:
                bad.path.append(f".{k}")
                raise
        return out
    return convert


def _literal(allowed: tuple[Any, ...]) -> Convert:
    def convert(data: Any) -> Any:
        if data not in allowed:
            raise _Bad(f"expected one of {', '.join(map(repr, allowed))}, got {data!r}")
        return data
    return convert


def _float(data: Any) -> float:
    if type(data) is float:
        return data
    if isinstance(data, bool) or not isinstance(data, (int, float)):
        raise _Bad(f"expected a number, got {data!r}")
    return float(data)


def _int(data: Any) -> int:
    if type(data) is int or (isinstance(data, int) and not isinstance(data, bool)):
        return data
    if isinstance(data, float) and data.is_integer():
        return int(data)
    raise _Bad(f"expected an integer, got {data!r}")


def _str(data: Any) -> str:
    if not isinstance(data, str):
        raise _Bad(f"expected text, got {data!r}")
    return data


def _bool(data: Any) -> bool:
    if not isinstance(data, bool):
        raise _Bad(f"expected true or false, got {data!r}")
    return data


def _none(data: Any) -> None:
    if data is not None:
        raise _Bad(f"expected null, got {data!r}")


_SCALARS: dict[Any, Convert] = {float: _float, int: _int, str: _str, bool: _bool, type(None): _none}


def _optional(tp: Any) -> bool:
    origin = get_origin(tp)
    return (origin is Union or origin is types.UnionType) and type(None) in get_args(tp)

"""The project's own error types, so callers can catch ours without catching everything.

Every message is one line that names the offending value and what would be accepted: the CLI prints
it as-is and exits 2, never with a traceback.
"""

from __future__ import annotations


class MlfootprintError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(MlfootprintError, ValueError):
    """A setting (flag, env var, config file) has a value we cannot use."""


class StoreError(MlfootprintError):
    """The run store cannot be opened, read or written."""


class RunNotFoundError(MlfootprintError, KeyError):
    """No stored run has the requested id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "run not found"


class StoreConfigError(StoreError):
    """The store setting itself is wrong (an invalid URL, another application's database, a newer
    schema): bad input, refused before anything runs."""


class StoreMissingError(StoreError):
    """A reader was pointed at a store that does not exist (yet): nothing is created for it."""


class MissingModelShape(ConfigError):
    """A serving estimate was asked for a model whose layers and hidden size are unknown (its KV cache
    cannot be sized). The message names `estimate`'s options; another front end (`serve`) names its
    own through `message(...)`."""

    def __init__(self) -> None:
        super().__init__(self.message("--layers", "--d-model", "--kv-dim", "--model"))

    @staticmethod
    def message(layers: str, d_model: str, kv_dim: str, model: str) -> str:
        return (f"a serving estimate needs the model's shape: give {layers} and {d_model} (and {kv_dim}, key/value "
                f"heads x head dim, for grouped-query attention), or {model}")


class MissingDependency(MlfootprintError, ImportError):
    """A feature needs an optional dependency that is not installed; the message names it and the
    `pip install` that brings it (mlfootprint.extras says which extra has which module)."""

"""The package's version, in a module of its own: what reports and records stamp, without importing the rest."""

__version__ = "0.2.0"

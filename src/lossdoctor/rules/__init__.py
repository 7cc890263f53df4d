"""The rules: one module per finding kind, each with ``KIND`` and ``check(ctx) -> findings``."""

from __future__ import annotations

import importlib
from types import ModuleType

from lossdoctor.findings import KINDS

__all__ = ["KINDS", "rule"]


def rule(kind: str) -> ModuleType:
    """The module of the rule for `kind`."""
    if kind not in KINDS:
        raise KeyError(kind)
    return importlib.import_module(f"lossdoctor.rules.{kind}")

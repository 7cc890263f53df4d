"""Exceptions and warnings lossdoctor raises on bad input."""

from __future__ import annotations

import os

__all__ = ["LossdoctorError", "ReadError", "ReadWarning"]


class LossdoctorError(Exception):
    """Base class of every error lossdoctor raises on purpose; its message is one line."""


class ReadError(LossdoctorError):
    """A source could not be read: ``"<path>: <problem>"``."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ReadWarning(UserWarning):
    """A reader recovered from a problem (truncated record, undecodable bytes …)."""

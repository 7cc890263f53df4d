"""Exceptions and warnings lossdoctor raises on bad input.

Their messages are catalogued `Message`s where lossdoctor wrote them: ``str(exc)`` is the
English line, ``exc.text(lang)`` the line in another language (`lossdoctor.messages_lines`).
"""

from __future__ import annotations

import os
from typing import Any

from lossdoctor.messages_lines import Message

__all__ = ["InternalError", "LossdoctorError", "ReadError", "ReadWarning"]


def _text(args: tuple[Any, ...], lang: str) -> str:
    first = args[0] if len(args) == 1 else None
    if isinstance(first, Message):
        return first.text(lang)
    return str(first) if len(args) == 1 else str(args)


class LossdoctorError(Exception):
    """Base class of every error lossdoctor raises on purpose; its message is one line (a
    `Message`, or plain text that is shown as it is in every language)."""

    @property
    def message(self) -> str:
        """The message the error was raised with (a `Message` when it is catalogued)."""
        return self.args[0] if len(self.args) == 1 else str(self)

    def text(self, lang: str = "en") -> str:
        """The one-line message in `lang` (``"en"`` or ``"zh"``)."""
        return _text(self.args, lang)


class ReadError(LossdoctorError):
    """A source could not be read: ``"<path>: <problem>"``.

    Args:
        path: the file or directory.
        problem: a `Message`, or the code of one with its parameters as keywords
            (``ReadError(path, "cannot_read", reason=...)``); an unknown code is a ValueError.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, /, **params: Any) -> None:
        self.path = os.fspath(path)
        self.problem = problem if isinstance(problem, Message) else Message(problem, **params)
        super().__init__(Message("at_path", path=self.path, problem=self.problem))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problem))


class InternalError(LossdoctorError):
    """A rule failed on a run: a bug in lossdoctor, not a problem of the log. The message names
    the run's source, the rule and the exception, which is chained as ``__cause__``."""


class ReadWarning(UserWarning):
    """A reader recovered from a problem (truncated record, undecodable bytes …); raised with
    the `Message` of the `ReadError` of a log skipped in a directory."""

    def text(self, lang: str = "en") -> str:
        """The one-line message in `lang` (``"en"`` or ``"zh"``)."""
        return _text(self.args, lang)

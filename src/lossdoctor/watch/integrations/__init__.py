"""Callbacks for training frameworks; each module imports its framework."""

from __future__ import annotations

from typing import Any

from lossdoctor.watch.core import Watch


def check_watch_options(callback: str, source: str, options: dict[str, Any],
                        provided: tuple[str, ...]) -> None:
    """Refuse the `Watch` arguments a framework's callback takes from `source` (its model,
    optimizer …), then validate the others now rather than when training starts."""
    for name in provided:
        if name in options:
            raise TypeError(f"{callback} takes {name!r} from the {source}")
    Watch(**options)

"""Renderers: read `Run`s and `Diagnosis` objects, never compute statistics."""

from __future__ import annotations

from collections.abc import Sequence

from lossdoctor.findings import Diagnosis
from lossdoctor.messages import text
from lossdoctor.messages_lines import Message


def run_count(diagnoses: Sequence[Diagnosis], lang: str) -> Message:
    """The closing count of a report: "3 runs: 1 healthy, 2 needing attention" (or one run's
    status), to render with ``.text(lang)``."""
    healthy = sum(d.healthy for d in diagnoses)
    if len(diagnoses) == 1:
        message = Message("diagnose.summary_one",
                          status=text("healthy" if healthy else "unhealthy", lang))
    else:
        message = Message("diagnose.summary", runs=len(diagnoses), healthy=healthy,
                          bad=len(diagnoses) - healthy)
    return message

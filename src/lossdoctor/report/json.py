"""The design's JSON output: ``{"schema": 1, "runs": [...]}`` with ``null`` for NaN/inf."""

from __future__ import annotations

import json
from typing import Any

from lossdoctor.findings import Diagnosis

__all__ = ["SCHEMA", "diagnoses_to_dict", "diagnoses_to_json"]

#: Bumped on any incompatible change of the JSON layout.
SCHEMA = 1


def diagnoses_to_dict(diagnoses: list[Diagnosis], lang: str = "en") -> dict[str, Any]:
    """The JSON-ready object for several diagnosed runs; every text in `lang`."""
    return {
        "schema": SCHEMA,
        "healthy": all(d.healthy for d in diagnoses),
        "runs": [d.to_dict(lang) for d in diagnoses],
    }


def diagnoses_to_json(diagnoses: list[Diagnosis], lang: str = "en") -> str:
    """Indented JSON text (strict: no NaN tokens)."""
    return json.dumps(diagnoses_to_dict(diagnoses, lang), indent=2, ensure_ascii=False,
                      allow_nan=False)

"""The long explanation of each finding kind (Markdown shipped in the package)."""

from __future__ import annotations

from importlib import resources

from lossdoctor.errors import LossdoctorError
from lossdoctor.findings import KINDS
from lossdoctor.messages import check_lang
from lossdoctor.messages_lines import Message

__all__ = ["explanation", "title"]


def explanation(kind: str, lang: str = "en") -> str:
    """The Markdown text explaining `kind` in `lang` (``"en"`` or ``"zh"``)."""
    if kind not in KINDS:
        raise LossdoctorError(Message("explain.unknown_kind", kind=kind, known=", ".join(KINDS)))
    check_lang(lang)
    path = resources.files("lossdoctor") / "explanations" / lang / f"{kind}.md"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LossdoctorError(Message("explain.not_installed", lang=lang, kind=kind)) from None


def title(kind: str, lang: str = "en") -> str:
    """The one-line title of `kind` (the first heading of its explanation, without the kind)."""
    first = explanation(kind, lang).splitlines()[0].lstrip("# ").strip()
    return first.split(":", 1)[1].strip() if ":" in first else first

"""The long explanations of the finding kinds (``src/lossdoctor/explanations/<lang>/<kind>.md``).

They are data that ``lossdoctor explain`` prints and extracts parts of, so every file must have
the same skeleton: ``# <kind>: <title>``, one gist paragraph, then five ``##`` sections in a fixed
order. The Python snippets must parse (after ``<placeholder>`` → number) and every torch name
they use must exist in the installed torch.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "lossdoctor" / "explanations"
KINDS = ("overfitting", "loss_rising", "divergence", "non_finite", "spike", "oscillation",
         "plateau", "underfitting", "loss_up_acc_up", "converged")
HEADINGS = {
    "en": ["What it looks like", "Why it happens", "What to do", "When it is not a problem",
           "Example"],
    "zh": ["表现", "原因", "处理方法", "何时不是问题", "示例"],
}
FILES = [(lang, kind) for lang in HEADINGS for kind in KINDS]
PLACEHOLDER = re.compile(r"<([a-z][a-z0-9_]*)>")
FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)\s*$")


def _text(lang: str, kind: str) -> str:
    return (ROOT / lang / f"{kind}.md").read_text(encoding="utf-8")


def _split(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Prose lines outside code fences, and the (language, body) of every fenced block."""
    prose: list[str] = []
    blocks: list[tuple[str, str]] = []
    lang: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        m = FENCE.match(line)
        if lang is None and m:
            lang, body = m.group(1), []
        elif lang is not None and line.strip() == "```":
            blocks.append((lang, "\n".join(body)))
            lang = None
        elif lang is not None:
            body.append(line)
        else:
            prose.append(line)
    assert lang is None, "unclosed code fence"
    return prose, blocks


def _python_blocks(lang: str, kind: str) -> list[str]:
    return [PLACEHOLDER.sub("1", body) for tag, body in _split(_text(lang, kind))[1]
            if tag == "python"]


def test_no_stray_files() -> None:
    for lang in HEADINGS:
        found = {p.stem for p in (ROOT / lang).glob("*.md")}
        assert found == set(KINDS), f"{lang}: {sorted(found ^ set(KINDS))}"


@pytest.mark.parametrize(("lang", "kind"), FILES)
def test_structure(lang: str, kind: str) -> None:
    text = _text(lang, kind)
    prose, blocks = _split(text)
    lines = text.splitlines()
    assert re.fullmatch(rf"# {kind}: \S.*", lines[0]), lines[0]
    assert lines[1] == "", "a blank line must follow the title"
    headings = [ln for ln in prose if ln.startswith("#")]
    assert headings[0] == lines[0]
    assert [h.removeprefix("## ") for h in headings[1:]] == HEADINGS[lang]
    assert all(h.startswith("## ") for h in headings[1:])
    # the gist: one non-empty paragraph between the title and the first section
    first = lines.index(f"## {HEADINGS[lang][0]}")
    gist = "\n".join(lines[2:first]).strip()
    assert gist and "\n\n" not in gist and not gist.startswith(("-", "*", "`"))
    # every section has content
    sections = re.split(r"^## .*$", "\n".join(prose), flags=re.M)[1:]
    assert all(s.strip() or blocks for s in sections)
    assert all(s.strip() for s in sections[:-1])
    # no line inside a code block may look like a Markdown heading to a line-based extractor
    for _tag, body in blocks:
        assert not any(ln.startswith("#") for ln in body.splitlines()), body


@pytest.mark.parametrize(("lang", "kind"), FILES)
def test_python_blocks_parse(lang: str, kind: str) -> None:
    blocks = _python_blocks(lang, kind)
    assert blocks, "every explanation shows at least one snippet"
    for src in blocks:
        ast.parse(src)


@pytest.mark.parametrize("kind", KINDS)
def test_languages_agree(kind: str) -> None:
    en, zh = _text("en", kind), _text("zh", kind)
    n_words = len(re.findall(r"\S+", en))
    assert 300 <= n_words <= 900, n_words
    assert len(re.findall(r"[\u4e00-\u9fff]", zh)) >= 300, "the Chinese text is too short"
    assert len(_python_blocks("en", kind)) == len(_python_blocks("zh", kind))
    # the same parameter placeholders in both languages
    assert set(PLACEHOLDER.findall(en)) == set(PLACEHOLDER.findall(zh))


def _dotted(node: ast.AST) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _resolve(dotted: str) -> object:
    """Import the longest importable module prefix of ``dotted`` and getattr the rest."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def _names_used(src: str, package: str) -> set[str]:
    """Fully qualified names under ``package`` that a snippet imports or reaches by attribute."""
    tree = ast.parse(src)
    alias: dict[str, str] = {package: package}  # snippets may leave out ``import torch``
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == package:
                    used.add(a.name)
                    alias[a.asname or a.name.split(".")[0]] = a.name if a.asname else package
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == package:
            for a in node.names:
                used.add(f"{node.module}.{a.name}")
                alias[a.asname or a.name] = f"{node.module}.{a.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = _dotted(node)
            if chain and chain[0] in alias:
                used.add(".".join([alias[chain[0]], *chain[1:]]))
    return used


def _all_names(package: str) -> set[str]:
    return {name for lang, kind in FILES for src in _python_blocks(lang, kind)
            for name in _names_used(src, package)}


def test_torch_names_exist() -> None:
    pytest.importorskip("torch")
    names = _all_names("torch")
    assert "torch.nn.utils.clip_grad_norm_" in names  # the walker does see the snippets
    missing = []
    for name in sorted(names):
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, missing


def test_lossdoctor_treatments_exist() -> None:
    """The treatments the snippets name are the ones ``lossdoctor.train`` ships."""
    pytest.importorskip("torch")
    try:
        importlib.import_module("lossdoctor.train")
    except ModuleNotFoundError:
        pytest.skip("lossdoctor.train is not in the tree yet")
    names = _all_names("lossdoctor")
    missing = []
    for name in sorted(names):
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, missing

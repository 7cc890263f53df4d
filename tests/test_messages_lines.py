"""One-line messages in English and Chinese: the catalogue, the mechanism, every call site, and
what the renderers and the CLI show (`lossdoctor.messages_lines`)."""

from __future__ import annotations

import ast
import json
import pickle
import re
import string
import struct
import warnings
from pathlib import Path

import crc32c
import pytest

import lossdoctor
from lossdoctor.cli import main
from lossdoctor.diagnosis import diagnose_run
from lossdoctor.errors import LossdoctorError, ReadError, ReadWarning
from lossdoctor.messages_lines import CATALOGUE, Message, localise
from lossdoctor.read._builder import RunBuilder
from lossdoctor.report.html import render_html
from lossdoctor.report.json import diagnoses_to_dict
from lossdoctor.report.show import run_to_dict

SRC = Path(lossdoctor.__file__).parent
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def _fields(template: str) -> dict[str, tuple[str | None, str]]:
    """Field name → (conversion, format spec)."""
    out = {}
    for _, name, spec, conv in string.Formatter().parse(template):
        if name is not None:
            assert name not in out or out[name] == (conv, spec), (template, name)
            out[name] = (conv, spec or "")
    return out


def _sample(name: str, conv: str | None, spec: str) -> object:
    if spec:
        return 1234.0 + len(name)  # a number: the same digits must appear in both languages
    return f"<{name}>" if conv is None else f"m/{name} x"


@pytest.mark.parametrize("code", sorted(CATALOGUE["en"]))
def test_every_template_formats_in_both_languages(code: str) -> None:
    en, zh = CATALOGUE["en"][code], CATALOGUE["zh"][code]
    fields = _fields(en)
    assert _fields(zh) == fields, "the same fields, conversions and number formats"
    params = {name: _sample(name, conv, spec) for name, (conv, spec) in fields.items()}
    m = Message(code, **params)
    assert str(m) == en.format(**params)
    text_zh = m.text("zh")
    assert text_zh == zh.format(**params)
    assert CJK.search(text_zh), "Chinese text or Chinese punctuation"
    for name, (conv, spec) in fields.items():
        value = params[name]
        shown = repr(value) if conv == "r" else format(value, spec)
        assert shown in str(m) and shown in text_zh, name  # paths, names, numbers kept as is
    assert m.text("fr") == str(m)  # any other language: English


def test_catalogue_languages_have_the_same_codes() -> None:
    assert set(CATALOGUE) == {"en", "zh"}
    assert set(CATALOGUE["zh"]) == set(CATALOGUE["en"])


def test_message_is_its_english_text() -> None:
    m = Message("json.malformed_lines", count=3, line=7)
    assert m == "skipped 3 malformed JSON lines (first at line 7)"
    assert "malformed JSON" in m and isinstance(m, str)
    assert json.dumps([m]) == '["skipped 3 malformed JSON lines (first at line 7)"]'
    assert m.text("zh") == "跳过了 3 行格式错误的 JSON（首次在第 7 行）"
    assert localise(m, "zh") == m.text("zh") and localise("plain", "zh") == "plain"
    back = pickle.loads(pickle.dumps(m))
    assert back == m and back.code == m.code and back.text("zh") == m.text("zh")


def test_nested_messages_render_in_the_same_language() -> None:
    err = ReadError("logs/a.txt", "no_curve", why=Message("text.one_off_lines",
                                                          lines=Message("text.n_lines", count=2),
                                                          skipped=""))
    assert str(err).startswith("logs/a.txt: no training curve found (metric-like numbers only "
                               "on 2 lines of a kind printed once")
    assert err.text("zh").startswith("logs/a.txt：没有找到训练曲线（类似指标的数字只出现在 2 行中")
    assert "line" not in err.text("zh")
    assert pickle.loads(pickle.dumps(err)).text("zh") == err.text("zh")


def test_unknown_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown message code"):
        Message("no such code")
    with pytest.raises(ValueError, match="unknown message code"):
        ReadError("x.csv", "empty file")  # English text is not a code
    b = RunBuilder(name="r", source="x", format="text")
    with pytest.raises(ValueError, match="unknown message code"):
        b.warn("something went wrong")
    with pytest.raises(KeyError):
        Message("json.malformed_lines", count=3)  # a parameter is missing


def test_plain_lossdoctor_errors_are_shown_as_they_are() -> None:
    assert LossdoctorError("as is").text("zh") == "as is"
    assert LossdoctorError(Message("read.no_values")).text("zh") == "没有找到任何指标数值"


# -- every call site uses a catalogued code --------------------------------------------------

# (callable name, position of the message argument); `.warn` of `warnings` is not a reader's.
_SITES = {"ReadError": 1, "warn": 0, "warn_once": 1, "Message": 0}
# Files whose errors and notes must be catalogued too (not only reader warnings and errors).
_LOSSDOCTOR_ERRORS = ["cli.py", "report/html.py", "report/plot.py", "report/show.py",
                      "report/terminal.py", "report/json.py", "errors.py", "diagnosis.py",
                      "explain.py", "demo.py"]
_NOTES = ["diagnosis.py", "watch/core.py"]


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        if isinstance(func.value, ast.Name) and func.value.id == "warnings":
            return None
        return func.attr
    return None


def _codes(node: ast.expr) -> list[str] | None:
    """The codes a message argument can be, or None when it is not a literal code."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        a, b = _codes(node.body), _codes(node.orelse)
        return None if a is None or b is None else a + b
    return None


def _is_message(node: ast.expr) -> bool:
    if isinstance(node, ast.IfExp):
        return _is_message(node.body) and _is_message(node.orelse)
    return isinstance(node, ast.Call) and _name(node.func) == "Message"


def _calls(path: Path) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(path.read_text("utf-8"))) if isinstance(n, ast.Call)]


def test_every_call_site_uses_a_catalogued_code() -> None:
    checked = 0
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "messages_lines.py":
            continue
        for call in _calls(path):
            name = _name(call.func)
            if name not in _SITES or len(call.args) <= _SITES[name]:
                continue
            arg = call.args[_SITES[name]]
            where = f"{path.relative_to(SRC)}:{call.lineno}"
            assert not isinstance(arg, ast.JoinedStr | ast.BinOp), f"{where}: text, not a code"
            codes = _codes(arg)
            if codes is not None:
                missing = [c for c in codes if c not in CATALOGUE["en"]]
                assert not missing, f"{where}: {missing} not in the catalogue"
                checked += 1
    assert checked > 100


@pytest.mark.parametrize("rel", _LOSSDOCTOR_ERRORS)
def test_errors_raised_by_the_cli_and_reports_are_messages(rel: str) -> None:
    for call in _calls(SRC / rel):
        if _name(call.func) == "LossdoctorError" and call.args:
            assert _is_message(call.args[0]), f"{rel}:{call.lineno}"


@pytest.mark.parametrize("rel", _NOTES)
def test_notes_are_messages(rel: str) -> None:
    appended = [c for c in _calls(SRC / rel) if isinstance(c.func, ast.Attribute)
                and c.func.attr == "append" and "notes" in ast.unparse(c.func.value)]
    assert appended
    for call in appended:
        assert _is_message(call.args[0]), f"{rel}:{call.lineno}"


# A literal that looks like a code: an area of the catalogue, a dot, a name (not a file name).
_AREAS = "|".join({c.split(".")[0] for c in CATALOGUE["en"] if "." in c})
_CODE_LIKE = re.compile(rf"({_AREAS})\.(?!(js|css|html|png)$)[a-z_]+")


def _string_constants(path: Path) -> set[str]:
    """The string literals of `path`, docstrings left out."""
    tree = ast.parse(path.read_text("utf-8"))
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docs}


def test_every_code_is_used_and_every_code_like_literal_is_catalogued() -> None:
    literals: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path.name != "messages_lines.py":
            literals |= _string_constants(path)
    assert not [c for c in CATALOGUE["en"] if c not in literals], "unused codes"
    assert not [s for s in literals if _CODE_LIKE.fullmatch(s) and s not in CATALOGUE["en"]]


# -- what the readers, the renderers and the CLI show ----------------------------------------


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    p = tmp_path / "run.jsonl"
    p.write_text('{"loss": 1, "step": 1}\n{"loss": 0.9, "step": 2}\nnot json\n'
                 '{"loss": 0.8, "step": 3}\n{"loss": 0.7, "step": 4}\n{"loss": 0.6, "st')
    return p


EN = ["skipped 1 malformed JSON lines (first at line 3)",
      "last line (6) is incomplete: the file is still being written or was cut off"]
ZH = ["跳过了 1 行格式错误的 JSON（首次在第 3 行）",
      "最后一行（第 6 行）不完整：文件仍在写入或已被截断"]
# the diagnosis's own note on a curve this short
SHORT_EN = ["only 4 points per curve: most checks need 6 or more, so finding nothing here says "
            "little"]
SHORT_ZH = ["每条曲线只有 4 个点：多数检查需要至少 6 个点，没有发现问题也说明不了什么"]


def test_reader_warnings_in_both_languages(jsonl: Path) -> None:
    (run,) = lossdoctor.read(jsonl)
    assert run.warnings == EN
    assert [localise(w, "zh") for w in run.warnings] == ZH
    assert run_to_dict(run)["warnings"] == EN and run_to_dict(run, "zh")["warnings"] == ZH
    (copy,) = pickle.loads(pickle.dumps([run]))  # as diagnose_all's worker processes see it
    assert [localise(w, "zh") for w in copy.warnings] == ZH


def test_renderers_show_warnings_and_notes_in_the_chosen_language(jsonl: Path) -> None:
    (run,) = lossdoctor.read(jsonl)
    d = diagnose_run(run)
    b = RunBuilder(name="lr only", source="lr.csv", format="csv")
    b.add_series("lr", [0.1, 0.1, 0.01])
    no_direction = diagnose_run(b.build())
    assert no_direction.notes == ["no loss or metric with a known direction to diagnose"]
    runs = diagnoses_to_dict([d, no_direction], "zh")["runs"]
    assert runs[0]["warnings"] == ZH + SHORT_ZH
    assert runs[1]["warnings"] == ["没有可诊断的损失，也没有方向已知的指标"]
    assert diagnoses_to_dict([d], "en")["runs"][0]["warnings"] == EN + SHORT_EN
    page = render_html([d], lang="zh")
    assert all(w in page for w in ZH + SHORT_ZH) and EN[0] not in page


def test_python_api_errors_and_dicts_in_both_languages(jsonl: Path) -> None:
    from lossdoctor.errors import LossdoctorError
    from lossdoctor.explain import explanation

    (run,) = lossdoctor.read(jsonl)
    assert diagnose_run(run).to_dict("zh")["warnings"] == ZH + SHORT_ZH
    with pytest.raises(LossdoctorError) as info:
        diagnose_run(run, select=["nope"])
    assert info.value.text("zh").startswith("select 中有未知的类型：nope；")
    with pytest.raises(LossdoctorError) as info:
        diagnose_run(run, metric="nope")
    assert info.value.text("zh") == f"{jsonl}：没有指标 'nope'；已有的指标：train_loss"
    with pytest.raises(LossdoctorError) as info:
        explanation("nope")
    assert str(info.value).startswith("unknown kind 'nope'; known: ")
    assert info.value.text("zh").startswith("未知类型 'nope'；已知类型：")


def test_tensorboard_truncated_record_in_chinese(tmp_path: Path) -> None:
    event_pb2 = pytest.importorskip("tensorboard.compat.proto.event_pb2")
    summary_pb2 = pytest.importorskip("tensorboard.compat.proto.summary_pb2")

    def record(data: bytes) -> bytes:
        def masked(b: bytes) -> int:
            crc = crc32c.crc32c(b)
            return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
        head = struct.pack("<Q", len(data))
        return head + struct.pack("<I", masked(head)) + data + struct.pack("<I", masked(data))

    data = b"".join(record(event_pb2.Event(step=i, summary=summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (i + 1))]
    )).SerializeToString()) for i in range(5))
    p = tmp_path / "events.out.tfevents.1.host"
    p.write_bytes(data[:-7])
    (run,) = lossdoctor.read(p)
    (w,) = run.warnings
    assert w.startswith(f"{p.name}: truncated record (") and "read the 4 records before it" in w
    zh = localise(w, "zh")
    assert zh.startswith(f"{p.name}：记录被截断（记录头之后只有 ") and "已读取此前的 4 条记录" in zh


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with warnings.catch_warnings():
        code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_prints_warnings_in_the_chosen_language(
        jsonl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "show", "--lang", "zh", str(jsonl))
    assert code == 0 and all(w in out for w in ZH) and "警告" in out and "点数" in out
    code, out, _ = _cli(capsys, "show", "--json", "--lang", "zh", str(jsonl))
    assert json.loads(out)["runs"][0]["warnings"] == ZH
    code, out, _ = _cli(capsys, "diagnose", "--json", "--lang", "zh", str(jsonl))
    assert json.loads(out)["runs"][0]["warnings"] == ZH + SHORT_ZH
    code, out, _ = _cli(capsys, "diagnose", "--lang", "zh", str(jsonl))
    assert all(w in out for w in ZH + SHORT_ZH)
    code, out, _ = _cli(capsys, "show", "--lang", "en", str(jsonl))
    assert all(w in out for w in EN) and "warning:" in out


def test_cli_errors_in_the_chosen_language(tmp_path: Path, jsonl: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = _cli(capsys, "diagnose", "--lang", "zh", str(empty))
    assert code == 2 and err == f"lossdoctor: 错误：{empty}：空文件\n"
    code, _, err = _cli(capsys, "diagnose", "--lang", "en", str(empty))
    assert code == 2 and err == f"lossdoctor: error: {empty}: empty file\n"
    code, _, err = _cli(capsys, "diagnose", "--lang", "zh", "--select", "nope", str(jsonl))
    assert code == 2 and err.startswith("lossdoctor: 错误：select 中有未知的类型：nope；")
    code, _, err = _cli(capsys, "diagnose", "--lang", "en", "--select", "nope", str(jsonl))
    assert err.startswith("lossdoctor: error: unknown kind(s) in select: nope; known: ")
    code, _, err = _cli(capsys, "diagnose", "--lang", "zh", "--metric", "nope", str(jsonl))
    assert err == f"lossdoctor: 错误：{jsonl}：没有指标 'nope'；已有的指标：train_loss\n"
    code, out, err = _cli(capsys, "diagnose", "--lang", "zh", "--fail-on", "x", str(jsonl))
    assert code == 2 and not out and err.startswith("lossdoctor: 错误：--fail-on：未知的 x；")


def test_cli_language_from_the_locale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    for var in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "run.csv").write_text("epoch,loss\n1,1.0\n2,0.8\n3,0.7\n")
    code, out, err = _cli(capsys, "show", str(tmp_path))  # show has no --lang here: the locale
    assert code == 0 and "train_loss" in out
    assert err == f"lossdoctor: 警告：{tmp_path / 'empty.csv'}：空文件\n"
    code, _, err = _cli(capsys, "show", str(tmp_path / "empty.csv"))
    assert code == 2 and err == f"lossdoctor: 错误：{tmp_path / 'empty.csv'}：空文件\n"


def test_read_warning_of_a_skipped_log_carries_its_message(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "run.csv").write_text("epoch,loss\n1,1.0\n2,0.8\n3,0.7\n")
    with pytest.warns(ReadWarning, match="empty.csv: empty file") as caught:
        lossdoctor.read(tmp_path)
    (w,) = [c.message for c in caught if isinstance(c.message, ReadWarning)]
    assert w.text("zh") == f"{tmp_path / 'empty.csv'}：空文件"

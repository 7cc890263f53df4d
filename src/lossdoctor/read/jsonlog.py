"""JSON and JSONL training logs → `Run`s.

Recognised from the content (the file name is only used to name the run):

* Hugging Face ``trainer_state.json`` (format ``hf_trainer_state``): the ``log_history`` list
  mixes training entries (``loss``, ``learning_rate``, ``grad_norm``), evaluation entries
  (``eval_*``) and the final summary entry (``train_runtime``, ``train_loss``,
  ``total_flos`` …), which goes to ``run.meta``, not into a series.
* Keras ``History.history`` dumps (``keras_history``): ``{"loss": [...], "val_loss": [...]}``,
  list *i* at epoch *i* (0-based, as Keras counts); also pandas' ``to_json()`` of that table
  (``{"loss": {"0": ..., "1": ...}}``).
* W&B ``wandb-history.jsonl`` (``wandb_history``): ``_step`` is the step unless a
  ``global_step`` key is logged; ``_runtime``/``_timestamp`` and other ``_`` keys are
  bookkeeping; media entries (dicts with ``_type``) are skipped; nested dicts of numbers are
  flattened to ``parent.child`` (the name W&B's UI shows).
* Generic JSONL (``jsonl``): one metric dict per line, with ``step``/``global_step``/
  ``iteration``/``epoch`` keys or metric-like keys (``loss``, ``val_acc`` …); a file that
  several runs were appended to (the step counter restarts) gives one run per restart. A
  step counter that goes back while the epoch advances counts the batches of each epoch
  (MMCV's ``*.log.json``): the points keep their epoch but no step, with a warning, as in text
  logs. A record's phase key (``"mode": "val"``, also ``phase``/``split``/``stage``) prefixes
  its metric names (``loss`` → ``val_loss``); a validation record's own batch counter is not
  a training step. MMEngine's ``vis_data/scalars.json`` logs validation rows by epoch under
  the training rows' ``step`` key (``{"accuracy": 94.4, "step": 3}`` after ``{"epoch": 3,
  "iter": 135, "step": 135, …}``): such a row is read as the validation of that epoch.
  Numbers written as strings (``"9.617"``: fairseq's JSON log) are numbers.
* TensorBoard's scalar download as JSON (``tensorboard_json``): ``[[wall_time, step,
  value], ...]``; the tag comes from a ``run-<run>-tag-<tag>.json`` file name (else the
  file stem), as for the CSV download.
* Generic JSON documents (``json``): a list of such dicts anywhere in the document, e.g.
  ``{"epochs": [{"epoch": 1, "loss": ..., "val_rho": ...}]}``. Several lists under different
  keys (``{"train": [...], "val": [...]}``) become one run with prefixed metric names
  (``train/loss``, ``val/loss``); lists under different list elements become separate runs.

Only training curves are read: some metric must be recorded twice or more (HF
``trainer_state.json`` and TensorBoard downloads, which only a training writes, excepted).
A single record of numbers (``all_results.json``, ``eval_results.json``,
``wandb-summary.json``, a pipeline's ``metrics.json``, a one-line JSONL) is a summary of final
values and raises ``ReadError(path, "no training curve found (...)")``. A dict of lists is a
Keras history only as the whole document, with every column as long as the longest but
validation ones; a record without a step/epoch key is a point of its list's order only if it
holds no lists. So numbers deep in a document of notes (``labels.json``'s
``{"key_points": {"spikes": {"val_loss": [12, 31]}, "plateaus": [{"range": [1, 8], ...}]}}``)
and configs are not read as runs.

Keys that are axes (``step``, ``epoch`` …), clocks (``*_runtime``, ``*_timestamp``,
``time``, ``eta``), throughput (``*_per_second``), memory, ids, seeds or counters
(``total_flos``, ``num_input_tokens_seen``, ``num_tokens``, ``num_updates``) are not
metrics. Bare ``NaN``/``Infinity``/``-Infinity`` tokens (and the strings ``"nan"``,
``"inf"`` …) are read as non-finite values.

JSONL is read line by line (memory grows with the points, not the file); a malformed line is
skipped and counted in one warning; a truncated last line (a file still being written) gives a
warning. JSON documents are parsed whole, so they are limited to `MAX_DOCUMENT_BYTES`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from lossdoctor.errors import ReadError
from lossdoctor.messages_lines import Message
from lossdoctor.names import CANONICAL, canonical_name, direction
from lossdoctor.read import read_head
from lossdoctor.read._builder import RunBuilder
from lossdoctor.run import Run

__all__ = ["MAX_DOCUMENT_BYTES", "NAME", "read", "sniff"]

NAME = "json"

#: Largest JSON *document* read (bytes). ``json.loads`` needs about 5-10x the file size in
#: memory; JSONL files have no limit because they are streamed line by line.
MAX_DOCUMENT_BYTES = 64 * 2**20

# In order of preference. Plural "steps"/"epochs" are left out: in a dict they are counts
# (a config), not the position of a row.
_STEP_KEYS = (
    "global_step", "train/global_step", "trainer/global_step", "step", "iteration", "iter",
    "_step",
)
_EPOCH_KEYS = ("epoch", "train/epoch", "trainer/epoch")
_AXIS_KEYS = frozenset(_STEP_KEYS + _EPOCH_KEYS)
_NON_METRIC_NAMES = frozenset({
    "timestamp", "time", "wall_time", "walltime", "runtime", "elapsed", "duration",
    "total_flos", "flos", "num_input_tokens_seen", "num_tokens", "memory", "eta",
    "eta_seconds", "id", "seed",
})
_NON_METRIC_SUFFIXES = (
    "_runtime", "_per_second", "_per_sec", "_timestamp", "_time", "num_tokens", "tokens_seen",
    "_memory", "_id", "num_updates",
)
_NON_FINITE_STRINGS = {
    "nan": math.nan, "+nan": math.nan, "-nan": math.nan, "inf": math.inf, "+inf": math.inf,
    "-inf": -math.inf, "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf,
}
_DECIMAL = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")
# A record's phase, when a key names it ({"mode": "val", "loss": …}: MMCV's JSON log): the
# metric names of a validation or test record get the phase as a prefix.
_PHASE_KEYS = ("mode", "phase", "split", "stage")
_PHASE_PREFIX = {
    "val": "val_", "valid": "val_", "validation": "val_", "eval": "val_", "evaluation": "val_",
    "dev": "val_", "test": "test_",
}
_HF_META_KEYS = (
    "best_metric", "best_model_checkpoint", "best_global_step", "global_step", "max_steps",
    "num_train_epochs", "train_batch_size", "logging_steps", "eval_steps", "save_steps",
)
_MAX_DEPTH = 8  # how deep `_candidates` looks for metric lists in a JSON document
_MAX_FLATTEN = 3  # how many levels of nested dicts a record is flattened
_SNIFF_LINES = 20

_TB_EXPORT_NAME = re.compile(r"run[-_](?P<run>.*?)[-_]?tag[-_](?P<tag>.+)")
_MIN_WALL_TIME = 1e8  # seconds since 1970 (1973): a TensorBoard export's first column

# For documents larger than the 64 KiB head (which cannot be parsed whole when sniffing).
_BIG_DOC_HINTS = re.compile(
    r'"log_history"\s*:\s*\['
    r"|^\s*\[\s*\[\s*\d{9,}(?:\.\d*)?(?:[eE]\+?\d+)?\s*,\s*\d+(?:\.0)?\s*,"
    r'|\[\s*\{[^{}\[\]]{0,4000}?"(?:global_step|step|_step|epoch|iteration)"\s*:\s*'
    r"(?:-?\d|NaN)"
    r'|"(?:val_)?(?:loss|acc|accuracy)"\s*:\s*\[\s*(?:-?\d|NaN|-?Infinity)'
)


# ---------------------------------------------------------------------------- values and keys


def _number(v: Any) -> float | None:
    """`v` as a float, or None when it is not a number (bools, strings, lists …)."""
    if type(v) is float:  # the common case first
        return v
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        return v
    if isinstance(v, int):
        try:
            return float(v)
        except OverflowError:
            return math.inf if v > 0 else -math.inf
    if isinstance(v, str) and len(v) <= 40:
        if _DECIMAL.fullmatch(v):  # fairseq's JSON log writes its statistics as "9.617"
            return float(v)
        return _NON_FINITE_STRINGS.get(v.strip().lower())
    return None


def _is_bookkeeping(key: str) -> bool:
    leaf = re.split(r"[/.]", key)[-1].lower()
    return (
        key.lower() in _AXIS_KEYS
        or leaf.startswith("_")
        or leaf in _NON_METRIC_NAMES
        or leaf.endswith(_NON_METRIC_SUFFIXES)
    )


def _phase(rec: dict[str, Any]) -> str:
    """The metric-name prefix of a record's phase (``"val_"`` for ``{"mode": "val"}``), or
    ``""``."""
    for k in _PHASE_KEYS:
        v = rec.get(k)
        if isinstance(v, str):
            return _PHASE_PREFIX.get(v.strip().lower(), "")
    return ""


def _phased(prefix: str, phase: str, key: str) -> str:
    """The metric name of `key` in a record of `phase`: the phase prefix is not added to the
    learning rate and gradient norm (not per phase), to a key that already names a phase, nor
    to a namespaced key (``coco/bbox_mAP``: the namespace names it)."""
    if phase and "/" not in key and canonical_name(key) not in ("lr", "grad_norm") and not (
        key.lower().startswith(("val", "eval", "test", "dev"))
    ):
        key = phase + key
    return prefix + key


def _is_metric_like(key: str) -> bool:
    """True for names that are clearly training metrics (losses, accuracies, error rates)."""
    canon = canonical_name(key)
    return (canon in CANONICAL and canon not in ("lr", "grad_norm")) or direction(key) is not None


def _axis(rec: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    for k in keys:
        if k in rec:
            v = _number(rec[k])
            if v is not None and math.isfinite(v):
                return v
    return None


def _axis_key(rec: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The key of `rec` that is the first of `keys` (any letter case: ``Epoch``) holding a
    finite number."""
    lowered: dict[str, str] | None = None
    for k in keys:
        actual: str | None = k
        if k not in rec:
            if lowered is None:
                lowered = {x.lower(): x for x in rec if isinstance(x, str)}
            actual = lowered.get(k)
        if actual is not None and _axis(rec, (actual,)) is not None:
            return actual
    return None


def _flatten(rec: dict[str, Any], sep: str) -> dict[str, Any]:
    """Nested dicts of values → ``parent<sep>child`` keys; media dicts (with ``_type``) and
    lists are dropped."""
    if not any(isinstance(v, dict) for v in rec.values()):
        return rec
    out: dict[str, Any] = {}

    def walk(d: dict[str, Any], prefix: str, depth: int) -> None:
        for k, v in d.items():
            name = f"{prefix}{k}"
            if isinstance(v, dict):
                if "_type" not in v and depth < _MAX_FLATTEN:
                    walk(v, f"{name}{sep}", depth + 1)
            else:
                out[name] = v

    walk(rec, "", 0)
    return out


def _is_record(rec: Any) -> bool:
    """True for a dict that looks like one logged row: an axis key and a number (nested dicts
    count, as W&B and JSONL loggers nest), or a metric-like key with a number at the top of a
    flat dict. Without an axis key the row is a point of its list's row order only if it holds
    no lists: ``{"range": [1, 8], "val_loss": 4.5}`` describes a span, not a point."""
    if not isinstance(rec, dict):
        return False
    has_axis = _axis_key(rec, _STEP_KEYS + _EPOCH_KEYS) is not None
    if not has_axis and any(isinstance(v, list) for v in rec.values()):
        return False
    for k, v in (_flatten(rec, "/") if has_axis else rec).items():
        if not isinstance(k, str) or _number(v) is None or _is_bookkeeping(k):
            continue
        if has_axis or _is_metric_like(k):
            return True
    return False


# ----------------------------------------------------------------------------- record routing


@dataclass
class _Segment:
    """The records of one run, with the first and last value seen on the axis that decides
    restarts (`axis`: ``"step"``, or ``"epoch"`` for rows without a step and once the step
    counter is known to restart every epoch), and the last step and epoch of any row."""

    builder: RunBuilder
    first: float | None = None
    last: float | None = None
    rows: int = 0
    axis: str | None = None
    last_step: float | None = None
    first_epoch: float | None = None
    last_epoch: float | None = None
    epoch_local: bool = False


@dataclass
class RecordSink:
    """Routes metric dicts into `RunBuilder`s, starting a new run when the step (or epoch)
    counter restarts (if `split`)."""

    path: Path
    name: str
    format: str
    sep: str = "/"
    prefix: str = ""
    split: bool = True
    segments: list[_Segment] = field(default_factory=list)
    # The step and epoch keys, fixed by the first row that has one (W&B rows carry both
    # `_step` and, when logged, `train/global_step`: one axis per file, not per row).
    step_key: str | None = None
    epoch_key: str | None = None
    # phase prefix → key → metric name (with `prefix`), or None for axes and bookkeeping.
    _names: dict[str, dict[Any, str | None]] = field(default_factory=dict)

    def _new_segment(self) -> _Segment:
        k = len(self.segments) + 1
        name = self.name if k == 1 else f"{self.name}#{k}"
        seg = _Segment(RunBuilder(name=name, source=self.path, format=self.format))
        self.segments.append(seg)
        return seg

    @property
    def current(self) -> _Segment:
        return self.segments[-1] if self.segments else self._new_segment()

    def add(self, rec: dict[str, Any]) -> int:
        """Add the metrics of one record; returns how many points it gave."""
        rec = _flatten(rec, self.sep)
        if self.step_key is None:
            self.step_key = _axis_key(rec, _STEP_KEYS)
        if self.epoch_key is None:
            self.epoch_key = _axis_key(rec, _EPOCH_KEYS)
        step = _axis(rec, (self.step_key,)) if self.step_key else None
        epoch = _axis(rec, (self.epoch_key,)) if self.epoch_key else None
        seg = self.current
        # _PHASE_KEYS spelt out: `in` tests are 3x faster than `_phase`'s loop on a W&B row
        phased = "mode" in rec or "phase" in rec or "split" in rec or "stage" in rec
        phase = _phase(rec) if phased else ""
        step, epoch, by_epoch = self._place(seg, step, epoch, bool(phase))
        phase = phase or ("val_" if by_epoch else "")
        names = self._names.get(phase)
        if names is None:
            names = self._names[phase] = {}
        points = []
        for k, raw in rec.items():
            if k not in names:  # first time this key is seen: is it a metric?
                metric = isinstance(k, str) and not _is_bookkeeping(k)
                names[k] = _phased(self.prefix, phase, k) if metric else None
            name = names[k]
            if name is not None and (v := _number(raw)) is not None:
                points.append((name, v))
        if not points:
            return 0
        axis, x = ("step", step) if step is not None else ("epoch", epoch)
        if self.split and x is not None:
            if seg.axis is None:
                seg.axis = axis
            if axis == seg.axis:  # a row placed on the other axis cannot show a restart
                if seg.rows and seg.first is not None and seg.last is not None and (
                    x <= seg.first < seg.last
                ):
                    seg = self._new_segment()
                    seg.axis = axis
                if seg.first is None:
                    seg.first = x
                seg.last = x
        if step is not None:
            seg.last_step = step
        if epoch is not None:
            if seg.first_epoch is None:
                seg.first_epoch = epoch
            seg.last_epoch = epoch
        seg.rows += 1
        for name, v in points:
            seg.builder.add(name, v, step=step, epoch=epoch)
        return len(points)

    def _place(self, seg: _Segment, step: float | None, epoch: float | None,
               phased: bool) -> tuple[float | None, float | None, bool]:
        """The (step, epoch) a row is logged at, given the rows before it in `seg`, and
        whether it is a per-epoch validation row. `phased`: the row names a validation or test
        phase, whose step counter below the training's counts that loop's batches (MMCV's
        ``{"mode": "val", "epoch": 3, "iter": 20}``): it keeps its epoch only.

        A step counter that goes back while the epoch advances counts batches within the
        epoch (MMCV's ``iter``): from then on the run's rows keep their epoch but no step (the
        log gives no epoch length, and steps are never guessed), and restarts are told by the
        epoch. A row without an epoch whose step equals the epoch of the row before, below that
        row's step, was logged by epoch: MMEngine's validation rows (``{"accuracy": …,
        "step": 3}`` after ``{"epoch": 3, "iter": 1500, "step": 1500, …}``), whose metrics are
        validation metrics.
        """
        last_step = seg.last_step
        if seg.epoch_local:
            return None, epoch, False
        if step is None or last_step is None or step >= last_step:
            return step, epoch, False  # the common case: no counter went back
        if phased:
            return None, epoch, False
        last_epoch = seg.last_epoch
        if last_epoch is None:
            return step, epoch, False
        if epoch is None and self.epoch_key is not None and step == last_epoch:
            return None, step, True
        if epoch is not None and epoch > last_epoch:
            seg.epoch_local = True
            seg.builder.warn("read.no_epoch_length")
            seg.axis, seg.first, seg.last = "epoch", seg.first_epoch, last_epoch
            return None, epoch, False
        return step, epoch, False

    def builders(self) -> list[RunBuilder]:
        return [s.builder for s in self.segments if len(s.builder)]


# ----------------------------------------------------------------------- text and kind sniffing


def _decode_head(head: bytes) -> str | None:
    """The head as text (a multi-byte character cut at the end is dropped), None if binary."""
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return head[: exc.start].decode("utf-8", errors="strict")
        return None


def _lines(text: str, limit: int) -> Iterator[tuple[str, bool]]:
    """Up to `limit` non-empty lines of `text`, each with whether it is complete."""
    n = 0
    pos = 0
    while n < limit and pos < len(text):
        end = text.find("\n", pos)
        complete = end >= 0
        line = text[pos:] if end < 0 else text[pos:end]
        pos = len(text) if end < 0 else end + 1
        if line.strip():
            n += 1
            yield line, complete


def _parse_line(line: str) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


def _is_whole(path: Path, head: bytes) -> bool:
    """True when `head` holds the whole file."""
    try:
        return path.stat().st_size <= len(head)
    except OSError:
        return True


def _classify(path: Path, head: bytes) -> tuple[str | None, bool, Any]:
    """(kind, whole, doc): the kind is ``"doc"`` (one JSON value), ``"jsonl"`` (one JSON object
    per line) or None (not JSON); `whole` tells whether `head` holds the whole file, and `doc`
    is that whole file parsed (None when it is not whole or does not parse)."""
    text = _decode_head(head)
    if text is None:
        return None, False, None
    text = text.lstrip("\ufeff \t\r\n")
    if not text or text[0] not in "{[":
        return None, False, None
    whole = _is_whole(path, head)
    first, complete = next(_lines(text, 1))
    if whole and (doc := _parse_line(text)) is not None:
        # A one-line file holding one metric dict is JSONL with a single row.
        one_line = isinstance(doc, dict) and first.strip() == text.strip()
        if one_line and _is_record(doc) and not any(True for _ in _candidates(doc, (), 0)):
            return "jsonl", whole, doc
        return "doc", whole, doc
    if (complete or whole) and isinstance(_parse_line(first), dict):
        return "jsonl", whole, None
    return "doc", whole, None


def sniff(path: Path, head: bytes) -> bool:
    """True for JSON/JSONL that holds metric series (not configs, tokenizers, datasets …)."""
    kind, whole, doc = _classify(path, head)
    if kind is None:
        return False
    text = _decode_head(head) or ""
    if kind == "jsonl":
        lines = [(s, c) for s, c in _lines(text, _SNIFF_LINES) if c or whole]
        parsed = [_parse_line(s) for s, _ in lines]
        valid = [p for p in parsed if isinstance(p, dict)]
        return 2 * len(valid) >= len(parsed) and any(_is_record(p) for p in valid)
    if doc is not None:
        # A lone metric record is claimed too, for `read` to say it is a summary.
        return _hf_state(doc) or _tb_export(doc) or _is_record(doc) or any(
            True for _ in _candidates(doc, (), 0))
    # A broken or truncated metrics document: claim it so `read` says what is wrong.
    return _BIG_DOC_HINTS.search(text) is not None


# ---------------------------------------------------------------------------- JSON documents


def _hf_state(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("log_history"), list)


def _tb_export(doc: Any) -> bool:
    """True for TensorBoard's JSON scalar download: ``[[wall_time, step, value], ...]``."""
    if not isinstance(doc, list) or not doc:
        return False
    for row in doc:
        if not isinstance(row, list) or len(row) != 3:
            return False
        wall, step, value = (_number(x) for x in row)
        if wall is None or step is None or value is None or not (
            math.isfinite(wall) and wall >= _MIN_WALL_TIME and step >= 0 and step.is_integer()
        ):
            return False
    return True


def _read_tb_export(path: Path, doc: list[list[Any]]) -> list[Run]:
    m = _TB_EXPORT_NAME.fullmatch(path.stem)
    b = RunBuilder(name=m.group("run") or path.stem if m else path.stem, source=path,
                   format="tensorboard_json")
    # `_tb_export` checked that every cell is a number.
    b.add_series(m.group("tag") if m else path.stem, [cast(float, _number(r[2])) for r in doc],
                 steps=[cast(float, _number(r[1])) for r in doc])
    return [b.build()]


def _numeric_column(v: Any) -> list[tuple[float, float]] | None:
    """A Keras history column as ``(epoch, value)`` pairs, or None when `v` is not one.

    A list gives epochs 0..n-1; a dict with integer-string keys (pandas ``to_json``) gives
    the keys as epochs. ``null`` entries are NaN.
    """
    if isinstance(v, list) and v:
        values = [math.nan if x is None else _number(x) for x in v]
        if any(x is None for x in values):
            return None
        return [(float(i), x) for i, x in enumerate(values) if x is not None]
    if isinstance(v, dict) and v and all(
        isinstance(k, str) and k.isascii() and k.isdigit() and len(k) < 16 for k in v
    ):
        out: list[tuple[float, float]] = []
        for k, x in v.items():
            num = math.nan if x is None else _number(x)
            if num is None:
                return None
            out.append((float(int(k)), num))
        return out
    return None


def _is_validation(key: str) -> bool:
    return canonical_name(key) == "val_acc" or re.match(
        r"(?:val|valid|validation|eval|test)(?:[_/.\- ]|$)", key.lower()) is not None


def _is_columns(d: dict[str, Any]) -> bool:
    """True for a Keras ``History.history`` table: every value a column of numbers, one key at
    least metric-like, and every column as long as the longest except validation ones (Keras
    validates every ``validation_freq`` epochs)."""
    if not d or not all(isinstance(k, str) for k in d):
        return False
    lengths = {}
    for k, v in d.items():
        col = _numeric_column(v)
        if col is None:
            return False
        lengths[k] = len(col)
    n = max(lengths.values())
    return all(m == n or _is_validation(k) for k, m in lengths.items()) and any(
        _is_metric_like(k) and not _is_bookkeeping(k) for k in lengths
    )


def _is_records(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(r, dict) for r in items) and any(
        _is_record(r) for r in items
    )


_Path = tuple[str | int, ...]


def _candidates(node: Any, where: _Path, depth: int) -> Iterator[tuple[str, _Path, Any]]:
    """Every metric table in a JSON document: ``("records", path, list)`` for lists of
    metric dicts anywhere and ``("columns", path, dict)`` for a Keras-style dict of lists,
    which is the whole document: deeper down, short lists of numbers under metric names are
    annotations (``{"spikes": {"val_loss": [12, 31]}}``), not histories."""
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, list):
        if _is_records(node):
            yield "records", where, node
            return
        for i, item in enumerate(node):
            if isinstance(item, (dict, list)):
                yield from _candidates(item, (*where, i), depth + 1)
    elif isinstance(node, dict):
        if not where and _is_columns(node):
            yield "columns", where, node
            return
        for k, v in node.items():
            if isinstance(v, (dict, list)):
                yield from _candidates(v, (*where, str(k)), depth + 1)


def _has_metric_numbers(node: Any, depth: int) -> bool:
    """Whether a metric-like key holds a number (or a list of numbers) anywhere in `node`."""
    if depth > _MAX_DEPTH:
        return False
    if isinstance(node, list):
        return any(_has_metric_numbers(v, depth + 1) for v in node if isinstance(v, (dict, list)))
    if not isinstance(node, dict):
        return False
    for k, v in node.items():
        if isinstance(k, str) and _is_metric_like(k) and (
                _number(v) is not None or (isinstance(v, list) and _numeric_column(v))):
            return True
        if isinstance(v, (dict, list)) and _has_metric_numbers(v, depth + 1):
            return True
    return False


def _add_columns(b: RunBuilder, table: dict[str, Any], prefix: str) -> None:
    cols = {k: _numeric_column(v) or [] for k, v in table.items()}
    step_key = next((k for k in _STEP_KEYS if k in cols), None)
    epoch_key = next((k for k in _EPOCH_KEYS if k in cols), None)
    n = max(len(c) for c in cols.values())
    steps = [v for _, v in cols[step_key]] if step_key and len(cols[step_key]) == n else None
    epochs = [v for _, v in cols[epoch_key]] if epoch_key and len(cols[epoch_key]) == n else None
    axis_given = steps is not None or epochs is not None
    for k, col in cols.items():
        if k in (step_key, epoch_key) or _is_bookkeeping(k) or not col:
            continue
        values = [v for _, v in col]
        if len(col) == n:
            if axis_given:
                b.add_series(prefix + k, values, steps=steps, epochs=epochs)
            else:
                b.add_series(prefix + k, values, epochs=[e for e, _ in col])
        else:
            b.add_series(prefix + k, values)
            b.warn("json.uneven_column", metric=prefix + k, count=len(col), epochs=n)


def _run_name(path: Path) -> str:
    parent = path.parent.name
    if path.name == "trainer_state.json" and parent:
        if parent.startswith("checkpoint-") and path.parent.parent.name:
            return f"{path.parent.parent.name}/{parent}"
        return parent
    if path.name == "wandb-history.jsonl" and parent == "files" and path.parent.parent.name:
        return path.parent.parent.name
    if path.name == "scalars.json" and parent == "vis_data" and path.parent.parent.name:
        run_dir = path.parent.parent  # MMEngine: <work_dir>/<timestamp>/vis_data/scalars.json
        return f"{run_dir.parent.name}/{run_dir.name}" if run_dir.parent.name else run_dir.name
    return path.stem


def _read_hf_state(path: Path, doc: dict[str, Any]) -> list[Run]:
    b = RunBuilder(name=_run_name(path), source=path, format="hf_trainer_state")
    for k in _HF_META_KEYS:
        if k in doc:
            b.meta[k] = doc[k]
    sink = RecordSink(path, b.name, b.format, split=False)
    sink.segments.append(_Segment(b))
    bad = 0
    hidden: list[float] = []  # steps where grad_norm is non-finite but the loss is finite
    for entry in doc["log_history"]:
        if not isinstance(entry, dict):
            bad += 1
        elif "train_runtime" in entry or "total_flos" in entry:
            b.meta.update({k: v for k, v in entry.items() if k not in ("step", "epoch")})
        else:
            sink.add(entry)
            loss, grad = _number(entry.get("loss")), _number(entry.get("grad_norm"))
            if loss is not None and grad is not None and math.isfinite(loss) and not (
                math.isfinite(grad)
            ):
                hidden.append(_axis(entry, _STEP_KEYS) or math.nan)
    if bad:
        b.warn("json.hf_not_objects", count=bad)
    if not len(b):
        raise ReadError(path, "json.hf_empty")
    if hidden:
        # The Trainer's logging_nan_inf_filter (on by default) logs the mean of the finite
        # losses in place of a NaN/inf one; a non-finite grad_norm still shows it.
        b.warn("json.hf_hidden_nan", count=len(hidden), step=hidden[0])
    return [b.build()]


def _cut_short(text: str, exc: json.JSONDecodeError) -> bool:
    """True when `text` looks like valid JSON cut off at its end (a file being written): the
    error is at the end, in a string running to the end, or in a token cut at the end
    (``fals``, ``1.``)."""
    rest = text.rstrip()[exc.pos:]
    if exc.msg.startswith("Unterminated string"):
        return "\n" not in rest  # JSON strings hold no raw newline
    if not rest:
        return True
    tokens = ("true", "false", "null", "NaN", "Infinity", "-Infinity")
    return all(c in "0123456789.eE+-" for c in rest) or any(t.startswith(rest) for t in tokens)


def _read_document(path: Path) -> list[Run]:
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise ReadError(path, "json.too_large", mib=size / 2**20,
                        limit=MAX_DOCUMENT_BYTES // 2**20)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(path, "not_utf8", offset=exc.start) from None
    try:
        doc = json.loads(text)
    except RecursionError:
        raise ReadError(path, "json.too_deep") from None
    except json.JSONDecodeError as exc:
        if _cut_short(text, exc):
            raise ReadError(path, "json.truncated") from None
        raise ReadError(path, "json.invalid_at", line=exc.lineno, column=exc.colno,
                        reason=exc.msg) from None
    except ValueError as exc:
        raise ReadError(path, "json.invalid", reason=str(exc)) from None
    if _hf_state(doc):
        return _read_hf_state(path, doc)
    if _tb_export(doc):
        return _read_tb_export(path, doc)
    found = list(_candidates(doc, (), 0))
    if not found and _is_record(doc):
        raise ReadError(path, "no_curve", why=Message("json.one_record"))
    if not found and _has_metric_numbers(doc, 0):
        raise ReadError(path, "no_curve", why=Message("json.scattered"))
    if not found:
        raise ReadError(path, "json.no_series")
    # Tables under different elements of a list are different runs; tables under different
    # keys of the same run are prefixed with their keys.
    groups: dict[tuple[int, ...], list[tuple[str, _Path, Any]]] = {}
    for cand in found:
        index = tuple(p for p in cand[1] if isinstance(p, int))
        groups.setdefault(index, []).append(cand)
    runs: list[Run] = []
    base = _run_name(path)
    for index, cands in groups.items():
        name = base + "".join(f"[{i}]" for i in index)
        fmt = "keras_history" if all(
            c[0] == "columns" and not (set(c[2]) & _AXIS_KEYS) for c in cands
        ) else "json"
        b = RunBuilder(name=name, source=path, format=fmt)
        if isinstance(doc, dict):
            b.meta.update({k: v for k, v in doc.items()
                           if isinstance(v, (str, int, float, bool)) or v is None})
        for kind, where, table in cands:
            keys = [str(p) for p in where if isinstance(p, str)]
            prefix = "/".join(keys) + "/" if len(cands) > 1 and keys else ""
            if kind == "columns":
                _add_columns(b, table, prefix)
            else:
                sink = RecordSink(path, name, fmt, prefix=prefix, split=False)
                sink.segments.append(_Segment(b))
                for rec in table:
                    sink.add(rec)
        if len(b):
            runs.append(b.build())
    if not runs:
        raise ReadError(path, "json.no_values")
    one_record = len(found) == 1 and found[0][0] == "records" and len(found[0][2]) == 1
    return _curve(path, runs, one_record)


def _curve(path: Path, runs: list[Run], one_record: bool) -> list[Run]:
    """`runs`, if some metric has two points or more: a training curve is a metric recorded
    again and again; a record of final numbers (``all_results.json``, ``wandb-summary.json``,
    a ``metrics.json`` of a pipeline stage) is a summary."""
    if any(len(s) >= 2 for r in runs for s in r.series.values()):
        return runs
    why = Message("json.one_record" if one_record else "json.no_repeat")
    raise ReadError(path, "no_curve", why=why)


# ----------------------------------------------------------------------------------- JSONL


def _read_jsonl(path: Path) -> list[Run]:
    sink: RecordSink | None = None
    bad = 0
    first_bad = 0
    not_objects = 0
    truncated = False
    lineno = 0
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below; streamed line by line)
    except OSError as exc:
        raise ReadError(path, "cannot_open", reason=exc.strerror or str(exc)) from None
    with f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            try:
                rec = json.loads(line.decode("utf-8-sig"))
            except (ValueError, RecursionError):
                if not raw.endswith(b"\n"):  # only the last line can lack its newline
                    truncated = True
                else:
                    bad += 1
                    first_bad = first_bad or lineno
                continue
            if not isinstance(rec, dict):
                not_objects += 1
                continue
            if sink is None:
                fmt = "wandb_history" if "_step" in rec or "_timestamp" in rec else "jsonl"
                sink = RecordSink(path, _run_name(path), fmt,
                                   sep="." if fmt == "wandb_history" else "/")
            sink.add(rec)
    if sink is None:  # the file changed since its head was sniffed
        raise ReadError(path, "json.no_object_line")
    builders = sink.builders()
    if not builders:
        raise ReadError(path, "json.no_values_lines")
    first = builders[0]
    if bad:
        first.warn("json.malformed_lines", count=bad, line=first_bad)
    if not_objects:
        first.warn("json.not_objects", count=not_objects)
    if truncated:
        builders[-1].warn("json.last_line_incomplete", line=lineno)
    return _curve(path, [b.build() for b in builders], sum(s.rows for s in sink.segments) == 1)


# ------------------------------------------------------------------------------------ entry


def read(path: Path) -> list[Run]:
    """Read a JSON document or a JSONL file (see the module docstring for the formats)."""
    path = Path(path)
    head = read_head(path)
    if not head.strip():
        raise ReadError(path, "empty_file")
    kind, _whole, _doc = _classify(path, head)
    if kind is None:
        text = _decode_head(head)
        if b"\x00" in head[:4096]:
            raise ReadError(path, "json.binary")
        if text is None:
            try:
                head.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ReadError(path, "not_utf8", offset=exc.start) from None
        raise ReadError(path, "json.starts_with", start=(text or "").lstrip()[:12])
    return _read_jsonl(path) if kind == "jsonl" else _read_document(path)

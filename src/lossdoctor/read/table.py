"""CSV/TSV training logs: Keras and Lightning ``CSVLogger``, W&B exports, generic tables.

Detected from the content: a delimiter (comma, tab or semicolon) that splits a header row of
column names, at least one of them metric-like (a loss, an accuracy, an LR, a step or epoch
column …), followed by rows that are mostly numbers. The file is streamed row by row with the
stdlib `csv` module.

Layouts and the ``run.format`` they get:

- ``lightning_csv``: PyTorch Lightning's ``metrics.csv`` (an ``epoch`` and a ``step``
  column). Rows are sparse: step metrics, epoch metrics, validation, test and
  ``LearningRateMonitor`` rows (``lr-Adam``, no epoch) each fill only their own cells.
- ``keras_csv``: Keras ``CSVLogger`` (``epoch`` first, the other columns sorted; the epoch
  counts from 0 as Keras wrote it, ``meta["epoch_base"] = 0``).
- ``wandb_csv``: a W&B history export (``_step``, ``_runtime``, ``_timestamp`` …) or a W&B
  chart ("panel") export (``Step``, ``<run> - <metric>``, ``<run> - <metric>__MIN/__MAX``):
  one run per run name; the ``__MIN``/``__MAX`` band columns are not metrics.
- ``tensorboard_csv``: TensorBoard's scalar download (``Wall time,Step,Value``); the metric
  takes the tag from a ``run-<run>-tag-<tag>.csv`` file name.
- long ("tidy") tables, one point per row with the metric named in a ``tag``/``key``/
  ``metric``/``name`` column and its value in ``value`` (tbparse's ``step,tag,value``, an
  MLflow metric history ``key,value,timestamp,step``); a ``run``/``run_id``/``dir_name``
  column splits the runs. ``tensorboard_csv`` for a ``tag`` column, else ``csv``.
- ``csv``: any other table of metrics, with or without a step/epoch column (without one, the
  row order is the axis and steps/epochs stay NaN).

Cells: empty, ``NA``, ``N/A``, ``null`` and ``None`` are missing values (no point); a literal
``nan``/``inf`` is a point with that value. ``tensor(0.5)`` reads as 0.5; with the semicolon
delimiter ``0,5`` reads as 0.5.

Columns that are not metrics (the rule, applied to every layout):

1. Axis columns give the points' step/epoch and are not metrics: ``step``/``_step``/
   ``global_step``/``trainer/global_step``/``iteration`` …, ``epoch``/``train/epoch`` …, and a
   within-epoch ``batch`` index (the step axis when there is no epoch column).
2. Bookkeeping by name: an empty name or pandas' ``Unnamed: N``, ``index``/``idx``/``#``/
   ``row``, ``id`` and ``*_id``, ``run_name``; names starting with ``_`` (W&B's
   ``_runtime``, ``_timestamp``, ``_wandb``); wall-clock columns (timestamps and durations:
   ``time``, ``timestamp``, ``Wall time``, ``epoch_time``, ``Relative Time (Process)`` …).
3. Columns with no numeric cell (dates, run names, phases): listed in ``meta["text_columns"]``.
4. Constant columns whose name is not metric-like (``Alpha``, ``seed``, a fixed loss weight),
   when they hold at least 3 values: moved to ``meta["constants"]``. A constant column with a
   metric-like name (``val_acc``, ``learning_rate``) stays a metric.

Every other numeric column is a metric; dropped names are listed in ``meta["ignored_columns"]``
(in a long table every column but the name, value, run, step and epoch ones).

Only training curves are read (else ``ReadError(path, "no training curve found (...)")``):
some metric must have two values or more, and rows that are each named by a different text in
the first column, in a table without a step/epoch column, are things compared (a
classification report, a table of models, a W&B runs export), not points along a row axis. A
single data row is a summary of final values.

Several runs in one file: a repeated header row, a new header row, or the step/epoch column
going back to where the run started or below (for row-per-epoch tables also the same epoch
logged again for the same metric) starts a new run; going back less far is a resumed run, kept
as one with a warning (Lightning and W&B tables, whose rows share steps, restart on any step
or epoch going back).

Problems: a file that is not a table, has only a header, holds mostly malformed rows or no
numeric metric column raises one `ReadError`. Recovered problems become one warning each on
the run: rows with more cells than the header (skipped), shorter rows (missing cells are
empty), non-numeric cells in a numeric column, non-UTF-8 bytes, and a short last row without
a line end (a file still being written: skipped).
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from array import array
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from lossdoctor.errors import ReadError
from lossdoctor.messages_lines import Message
from lossdoctor.names import CANONICAL, canonical_name, direction, normalise
from lossdoctor.read import _HEAD_BYTES, read_head
from lossdoctor.read._builder import RunBuilder
from lossdoctor.run import Run

__all__ = ["NAME", "read", "sniff"]

NAME = "csv"

_DELIMITERS = (",", "\t", ";")
_SNIFF_ROWS = 200
_NAN = math.nan
_MISSING = frozenset({"", "NA", "N/A", "NULL", "NONE", "-", "--"})
_STEP_NAMES = (  # in order of preference when several are present
    "trainer_global_step", "train_global_step", "global_step", "globalstep", "step", "steps",
    "total_steps", "iteration", "iterations", "iter", "iters", "it", "update", "updates",
)
_EPOCH_NAMES = ("epoch", "epochs", "train_epoch", "trainer_epoch", "epoch_num", "epoch_idx",
                "epoch_index", "ep")
_BATCH_NAMES = ("batch", "batch_idx", "batch_index", "batch_num", "batch_nr", "minibatch")
# A long ("tidy") table: one row per point, the metric named in a column (tbparse's
# step,tag,value; an MLflow metric history's key,value,step,timestamp), maybe a run column.
_KEY_NAMES = ("tag", "key", "metric", "metric_name", "name")
_VALUE_NAMES = ("value", "metric_value")
_RUN_NAMES = ("run", "run_id", "run_name", "run_uuid", "dir_name")
_INDEX_NAMES = frozenset({"index", "idx", "#", "row", "id", "run_id", "runid", "run_name",
                          "uuid", "trial_id"})
_TIME_CORE = frozenset({"time", "timestamp", "timestamps", "walltime", "wall", "datetime",
                        "date", "runtime", "elapsed", "duration", "clock", "created"})
_TIME_QUALIFIERS = frozenset({
    "relative", "process", "sec", "secs", "seconds", "s", "ms", "min", "mins", "minutes",
    "hours", "h", "utc", "epoch", "step", "iter", "iteration", "batch", "total", "train",
    "training", "val", "eval", "per", "at", "start", "end", "avg", "mean", "cum",
    "cumulative", "created", "updated", "log",
})
# A run name may itself hold " - "; a metric name (a logged key) hardly ever does.
_PANEL_COLUMN = re.compile(r"(?P<run>.+) - (?P<metric>.+?)(?P<band>__MIN|__MAX)?")
_TB_EXPORT = re.compile(r"run[-_](?P<run>.*?)[-_]?tag[-_](?P<tag>.+)")
_KEY_VALUE = re.compile(r"(?:[:=]|\s)\s*[-+]?\.?\d")
_TENSOR = re.compile(r"tensor\(\s*([-+]?(?:(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|nan|inf))",
                     re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[-+]?\d+,\d+(?:[eE][-+]?\d+)?")
_SURROGATES = re.compile("[\udc80-\udcff]")
_MAX_ROW_NAMES = 10_000
_DATE_OR_TIME = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}:\d\d")


# --------------------------------------------------------------------------- cells and names


def _number(cell: str, decimal_comma: bool = False) -> float | None:
    """The float a cell holds, NaN for a missing value, None for text."""
    if not cell:
        return _NAN
    try:
        return float(cell)
    except ValueError:
        pass
    s = cell.strip()
    if s.upper() in _MISSING:
        return _NAN
    m = _TENSOR.match(s)
    if m:
        return float(m.group(1))
    if decimal_comma and _DECIMAL_COMMA.fullmatch(s):
        return float(s.replace(",", "."))
    return None


def _is_missing(cell: str) -> bool:
    return not cell or cell.strip().upper() in _MISSING


def _axis_role(name: str) -> str | None:
    n = normalise(name)
    if n in _STEP_NAMES:
        return "step"
    if n in _EPOCH_NAMES:
        return "epoch"
    if n in _BATCH_NAMES:
        return "batch"
    return None


def _tokens(name: str) -> set[str]:
    return {re.sub(r"\W", "", t) for t in normalise(name).split("_")} - {""}


def _bookkeeping(name: str) -> bool:
    """True for index, id and wall-clock columns (rule 2 of the module docstring)."""
    if not name or name.startswith("_") or re.fullmatch(r"Unnamed: ?\d+", name):
        return True
    n = normalise(name)
    if n in _INDEX_NAMES or n.endswith("_id"):
        return True
    tokens = _tokens(name)
    return bool(tokens & _TIME_CORE) and tokens <= _TIME_CORE | _TIME_QUALIFIERS


def _metric_like(name: str) -> bool:
    """A name that plainly is a metric: a canonical one, or one with a known direction."""
    return canonical_name(name) in CANONICAL or direction(name) is not None


def _header_name_ok(name: str, strict: bool) -> bool:
    if len(name) > 200 or any(c in name for c in "{}<>") or _number(name) is not None:
        return False
    # Without data rows to go by, only short labels (no "key: 1", no sentence) are names.
    return not strict or (not _KEY_VALUE.search(name) and len(name.split()) <= 5
                          and not name.endswith((".", "!", "?", ",")))


def _header_like(row: list[str], strict: bool = False) -> bool:
    """A row of column names with at least one metric-like or axis name."""
    names = [c.strip() for c in row]
    named = [n for n in names if n]
    if not named or len(named) * 2 < len(names):
        return False
    if not all(_header_name_ok(n, strict) for n in named):
        return False
    for n in named:
        m = _PANEL_COLUMN.fullmatch(n)
        metric = m.group("metric") if m else n
        if _axis_role(n) or _metric_like(n) or _axis_role(metric) or _metric_like(metric):
            return True
    return False


# --------------------------------------------------------------------------- sniffing


def _head_rows(text: str, delimiter: str, truncated: bool) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    rows: list[list[str]] = []
    try:
        rows.extend(islice(reader, _SNIFF_ROWS + 1))
    except csv.Error:
        truncated = True  # keep the rows read so far; the last one may be cut
    if truncated and len(rows) <= _SNIFF_ROWS:
        rows = rows[:-1]
    return [r for r in rows[:_SNIFF_ROWS] if any(c.strip() for c in r)]


def _score(rows: list[list[str]], delimiter: str, lenient: bool) -> int | None:
    """Number of columns when `rows` read as a table with a header, else None.

    At most one data row in five may be malformed (more cells than the header, or more text
    than numbers); `lenient` skips that check (the table is then read to say what is wrong).
    """
    while rows and rows[0][0].lstrip().startswith("#") and not _header_like(rows[0]):
        rows = rows[1:]
    if not rows:
        return None
    header, data = rows[0], rows[1:]
    width = len(header)
    strict = not data or width == 1
    if not _header_like(header, strict=strict):
        return None
    if lenient or not data:
        return None if len(header) == 1 and not data else len(header)
    decimal_comma = delimiter == ";"
    good = counted = 0
    for row in data:
        if len(row) > width and not any(c.strip() for c in row[width:]):
            row = row[:width]
        numbers = texts = 0
        for c in row:
            v = _number(c, decimal_comma)
            if v is None:
                texts += 1
            elif not _is_missing(c):
                numbers += 1
        if not numbers and _header_like(row):
            width = len(row)  # the header again, or the header of another table appended
            continue
        counted += 1
        if len(row) > width or (len(row) != width and width == 1):
            continue
        if numbers and numbers >= texts and (width > 1 or not texts):
            good += 1
    if not good or counted - good > max(1, counted // 5):
        return None
    return len(header)


def _encoding(head: bytes) -> str:
    """The codec of a file starting with `head`: UTF-16 after its byte-order mark (Excel's
    "Unicode text" export), else UTF-8 (a UTF-8 byte-order mark skipped)."""
    return "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"


def _detect(head: bytes, lenient: bool = False) -> str | None:
    """The delimiter that makes `head` a table of metrics, or None (see `_score`)."""
    if _encoding(head) == "utf-16":
        text = head[: len(head) - len(head) % 2].decode("utf-16", errors="replace")
    elif b"\x00" in head[:4096]:
        return None
    else:
        text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if text.count("\ufffd") > len(text) // 10:
        return None  # binary, or not UTF-8 text at all
    truncated = len(head) >= _HEAD_BYTES and not text.endswith("\n")
    best: tuple[int, str] | None = None
    for delimiter in _DELIMITERS:
        width = _score(_head_rows(text, delimiter, truncated), delimiter, lenient)
        if width is not None and (best is None or width > best[0]):
            best = (width, delimiter)
    return None if best is None else best[1]


def sniff(path: Path, head: bytes) -> bool:
    """True when the first 64 KiB of the file read as a CSV/TSV table of metrics."""
    return _detect(head) is not None


# --------------------------------------------------------------------------- layout


@dataclass
class _Column:
    index: int  # position in the row
    name: str  # metric name (the panel column's metric part)
    role: str  # "metric", "step", "epoch" or "batch"
    run: str | None = None  # W&B panel run name


@dataclass
class _Layout:
    header: list[str]
    format: str
    columns: list[_Column]  # the numeric columns read (metrics and axes), in row order
    ignored: list[str]
    # long tables: the text columns read as labels ("key": the metric name, "run")
    coded: list[_Column] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # label code -> text

    def axis(self, role: str, run: str | None = None) -> int | None:
        """Position in `columns` of the `role` axis (a panel run's own one first)."""
        found = None
        for i, c in enumerate(self.columns):
            if c.role == role and c.run == run:
                return i
            if c.role == role and c.run is None:
                found = i
        return found


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen and n:
            seen[n] += 1
            out.append(f"{n}.{seen[n]}")
        else:
            seen.setdefault(n, 0)
            out.append(n)
    return out


def _long_layout(names: list[str]) -> _Layout | None:
    """The layout of a long table (one named point per row), or None."""
    norm = [normalise(n) for n in names]
    keys = [i for i, n in enumerate(norm) if n in _KEY_NAMES]
    values = [i for i, n in enumerate(norm) if n in _VALUE_NAMES]
    if len(keys) != 1 or len(values) != 1:
        return None
    coded = [_Column(keys[0], names[keys[0]], "key")]
    columns = [_Column(values[0], names[values[0]], "metric")]
    ignored = []
    for i, name in enumerate(names):
        role = _axis_role(name)
        if i in (keys[0], values[0]):
            continue
        if role in ("step", "epoch") and all(c.role != role for c in columns):
            columns.append(_Column(i, name, role))
        elif norm[i] in _RUN_NAMES and len(coded) == 1:
            coded.append(_Column(i, name, "run"))
        else:
            ignored.append(name)
    fmt = "tensorboard_csv" if norm[keys[0]] == "tag" else "csv"
    return _Layout(names, fmt, columns, ignored, coded)


def _layout(header: list[str], path: Path) -> _Layout:
    names = _dedupe([_SURROGATES.sub("\ufffd", c.strip()) for c in header])
    long = _long_layout(names)
    if long is not None:
        return long
    present = set(names)
    panel = (
        len(names) > 1
        and not _PANEL_COLUMN.fullmatch(names[0])
        and all(_PANEL_COLUMN.fullmatch(n) for n in names[1:] if n)
        and (any(n.endswith(("__MIN", "__MAX")) for n in names)
             or _axis_role(names[0]) is not None)
    )
    if panel or present & {"_step", "_runtime", "_timestamp"}:
        fmt = "wandb_csv"
    elif {"epoch", "step"} <= present:
        fmt = "lightning_csv"
    elif names[0] == "epoch" and _keras_order(names[1:]):
        fmt = "keras_csv"
    elif {"Step", "Value"} <= present:
        fmt = "tensorboard_csv"
    else:
        fmt = "csv"
    tb = _TB_EXPORT.fullmatch(path.stem) if fmt == "tensorboard_csv" else None

    # (position, run, metric name, axis role or None) of every candidate column
    candidates: list[tuple[int, str | None, str, str | None]] = []
    ignored: list[str] = []
    for i, name in enumerate(names):
        run, metric = None, name
        if panel and i > 0:
            m = _PANEL_COLUMN.fullmatch(name)
            if m is None or m.group("band"):
                continue  # an empty name, or a __MIN/__MAX band
            run, metric = m.group("run"), m.group("metric")
        role = _axis_role(metric)
        if role is None and _bookkeeping(metric):
            ignored.append(name)
            continue
        if tb is not None and metric == "Value":
            metric = tb.group("tag")
        candidates.append((i, run, metric, role))

    # One column per axis role (and panel run): the most specific name wins.
    preference = {"step": _STEP_NAMES, "epoch": _EPOCH_NAMES, "batch": _BATCH_NAMES}
    best: dict[tuple[str, str | None], tuple[int, int]] = {}
    for i, run, metric, role in candidates:
        if role is not None:
            rank = preference[role].index(normalise(metric))
            best[role, run] = min(best.get((role, run), (rank, i)), (rank, i))
    roles = {key: i for key, (_, i) in best.items()}
    columns: list[_Column] = []
    for i, run, metric, role in candidates:
        if role is None:
            columns.append(_Column(i, metric, "metric", run))
            continue
        if roles[role, run] != i:
            ignored.append(names[i])
        elif role == "batch" and ("epoch", run) not in roles:
            # Without an epoch column a batch counter is the step axis.
            if ("step", run) in roles:
                ignored.append(names[i])
            else:
                columns.append(_Column(i, metric, "step", run))
        else:
            columns.append(_Column(i, metric, role, run))
    return _Layout(names, fmt, columns, ignored)


def _keras_order(keys: list[str]) -> bool:
    """Keras's CSVLogger writes the sorted log keys (then ``val_*`` copies when none were
    logged)."""
    if not any(k.endswith("loss") for k in keys):
        return False
    base = [k for k in keys if not k.startswith("val_")]
    val = [k for k in keys if k.startswith("val_")]
    return keys == sorted(keys) or (keys == base + val and base == sorted(base))


# --------------------------------------------------------------------------- streaming


@dataclass
class _Problem:
    count: int = 0
    line: int = 0
    detail: str = ""

    def note(self, line: int, detail: str = "") -> None:
        if not self.count:
            self.line, self.detail = line, detail
        self.count += 1


@dataclass
class _Segment:
    """The rows of one run. Only present cells are kept (memory grows with the points, not
    with rows x columns): per column the row numbers and values of its numeric cells and the
    row numbers of its text cells; per coded column (long tables) the label code of every
    row."""

    layout: _Layout
    line: int
    rows: int = 0
    index: list[array] = field(default_factory=list)
    values: list[array] = field(default_factory=list)
    text_rows: list[array] = field(default_factory=list)
    codes: list[array] = field(default_factory=list)
    malformed: _Problem = field(default_factory=_Problem)
    short: _Problem = field(default_factory=_Problem)
    bad_bytes: _Problem = field(default_factory=_Problem)
    texts: dict[int, _Problem] = field(default_factory=dict)
    incomplete: int = 0  # line of a cut last row that was skipped
    resumed: tuple[int, str, float, float] | None = None  # line, axis, from, to: the first

    def __post_init__(self) -> None:
        n = len(self.layout.columns)
        self.index = [array("q") for _ in range(n)]
        self.values = [array("d") for _ in range(n)]
        self.text_rows = [array("q") for _ in range(n)]
        self.codes = [array("q") for _ in self.layout.coded]

    def last(self, k: int) -> float | None:
        """Column `k`'s number in the last row, None when that cell held none."""
        index = self.index[k]
        return self.values[k][-1] if index and index[-1] == self.rows - 1 else None

    def drop_last(self) -> None:
        """Forget the last row."""
        r = self.rows - 1
        for index, values in zip(self.index, self.values, strict=True):
            if index and index[-1] == r:
                index.pop()
                values.pop()
        for k, text_rows in enumerate(self.text_rows):
            if text_rows and text_rows[-1] == r:
                text_rows.pop()
                self.texts[k].count -= 1
        for codes in self.codes:
            codes.pop()
        self.rows -= 1

    def move_last(self, dst: _Segment) -> None:
        """Move the last row (before its text cells are noted) to the start of `dst`."""
        r = self.rows - 1
        for k, index in enumerate(self.index):
            if index and index[-1] == r:
                dst.index[k].append(dst.rows)
                dst.values[k].append(self.values[k][-1])
        for k, codes in enumerate(self.codes):
            dst.codes[k].append(codes[-1])
        dst.rows += 1
        self.drop_last()


class _Restart:
    """Decides, from the row just appended to a segment, whether a new run began there.

    Sparse layouts (Lightning, W&B: rows share a step) restart when the step or the epoch goes
    back. Other tables restart when their (epoch, batch, step) key goes back to the segment's
    first key or below, or repeats for a metric already logged at that key (Keras
    ``append=True`` after a one-epoch run); a key going back without reaching the first one is
    a resumed run (Keras ``CSVLogger(append=True)`` with ``fit(initial_epoch=…)``): same run,
    noted in `resumed` (axis name, from, to).
    """

    def __init__(self, layout: _Layout) -> None:
        self.sparse = layout.format in ("lightning_csv", "wandb_csv")
        self.monotone = [i for i in (layout.axis("step"), layout.axis("epoch")) if i is not None]
        self.axes = [i for i in (layout.axis("epoch"), layout.axis("batch"), layout.axis("step"))
                     if i is not None]
        self.metrics = [i for i, c in enumerate(layout.columns) if c.role == "metric"]
        self.names = [layout.columns[i].name for i in self.axes]
        if layout.coded:  # a long table lists each metric in turn: no restart to see
            self.sparse, self.monotone, self.axes = True, [], []
        self.reset()

    def reset(self) -> None:
        self.last = [-math.inf] * len(self.monotone)
        self.first_key: list[float] | None = None
        self.last_key: list[float] | None = None
        self.seen: set[int] = set()
        self.resumed: tuple[str, float, float] | None = None

    def __call__(self, seg: _Segment) -> bool:
        if self.sparse:
            restart = False
            r = seg.rows - 1
            for j, k in enumerate(self.monotone):
                index = seg.index[k]
                if index and index[-1] == r:
                    v = seg.values[k][-1]
                    if v == v:
                        restart |= v < self.last[j]
                        self.last[j] = v
            return restart
        if not self.axes:
            return False
        key = []
        for k in self.axes:
            v = seg.last(k)
            if v is None or v != v:
                return False
            key.append(v)
        last = self.last_key
        self.last_key = key
        if self.first_key is None:
            self.first_key = key
        present = {k for k in self.metrics if seg.last(k) is not None}
        if last is not None and key <= last:
            if key < last and key > self.first_key:  # back, but not to the start: resumed
                j = next(j for j, (a, b) in enumerate(zip(key, last, strict=True)) if a != b)
                self.resumed = (self.names[j], last[j], key[j])
                self.seen = present
                return False
            if key < last or present & self.seen:
                return True
            self.seen |= present
            return False
        self.seen = present
        return False


class _RowNames:
    """Whether every data row is named by a different label in the first column, some of them
    text (``cat``, ``dog`` …; ``0`` … ``9``, ``accuracy``, ``macro avg``; ``resnet18``,
    ``vit_b16`` …): then the rows are things compared, not points along a step, epoch or row
    axis. Gives up at the first empty or repeated label (numbers must rise, so a step column
    costs no memory) and at a date or a clock time (a time axis: ``2024-01-01 10:00``);
    remembers at most `_MAX_ROW_NAMES` text labels."""

    def __init__(self) -> None:
        self.first: list[str] = []  # the first three labels, for the message
        self.texts: set[str] = set()
        self.last = -math.inf  # the last number
        self.distinct = True

    @property
    def named(self) -> bool:
        return self.distinct and bool(self.texts)

    def note(self, cell: str) -> None:
        if not self.distinct or len(self.texts) >= _MAX_ROW_NAMES:
            return
        name = cell.strip()
        if len(self.first) < 3:
            self.first.append(name)
        v = _number(name) if name else _NAN
        if v is not None and not v > self.last:  # empty, missing, or not rising
            self.distinct = False
        elif v is not None:
            self.last = v
        elif name in self.texts or _DATE_OR_TIME.search(name):
            self.distinct = False
        else:
            self.texts.add(name)


def _scan(path: Path, delimiter: str, row_names: _RowNames) -> list[_Segment]:
    """Stream the file into segments (one per run found), noting the first cell of every data
    row in `row_names`."""
    decimal_comma = delimiter == ";"
    segments: list[_Segment] = []
    seg: _Segment | None = None
    layout: _Layout | None = None
    restart: _Restart | None = None
    header_raw: list[str] = []
    header_cells: list[str] = []
    positions: list[int] = []
    coded: list[int] = []
    label_codes: dict[str, int] = {}
    width = 0
    csv_errors = 0
    cut = False  # the last row read was shorter than the header

    def start(row: list[str] | None, line: int) -> _Segment:
        nonlocal layout, restart, header_raw, header_cells, positions, coded, width
        if row is not None:
            layout = _layout(row, path)
            header_raw, header_cells = list(row), [c.strip() for c in row]
            positions = [c.index for c in layout.columns]
            coded = [c.index for c in layout.coded]
            label_codes.clear()
            width = len(row)
            restart = _Restart(layout)
        assert layout is not None and restart is not None
        segment = _Segment(layout, line)
        segments.append(segment)
        restart.reset()
        return segment

    encoding = _encoding(read_head(path, 2))
    with open(path, "rb") as raw, io.TextIOWrapper(
        raw, encoding=encoding, errors="surrogateescape" if encoding != "utf-16" else "replace",
        newline=""
    ) as text:
        reader = csv.reader(text, delimiter=delimiter, skipinitialspace=True)
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                csv_errors += 1
                if seg is not None:
                    seg.malformed.note(reader.line_num, str(exc))
                if csv_errors > 100:
                    raise ReadError(path, "csv.line_error", line=reader.line_num,
                                    reason=str(exc)) from None
                continue
            except OSError as exc:
                raise ReadError(path, "cannot_read", reason=exc.strerror or str(exc)) from None
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            line = reader.line_num
            cut = False
            if seg is None:
                if not any(c.strip() for c in row) or (
                        row[0].lstrip().startswith("#") and not _header_like(row)):
                    continue  # blank cells or a comment before the header
                seg = start(row, line)
                if any(_SURROGATES.search(c) for c in row):
                    seg.bad_bytes.note(line)
                continue
            assert layout is not None and restart is not None
            if len(row) != width:
                if len(row) > width and not any(c.strip() for c in row[width:]):
                    row = row[:width]  # a trailing delimiter
                elif _header_like(row) and not any(
                        _number(c) is not None and not _is_missing(c) for c in row):
                    seg = start(row, line)  # the header of another table
                    continue
                elif len(row) > width:
                    seg.malformed.note(line, "" if seg.malformed.count else Message(
                        "csv.cell_count", cells=len(row), width=width))  # only the first kept
                    continue
                else:
                    seg.short.note(line)
                    cut = True
                    row = row + [""] * (width - len(row))
            if row == header_raw or (row[0].strip() == header_cells[0]
                                     and [c.strip() for c in row] == header_cells):
                seg = start(None, line)  # the header again: another run appended
                continue
            row_names.note(row[0])
            r = seg.rows
            index, values = seg.index, seg.values
            texts: list[tuple[int, str]] | None = None
            for k, i in enumerate(positions):
                cell = row[i]
                if not cell:
                    continue
                try:
                    v = float(cell)
                except ValueError:
                    number = _number(cell, decimal_comma)
                    if number is None:
                        texts = texts or []
                        texts.append((k, cell))
                        continue
                    if _is_missing(cell):
                        continue
                    v = number
                index[k].append(r)
                values[k].append(v)
            for k, i in enumerate(coded):
                label = _SURROGATES.sub("\ufffd", row[i].strip())
                code = label_codes.get(label)
                if code is None:
                    code = label_codes[label] = len(layout.labels)
                    layout.labels.append(label)
                seg.codes[k].append(code)
            seg.rows += 1
            if texts is not None and len(texts) == len(positions) and _header_like(row):
                seg.drop_last()  # an unrelated header row with the same width: a new table
                cut = False
                seg = start(row, line)
                continue
            if restart(seg):
                old = seg
                seg = start(None, line)
                old.move_last(seg)
                restart(seg)
            elif restart.resumed is not None:
                if seg.resumed is None:
                    seg.resumed = (line, *restart.resumed)
                restart.resumed = None
            for k, cell in texts or ():
                if _SURROGATES.search(cell):
                    seg.bad_bytes.note(line)
                    cell = _SURROGATES.sub("\ufffd", cell)
                seg.texts.setdefault(k, _Problem()).note(line, cell[:40])
                seg.text_rows[k].append(seg.rows - 1)
        if cut and seg is not None and seg.rows and raw.seek(0, io.SEEK_END):
            width = 2 if encoding == "utf-16" else 1  # the last code unit
            raw.seek(-width, io.SEEK_END)
            if raw.read(width).strip(b"\x00") not in (b"\r", b"\n"):
                # A short last row without a line end: cut off while the file was written.
                seg.drop_last()
                seg.short.count -= 1
                seg.incomplete = reader.line_num
    if layout is None:
        raise ReadError(path, "csv.no_header")
    return segments


# --------------------------------------------------------------------------- building runs


@dataclass
class _Series:
    """The points of one metric of one run in one segment (before the column rules)."""

    seg: _Segment
    run: str | None
    name: str
    values: np.ndarray
    steps: np.ndarray | None
    epochs: np.ndarray | None
    texts: int  # non-numeric cells


def _series(seg: _Segment) -> list[_Series]:
    layout = seg.layout
    index = [np.frombuffer(a, dtype=np.int64) for a in seg.index]
    values = [np.frombuffer(a, dtype=np.float64) for a in seg.values]

    def axis(role: str, run: str | None) -> np.ndarray | None:
        """The `role` axis value of every row (NaN where the row has none)."""
        k = layout.axis(role, run)
        if k is None:
            return None
        full = np.full(seg.rows, _NAN)
        full[index[k]] = values[k]
        return full

    def at(a: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
        return None if a is None else a[rows]

    out = []
    if layout.coded:  # a long table: the key column names the metric of each row
        (k,) = (i for i, c in enumerate(layout.columns) if c.role == "metric")
        steps, epochs = axis("step", None), axis("epoch", None)
        keys = np.frombuffer(seg.codes[0], dtype=np.int64)
        has_runs = len(seg.codes) > 1
        runs = np.frombuffer(seg.codes[1], dtype=np.int64) if has_runs else keys * 0
        pairs = runs * len(layout.labels) + keys  # one code per (run, metric)
        point_pairs = pairs[index[k]]
        text_pairs = pairs[np.frombuffer(seg.text_rows[k], dtype=np.int64)]
        _, first = np.unique(pairs, return_index=True)
        for i in np.sort(first):
            name = layout.labels[keys[i]]
            if not name:
                continue
            mine = point_pairs == pairs[i]
            rows = index[k][mine]
            out.append(_Series(seg, layout.labels[runs[i]] if has_runs else None, name,
                               values[k][mine], at(steps, rows), at(epochs, rows),
                               int(np.count_nonzero(text_pairs == pairs[i]))))
        if has_runs and normalise(layout.coded[1].name) == "dir_name":
            _join_add_scalars(out)
        return out
    axes: dict[str | None, tuple[np.ndarray | None, np.ndarray | None]] = {}
    for k, col in enumerate(layout.columns):
        if col.role != "metric":
            continue
        if col.run not in axes:
            axes[col.run] = (axis("step", col.run), axis("epoch", col.run))
        steps, epochs = axes[col.run]
        out.append(_Series(seg, col.run, col.name, values[k], at(steps, index[k]),
                           at(epochs, index[k]), len(seg.text_rows[k])))
    return out


def _join_add_scalars(series: list[_Series]) -> None:
    """tbparse's ``dir_name`` of ``add_scalars`` sub-directories, read as the reader of the
    logdir itself reads them: ``run/Loss_train`` (torch) or ``run/Loss/train`` (tensorboardX)
    holding only the tag ``Loss`` is the metric ``Loss/train`` of the run ``run``."""
    from lossdoctor.read.tfevents import scalars_prefix

    tags: dict[str, set[str]] = {}
    for s in series:
        if s.run is not None:
            tags.setdefault(s.run, set()).add(s.name)
    for s in series:
        if s.run is None or tags[s.run] != {s.name}:
            continue
        head, _, last = s.run.rpartition("/")
        prefix = scalars_prefix(s.name)
        if last.startswith(prefix) and len(last) > len(prefix):  # torch: <run>/<tag>_<key>
            s.run, s.name = head or None, f"{s.name}/{last[len(prefix):]}"
            continue
        parts = s.run.split("/")
        tag_parts = s.name.split("/")
        n = len(tag_parts)
        if len(parts) > n and parts[-1 - n:-1] == tag_parts:  # tensorboardX: <run>/<tag>/<key>
            s.run, s.name = "/".join(parts[:-1 - n]) or None, f"{s.name}/{parts[-1]}"


def _run_name(path: Path) -> str:
    # Lightning always writes "metrics.csv"; its directory (version_N) names the run.
    if path.stem == "metrics" and path.parent.name:
        return path.parent.name
    return path.stem


def _warnings(seg: _Segment, dropped: set[str]) -> list[Message]:
    out = []
    if seg.bad_bytes.count:
        out.append(Message("csv.bad_bytes", line=seg.bad_bytes.line, count=seg.bad_bytes.count))
    if seg.malformed.count:
        out.append(Message("csv.malformed", line=seg.malformed.line, count=seg.malformed.count,
                           detail=seg.malformed.detail))
    if seg.incomplete:
        out.append(Message("csv.last_row_cut", line=seg.incomplete))
    if seg.resumed is not None:
        line, axis, old, new = seg.resumed
        out.append(Message("csv.resumed", line=line, axis=axis, old=old, new=new))
    if seg.short.count:
        out.append(Message("csv.short_rows", line=seg.short.line, count=seg.short.count))
    for k, p in seg.texts.items():
        name = seg.layout.columns[k].name
        if name not in dropped:
            out.append(Message("csv.text_cells", line=p.line, column=name, count=p.count,
                               first=p.detail))
    return out


def _column_rules(path: Path, series: list[_Series]) -> tuple[dict[str, float], list[str]]:
    """Rules 3 and 4 of the module docstring over the whole file: the constant columns
    (name -> value) and the text columns."""
    numbers: dict[str, int] = {}
    texts: dict[str, int] = {}
    first: dict[str, float] = {}
    constant: dict[str, bool] = {}
    for s in series:
        numbers[s.name] = numbers.get(s.name, 0) + len(s.values)
        texts[s.name] = texts.get(s.name, 0) + s.texts
        if len(s.values):
            v = first.setdefault(s.name, float(s.values[0]))
            constant[s.name] = constant.get(s.name, True) and bool((s.values == v).all())
    dropped_text = []
    constants = {}
    for name, n in numbers.items():
        if texts[name] > n:
            if canonical_name(name) in CANONICAL and n:
                raise ReadError(path, "csv.mostly_text", column=name)
            dropped_text.append(name)
        elif n >= 3 and constant[name] and not _metric_like(name):
            constants[name] = first[name]
    return constants, dropped_text


def _curve(path: Path, segments: list[_Segment], rows: int, row_names: _RowNames,
           series: list[_Series]) -> None:
    """Raise a `ReadError` unless the table is a training curve: some metric has two values or
    more, along an axis column or the row order. Rows each named by a different text in the
    first column and no axis column are results to compare (a classification report, a table
    of models, a W&B runs export), and a single row is a summary of final values."""
    if rows > 1 and row_names.named and not any(
            c.role != "metric" or seg.layout.coded for seg in segments for c in seg.layout.columns):
        column = segments[0].layout.header[0].strip()
        names = ", ".join(row_names.first) + (", …" if rows > 3 else "")
        why = (Message("csv.named_rows_in", column=column, names=names) if column
               else Message("csv.named_rows", names=names))
        raise ReadError(path, "no_curve", why=why)
    if not any(len(s.values) >= 2 for s in series):
        why = Message("csv.one_row" if rows == 1 else "csv.no_repeat")
        raise ReadError(path, "no_curve", why=why)


def read(path: Path) -> list[Run]:
    """Every run in a CSV/TSV log (several when runs were appended to one file)."""
    path = Path(path)
    head = read_head(path)
    if not head.strip():
        raise ReadError(path, "empty_file")
    delimiter = _detect(head) or _detect(head, lenient=True)
    if delimiter is None:
        raise ReadError(path, "csv.not_a_table")
    row_names = _RowNames()
    segments = _scan(path, delimiter, row_names)
    rows = sum(seg.rows for seg in segments)
    malformed = sum(seg.malformed.count for seg in segments)
    if malformed > rows:
        first = next(s.malformed for s in segments if s.malformed.count)
        if not rows:
            raise ReadError(path, "csv.no_readable_rows", count=malformed, line=first.line,
                            detail=first.detail)
        raise ReadError(path, "csv.ragged", count=malformed, total=malformed + rows,
                        line=first.line, detail=first.detail)
    if not rows:
        raise ReadError(path, "csv.header_only")

    series = [s for seg in segments if seg.rows for s in _series(seg)]
    constants, dropped_text = _column_rules(path, series)
    series = [s for s in series
              if len(s.values) and s.name not in constants and s.name not in dropped_text]
    if not series:
        if dropped_text:
            raise ReadError(path, "csv.no_numeric_columns",
                            columns=", ".join(repr(n) for n in dropped_text[:3]))
        raise ReadError(path, "csv.only_axes")
    _curve(path, segments, rows, row_names, series)

    groups: dict[tuple[int, str | None], list[_Series]] = {}
    for s in series:
        groups.setdefault((id(s.seg), s.run), []).append(s)
    per_run: dict[str | None, int] = {}
    for _, run in groups:
        per_run[run] = per_run.get(run, 0) + 1
    base = _run_name(path)
    index: dict[str | None, int] = {}
    runs = []
    for (_, run), members in groups.items():
        seg = members[0].seg
        name = run if run else base
        if per_run[run] > 1:
            index[run] = index.get(run, 0) + 1
            name = f"{name}#{index[run]}"
        builder = RunBuilder(name=name, source=path, format=seg.layout.format)
        for s in members:
            builder.add_series(s.name, s.values, steps=s.steps, epochs=s.epochs)
        for w in _warnings(seg, set(dropped_text)):
            builder.warn(w)
        if seg.layout.format in ("keras_csv", "lightning_csv"):
            builder.meta["epoch_base"] = 0
        builder.meta["first_line"] = seg.line
        if constants:
            builder.meta["constants"] = dict(constants)
        if seg.layout.ignored:
            builder.meta["ignored_columns"] = list(seg.layout.ignored)
        if dropped_text:
            builder.meta["text_columns"] = list(dropped_text)
        runs.append(builder.build())
    return runs

"""MLflow tracking stores → `Run`s (one per MLflow run), read without MLflow.

* The file store: ``mlruns/<experiment_id>/<run_id>/metrics/<key>`` files of lines
  ``<timestamp ms> <value> <step>`` (metric keys with ``/`` are nested directories),
  ``meta.yaml`` per experiment and run, ``tags/<key>`` (``mlflow.runName`` names the run) and
  ``params/<key>``. `read` takes a store root, an experiment directory, a run directory or one
  metric file (that run, that metric only).
* The SQLite backend (``sqlite:///mlflow.db``): the ``metrics`` table (``key, value,
  timestamp, run_uuid, step, is_nan``) with the ``runs``, ``experiments``, ``tags`` and
  ``params`` tables, opened read-only.

Values: ``is_nan`` rows and ``nan`` text are NaN; ``±1.7976931348623157e308`` (MLflow's
stand-in for ±inf in databases) and ``inf`` text are ±inf. Points are ordered by step, then
timestamp, as MLflow plots them; a metric logged without ``step=`` (every point at step 0) gets
no steps (its points keep their time order) and a warning. Deleted runs and experiments are
skipped unless a run directory is named directly. Params and tags go to ``run.meta``.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

from lossdoctor.errors import ReadError
from lossdoctor.read import read_head
from lossdoctor.read._builder import RunBuilder
from lossdoctor.run import Run

__all__ = ["NAME", "find", "read", "sniff"]

NAME = "mlflow"

_SQLITE_MAGIC = b"SQLite format 3\x00"
_MAX_META_BYTES = 1 << 20
_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_SKIP_DIRS = {"__pycache__", "node_modules"}
_METRIC_LINE = re.compile(rb"^\s*\d+\s+\S+(\s+-?\d+)?\s*$")


# --------------------------------------------------------------------------------- meta.yaml


def _unquote(raw: str) -> Any:
    """One YAML scalar as MLflow writes them (plain, 'single' or "double" quoted)."""
    s = raw.strip()
    if len(s) >= 2 and s[0] == s[-1] == "'":
        return s[1:-1].replace("''", "'")
    if len(s) >= 2 and s[0] == s[-1] == '"':
        try:
            return json.loads(s)
        except ValueError:
            return s[1:-1]
    if s in ("", "~", "null", "Null", "NULL"):
        return None
    if s in ("[]", "{}"):
        return [] if s == "[]" else {}
    if re.fullmatch(r"-?\d{1,18}", s):
        return int(s)
    return s


def parse_meta_yaml(text: str) -> dict[str, Any]:
    """The top-level ``key: scalar`` pairs of an MLflow ``meta.yaml``.

    MLflow writes these files with ``yaml.safe_dump`` of flat dicts, so this handles the plain
    and quoted scalars it produces, including long values folded over indented continuation
    lines; nested blocks and lists (other than ``[]``) are ignored.
    """
    raw: dict[str, str] = {}
    key: str | None = None  # the key whose scalar may continue on indented lines
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0] in " \t":
            if key is not None:
                raw[key] = f"{raw[key]} {line.strip()}"
            continue
        m = re.match(r"([A-Za-z_][\w.\-]*):(?:\s+(.*))?$", line)
        if m is None:
            key = None
            continue
        raw[m.group(1)] = (m.group(2) or "").strip()
        # A key with nothing after it opens a nested block, which is not read.
        key = m.group(1) if raw[m.group(1)] else None
    return {k: _unquote(v) for k, v in raw.items()}


def _meta(d: Path) -> dict[str, Any] | None:
    p = d / "meta.yaml"
    try:
        if not p.is_file() or p.stat().st_size > _MAX_META_BYTES:
            return None
        return parse_meta_yaml(p.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None


def _is_run_meta(meta: dict[str, Any] | None) -> bool:
    return meta is not None and ("run_id" in meta or "run_uuid" in meta)


def _is_experiment_meta(meta: dict[str, Any] | None) -> bool:
    return meta is not None and "experiment_id" in meta and not _is_run_meta(meta)


def _subdirs(d: Path) -> list[Path]:
    try:
        with os.scandir(d) as it:
            return sorted(Path(e.path) for e in it
                          if e.is_dir() and not e.name.startswith(".") and e.name not in _SKIP_DIRS)
    except OSError:
        return []


def _dir_kind(d: Path) -> str | None:
    """``"run"``, ``"experiment"``, ``"store"`` (an ``mlruns`` root) or None."""
    meta = _meta(d)
    if _is_run_meta(meta) or (meta is None and (d / "metrics").is_dir()
                              and ((d / "tags").is_dir() or (d / "params").is_dir())):
        return "run"
    if _is_experiment_meta(meta):
        return "experiment"
    if meta is None and any(_is_experiment_meta(_meta(c)) for c in _subdirs(d)):
        return "store"
    return None


# ------------------------------------------------------------------------------- sniff, find


def _is_mlflow_db(path: Path) -> bool:
    try:
        with closing(_connect(path)) as con:
            tables = _tables(con)
    except (sqlite3.Error, ReadError):
        return False
    return {"metrics", "runs"} <= tables


def _metric_file_run(path: Path) -> tuple[Path, str] | None:
    """(run directory, metric key) when `path` is a metric file inside a file-store run."""
    parts: list[str] = [path.name]
    d = path.parent
    for _ in range(16):
        if d.name == "metrics" and _is_run_meta(_meta(d.parent)):
            return d.parent, "/".join(reversed(parts))
        if d == d.parent:
            return None
        parts.append(d.name)
        d = d.parent
    return None


def sniff(path: Path, head: bytes) -> bool:
    """True for an MLflow SQLite database or a metric file of a file-store run."""
    if head.startswith(_SQLITE_MAGIC):
        return _is_mlflow_db(path)
    first = head.split(b"\n", 1)[0]
    return bool(_METRIC_LINE.match(first)) and _metric_file_run(path) is not None


def find(root: Path) -> list[Path]:
    """The MLflow file stores, experiment directories and run directories under `root`
    (the topmost of each; `root` itself when it is one). SQLite databases are files and are
    found by sniffing."""
    root = Path(root)
    if not root.is_dir():
        return []
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root):
        d = Path(dirpath)
        if _dir_kind(d) is not None:
            found.append(d)
            dirnames[:] = []
            continue
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and n not in _SKIP_DIRS)
    return found


# -------------------------------------------------------------------------------- values


def _value(v: float) -> float:
    """MLflow's database stand-ins for ±inf back to ±inf."""
    if abs(v) >= sys.float_info.max:
        return math.copysign(math.inf, v)
    return v


def _add_points(b: RunBuilder, key: str, points: list[tuple[float, float, float]]) -> None:
    """Add `points` of (step, timestamp, value), ordered by step then time."""
    points.sort(key=lambda p: (p[0], p[1]))
    steps = [p[0] for p in points]
    if len(points) > 1 and steps[0] == steps[-1]:
        b.warn("mlflow.one_step", metric=key, count=len(points), step=steps[0])
        b.add_series(key, [p[2] for p in points])
    else:
        b.add_series(key, [p[2] for p in points], steps=steps)


def _add_all(b: RunBuilder, series: dict[str, list[tuple[float, float, float]]]) -> None:
    """Add every metric of a run, in the order they were first logged."""
    for key in sorted(series, key=lambda k: (min(p[1] for p in series[k]), k)):
        _add_points(b, key, series[key])


# --------------------------------------------------------------------------------- file store


def _read_kv_dir(d: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not d.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(d):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath) / f
            try:
                if p.stat().st_size <= _MAX_META_BYTES:
                    out[p.relative_to(d).as_posix()] = p.read_text("utf-8", errors="replace")
            except OSError:
                continue
    return out


def _read_metric_file(p: Path) -> tuple[list[tuple[float, float, float]], int, bool]:
    """(points, malformed line count, last line truncated) of one file-store metric file."""
    points: list[tuple[float, float, float]] = []
    bad = 0
    truncated = False
    with open(p, "rb") as f:
        for raw in f:
            fields = raw.split()
            if not fields:
                continue
            if not raw.endswith(b"\n"):
                # MLflow writes whole lines; one without its newline may be cut anywhere
                # (even "0.12" of "0.125"), so it is not read.
                truncated = True
                continue
            try:
                if len(fields) not in (2, 3):
                    raise ValueError
                ts = float(int(fields[0]))
                value = _value(float(fields[1]))
                step = float(int(fields[2])) if len(fields) == 3 else 0.0
            except ValueError:
                bad += 1
                continue
            points.append((step, ts, value))
    return points, bad, truncated


def _read_file_run(run_dir: Path, experiment: dict[str, Any] | None,
                   only: str | None = None) -> Run | None:
    meta = _meta(run_dir) or {}
    tags = _read_kv_dir(run_dir / "tags")
    run_id = str(meta.get("run_id") or meta.get("run_uuid") or run_dir.name)
    name = (tags.get("mlflow.runName") or "").strip() or meta.get("run_name") or run_id
    b = RunBuilder(name=str(name), source=run_dir, format="mlflow")
    b.meta["run_id"] = run_id
    exp = experiment if experiment is not None else _meta(run_dir.parent)
    if _is_experiment_meta(exp) and exp is not None:
        b.meta["experiment"] = exp.get("name")
    b.meta["experiment_id"] = meta.get("experiment_id", run_dir.parent.name)
    status = meta.get("status")
    if status is not None:
        b.meta["status"] = _STATUS.get(status, status) if isinstance(status, int) else status
    for k in ("start_time", "end_time"):
        if meta.get(k) is not None:
            b.meta[k] = meta[k]
    b.meta["params"] = _read_kv_dir(run_dir / "params")
    b.meta["tags"] = tags
    if meta.get("lifecycle_stage") == "deleted":
        b.warn("mlflow.deleted_run")
    metrics_dir = run_dir / "metrics"
    bad_files: list[str] = []
    truncated: list[str] = []
    series: dict[str, list[tuple[float, float, float]]] = {}
    for dirpath, dirnames, filenames in os.walk(metrics_dir):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath) / f
            key = p.relative_to(metrics_dir).as_posix()
            if only is not None and key != only:
                continue
            try:
                points, bad, cut = _read_metric_file(p)
            except OSError as exc:
                b.warn("mlflow.metric_unreadable", metric=key, reason=exc.strerror or str(exc))
                continue
            if bad:
                bad_files.append(f"{key!r} ({bad})")
            if cut:
                truncated.append(repr(key))
            if points:
                series[key] = points
    _add_all(b, series)
    if bad_files:
        b.warn("mlflow.malformed_lines", files=", ".join(bad_files))
    if truncated:
        b.warn("mlflow.last_line_incomplete", files=", ".join(truncated))
    return b.build() if len(b) else None


def _order(run: Run) -> tuple[int, str]:
    """Runs in the order they were started (then by name)."""
    start = run.meta.get("start_time")
    return (start if isinstance(start, int) else 0, run.name)


def _read_experiment(exp_dir: Path, include_deleted: bool = False) -> list[Run]:
    exp = _meta(exp_dir)
    runs: list[Run] = []
    for d in _subdirs(exp_dir):
        meta = _meta(d)
        if not _is_run_meta(meta) or meta is None:
            continue
        if meta.get("lifecycle_stage") == "deleted" and not include_deleted:
            continue
        run = _read_file_run(d, exp)
        if run is not None:
            runs.append(run)
    return sorted(runs, key=_order)


def _read_store(root: Path) -> list[Run]:
    runs: list[Run] = []
    for d in _subdirs(root):
        meta = _meta(d)
        if _is_experiment_meta(meta) and meta is not None and (
            meta.get("lifecycle_stage") != "deleted"
        ):
            runs.extend(_read_experiment(d))
    return sorted(runs, key=_order)


# ------------------------------------------------------------------------------------ SQLite


def _connect(path: Path) -> sqlite3.Connection:
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=ro"
    try:
        return sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise ReadError(path, "mlflow.sqlite_open", reason=str(exc)) from None


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in con.execute(f"PRAGMA table_info({table})")}


def _rows(con: sqlite3.Connection, sql: str) -> Iterable[tuple[Any, ...]]:
    return con.execute(sql)


def _read_db(path: Path) -> list[Run]:
    try:
        with closing(_connect(path)) as con:
            return _read_db_tables(path, con)
    except sqlite3.Error as exc:
        raise ReadError(path, "mlflow.db_unreadable", reason=str(exc)) from None


def _group(rows: Iterable[tuple[Any, ...]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, value, run in rows:
        out.setdefault(str(run), {})[str(key)] = "" if value is None else str(value)
    return out


def _read_db_tables(path: Path, con: sqlite3.Connection) -> list[Run]:
    tables = _tables(con)
    if not {"metrics", "runs"} <= tables:
        raise ReadError(path, "mlflow.not_tracking_db")
    mcols = _columns(con, "metrics")
    if not {"key", "value", "run_uuid"} <= mcols:
        raise ReadError(path, "mlflow.metrics_columns")
    rcols = _columns(con, "runs")
    experiments: dict[str, tuple[str | None, str | None]] = {}
    if "experiments" in tables:
        ecols = _columns(con, "experiments")
        stage = "lifecycle_stage" if "lifecycle_stage" in ecols else "NULL"
        for eid, ename, estage in _rows(
            con, f"SELECT experiment_id, name, {stage} FROM experiments"
        ):
            experiments[str(eid)] = (ename, estage)
    wanted = [c for c in ("name", "status", "start_time", "end_time", "lifecycle_stage",
                          "experiment_id") if c in rcols]
    runs_meta: dict[str, dict[str, Any]] = {}
    for row in _rows(con, f"SELECT run_uuid, {', '.join(wanted) or 'NULL'} FROM runs"):
        runs_meta[str(row[0])] = dict(zip(wanted, row[1:], strict=False))
    tags = _group(_rows(con, "SELECT key, value, run_uuid FROM tags")) if "tags" in tables else {}
    params = (_group(_rows(con, "SELECT key, value, run_uuid FROM params"))
              if "params" in tables else {})
    step = "step" if "step" in mcols else "0"
    ts = "timestamp" if "timestamp" in mcols else "0"
    is_nan = "is_nan" if "is_nan" in mcols else "0"
    deleted = {r for r, m in runs_meta.items()
               if m.get("lifecycle_stage") == "deleted"
               or experiments.get(str(m.get("experiment_id")), (None, None))[1] == "deleted"}
    builders: dict[str, RunBuilder] = {}
    series: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for run_uuid, key, value, s, t, nan in _rows(
        con, f"SELECT run_uuid, key, value, {step}, {ts}, {is_nan} FROM metrics"
    ):
        run_uuid = str(run_uuid)
        if run_uuid in deleted:
            continue
        try:
            v = math.nan if nan else _value(float(value))
        except (TypeError, ValueError):
            v = math.nan
        series.setdefault((run_uuid, str(key)), []).append((float(s or 0), float(t or 0), v))
    per_run: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    for (run_uuid, key), points in series.items():
        per_run.setdefault(run_uuid, {})[key] = points
    for run_uuid, run_series in per_run.items():
        b = builders.get(run_uuid)
        if b is None:
            meta = runs_meta.get(run_uuid, {})
            exp_name = experiments.get(str(meta.get("experiment_id")), (None, None))[0]
            b = builders[run_uuid] = _db_builder(path, run_uuid, meta, exp_name,
                                                 tags.get(run_uuid, {}),
                                                 params.get(run_uuid, {}))
        _add_all(b, run_series)
    runs = [b.build() for b in builders.values() if len(b)]
    if not runs:
        raise ReadError(path, "mlflow.db_only_deleted" if deleted else "mlflow.db_no_metrics")
    return sorted(runs, key=_order)


def _db_builder(path: Path, run_uuid: str, meta: dict[str, Any], experiment: str | None,
                tags: dict[str, str], params: dict[str, str]) -> RunBuilder:
    name = meta.get("name") or tags.get("mlflow.runName") or run_uuid
    b = RunBuilder(name=str(name), source=path, format="mlflow_sqlite")
    b.meta["run_id"] = run_uuid
    if meta.get("experiment_id") is not None:
        b.meta["experiment_id"] = str(meta["experiment_id"])
    if experiment is not None:
        b.meta["experiment"] = experiment
    for k in ("status", "start_time", "end_time"):
        if meta.get(k) is not None:
            b.meta[k] = meta[k]
    b.meta["params"] = params
    b.meta["tags"] = tags
    if not meta:
        b.warn("mlflow.no_runs_row", run=run_uuid)
    return b


# ------------------------------------------------------------------------------------- entry


def _iter_found(path: Path) -> Iterator[Run]:
    kind = _dir_kind(path)
    if kind == "run":
        run = _read_file_run(path, None)
        if run is not None:
            yield run
    elif kind == "experiment":
        yield from _read_experiment(path)
    elif kind == "store":
        yield from _read_store(path)
    else:
        for d in find(path):
            yield from _iter_found(d)


def read(path: Path) -> list[Run]:
    """Read an MLflow store: a SQLite database, or a file-store root, experiment directory,
    run directory or metric file. One `Run` per MLflow run that logged metrics."""
    path = Path(path)
    if path.is_dir():
        runs = list(_iter_found(path))
        if not runs:
            raise ReadError(path, "mlflow.no_metrics" if find(path) else "mlflow.not_store_dir")
        return runs
    head = read_head(path, len(_SQLITE_MAGIC))
    if head == _SQLITE_MAGIC:
        return _read_db(path)
    found = _metric_file_run(path)
    if found is None:
        if not head:
            raise ReadError(path, "empty_file")
        raise ReadError(path, "mlflow.not_store_file")
    run = _read_file_run(found[0], None, only=found[1])
    if run is None:
        raise ReadError(path, "mlflow.empty_metric_file")
    return [run]

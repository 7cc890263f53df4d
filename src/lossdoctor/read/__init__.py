"""Readers: every supported log format → `Run`s.

`read(path)` takes a file or a directory and detects the format from the content (the first
64 KiB), not only from the file name; ``format=`` forces a reader. Each format lives in its own
module that provides ``NAME``, ``sniff(path, head) -> bool`` and ``read(path) -> list[Run]``;
formats that span directories (TensorBoard logdirs, MLflow stores, W&B run directories) also
provide ``find(root) -> list[Path]``: the paths under `root` they read as a whole; what one of
them claims is not read again by the next (W&B first: a run directory keeps the TensorBoard
files it synced).

A file is a training log when it holds a training curve: a metric recorded again and again,
in order, along a step, epoch or row axis. Files that are not (READMEs, ``MANIFEST.md``
tables, ``config.json``, ``hparams.yaml``, ``all_results.json`` summaries, label files) give a
`ReadError` whose problem starts with ``"unknown format"`` (no reader recognises the file) or
``"no training curve found"`` (a reader does, but finds only one-off numbers).

In a directory, such files are skipped silently: documentation and settings next to logs are
normal, and warning about them would bury the warnings that matter. Copies are skipped too: an
MMEngine run directory's ``vis_data/scalars.json`` is read, not its ``vis_data/<timestamp>.json``
and ``<timestamp>.log``, which hold the same scalars. A file that is a log but
cannot be read (empty, truncated, corrupt, unreadable) is skipped with a `ReadWarning`. When
nothing at all is read, the `ReadError` for the directory counts the files that were not logs.
"""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path
from types import ModuleType

from lossdoctor.errors import ReadError, ReadWarning
from lossdoctor.messages_lines import Message
from lossdoctor.run import Run

__all__ = ["FORMATS", "read"]

#: ``--format`` name → module, in sniffing order (most specific first).
FORMATS: dict[str, str] = {
    "wandb": "lossdoctor.read.wandblog",
    "tensorboard": "lossdoctor.read.tfevents",
    "mlflow": "lossdoctor.read.mlruns",
    "json": "lossdoctor.read.jsonlog",
    "csv": "lossdoctor.read.table",
    "text": "lossdoctor.read.textlog",
}
#: Directory formats, in the order they claim paths: a path under one already claimed is not
#: read again (a W&B run directory holds the TensorBoard files it synced: `sync_tensorboard`).
_DIRECTORY_FORMATS = ("wandb", "mlflow", "tensorboard")
#: The codes of the `ReadError` problems that say "this file is not a training log" rather than
#: "this log is broken".
_NOT_A_LOG = frozenset({
    "no_curve", "read.unknown_format", "read.unknown_format_name", "read.unknown_format_forced",
    "json.no_series", "json.no_values", "json.no_values_lines",
})
_HEAD_BYTES = 65536
_SKIP_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".gif", ".svg", ".pdf", ".pt", ".pth", ".ckpt", ".bin",
    ".safetensors", ".pkl", ".pickle", ".npy", ".npz", ".h5", ".keras", ".onnx", ".zip",
    ".gz", ".tar", ".py", ".pyc", ".so", ".whl",
}


def _module(fmt: str) -> ModuleType:
    try:
        return importlib.import_module(FORMATS[fmt])
    except KeyError:
        raise ReadError(fmt, "read.unknown_format_name", formats=", ".join(FORMATS)) from None


def read_head(path: Path, size: int = _HEAD_BYTES) -> bytes:
    """The first `size` bytes of `path`; a one-line `ReadError` if it cannot be opened."""
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError as exc:
        raise ReadError(path, "cannot_open", reason=exc.strerror or exc) from None


def _read_file(path: Path, fmt: str | None) -> list[Run]:
    if fmt is not None:
        runs = _module(fmt).read(path)
    else:
        head = read_head(path)
        if not head:
            raise ReadError(path, "empty_file")
        for name in FORMATS:
            module = _module(name)
            if module.sniff(path, head):
                runs = module.read(path)
                break
        else:
            why = Message("read.binary_data" if b"\x00" in head[:4096]
                          else "read.no_metrics_recognised")
            raise ReadError(path, "read.unknown_format", why=why, formats=", ".join(FORMATS))
    runs = [r for r in runs if r.series]
    if not runs:
        raise ReadError(path, "read.no_values")
    return runs


def _copies(here: Path) -> set[Path]:
    """Files under the directory `here` that repeat a log read from elsewhere in it: an
    MMEngine run directory (``<timestamp>/``) writes its scalars three times, to
    ``vis_data/scalars.json``, ``vis_data/<timestamp>.json`` and the text log
    ``<timestamp>.log``; the first is read, the other two are copies (also when `here` is
    the ``vis_data`` directory itself)."""
    if here.name == "vis_data" and (here / "scalars.json").is_file():  # read from inside it
        return {here / f"{here.parent.name}.json"}
    if not (here / "vis_data" / "scalars.json").is_file():
        return set()
    return {here / f"{here.name}.log", here / "vis_data" / f"{here.name}.json"}


def _walk_files(root: Path, claimed: set[Path]) -> list[Path]:
    files: list[Path] = []
    skip: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here in claimed:  # a directory format read it as a whole (root itself, too)
            dirnames[:] = []
            continue
        if "vis_data" in dirnames or here.name == "vis_data":
            skip |= _copies(here)
        dirnames[:] = sorted(
            d for d in dirnames
            if not d.startswith(".") and d != "__pycache__" and here / d not in claimed
        )
        for f in sorted(filenames):
            p = here / f
            if (f.startswith(".") or p in claimed or p in skip
                    or p.suffix.lower() in _SKIP_SUFFIXES):
                continue
            files.append(p)
    return files


def _read_dir(root: Path, fmt: str | None) -> list[Run]:
    runs: list[Run] = []
    claimed: set[Path] = set()
    errors: list[ReadError] = []
    for name in _DIRECTORY_FORMATS if fmt is None else (fmt,):
        module = _module(name)
        find = getattr(module, "find", None)
        if find is None:
            continue
        earlier = set(claimed)  # claimed by the formats before this one
        for p in find(root):
            if earlier and (p in earlier or any(parent in earlier for parent in p.parents)):
                continue
            claimed.add(p)
            try:
                runs.extend(module.read(p))
            except ReadError as exc:  # one unreadable run does not hide the others
                errors.append(exc)
                warnings.warn(ReadWarning(exc.message), stacklevel=3)
    not_logs: list[Path] = []
    if fmt is None or not hasattr(_module(fmt), "find"):
        for p in _walk_files(root, claimed):
            try:
                runs.extend(_read_file(p, fmt))
            except ReadError as exc:
                if exc.problem.code in _NOT_A_LOG:
                    not_logs.append(p)  # documentation, settings, results: not a log
                else:
                    warnings.warn(ReadWarning(exc.message), stacklevel=3)
    if not runs and errors:
        raise errors[0]
    if not runs:
        names = ", ".join(p.name for p in not_logs[:3]) + (", …" if len(not_logs) > 3 else "")
        if not not_logs:
            raise ReadError(root, "read.no_logs_in_dir")
        if len(not_logs) == 1:
            raise ReadError(root, "read.no_logs_in_dir_one", names=names)
        raise ReadError(root, "read.no_logs_in_dir_many", count=len(not_logs), names=names)
    return runs


def read(path: str | os.PathLike[str], *, format: str | None = None) -> list[Run]:
    """Read every run in `path` (a log file or a directory of logs).

    Args:
        path: a file (text log, CSV/TSV, JSON/JSONL, TensorBoard event file, MLflow SQLite
            database, W&B ``run-<id>.wandb``) or a directory (TensorBoard logdir, ``mlruns/``
            tree, ``wandb/`` directory of runs, folder of logs).
        format: force a reader (one of `FORMATS`) instead of detecting it from the content.

    Returns:
        The runs found, in file order; a file holding several runs one after another (a
        restarted epoch counter) gives several runs.

    Raises:
        ReadError: ``"<path>: <problem>"`` when nothing can be read (missing, empty, unknown
        format, no training curve, corrupt). Problems a reader recovered from are in
        ``run.warnings``; inside a directory, logs that cannot be read are reported as
        `ReadWarning` warnings and files that are not logs are skipped silently (see the
        module docstring).
    """
    p = Path(path)
    if format is not None and format not in FORMATS:
        raise ReadError(p, "read.unknown_format_forced", format=format,
                        formats=", ".join(FORMATS))
    if not p.exists():
        raise ReadError(p, "read.no_such_path")
    if p.is_dir():
        return _read_dir(p, format)
    return _read_file(p, format)

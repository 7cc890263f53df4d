"""W&B transaction logs (``run-<id>.wandb``) → `Run`s.

Every W&B run directory (``wandb/run-<date>-<id>/``, ``wandb/offline-run-<date>-<id>/``)
holds the run's transaction log, ``run-<id>.wandb``. For an offline run it is the only local
copy of the history: the SDK writes no ``files/wandb-history.jsonl`` then (checked with wandb
0.31). A file is read on its own, or as its run directory; in a directory of runs each run
directory is one run, read from its log, so a ``files/wandb-history.jsonl`` beside it is not
read twice.

The format is W&B's datastore, LevelDB's log format: a 7-byte header (``:W&B``, the magic
0xBEE1 little-endian, version 0), then blocks of 32 KiB filled with records: a CRC-32 (zlib's)
of the type byte and the data, the data's length (uint16), the type (FULL; or FIRST, MIDDLE …,
LAST for a message split across blocks), the data; a block's last bytes, too few for a record
header, are zero. Each message is a serialized ``wandb_internal.Record``. Read from it:
``history`` rows (one per committed step: items with a key path and a JSON value, the step),
walked with the wire-format decoder of `lossdoctor.read._protowire`, and the run's id, project
and display name (``run.meta``). Rows go through the same routing as ``wandb-history.jsonl``
lines (`lossdoctor.read.jsonlog.RecordSink`): ``_step`` is the step unless a ``global_step``
key is logged, ``_runtime``/``_timestamp`` are bookkeeping, nested keys are joined with ``.``,
media (histograms, images: paths under a ``_type`` item) and non-numbers are skipped, and
``NaN``/``Infinity`` are non-finite values.

Damaged files: a last record cut short (a run still writing) is read up to the last complete
message, with a warning; a CRC mismatch or broken framing stops the file there, with a warning
naming the byte offset when rows before it were read, a `ReadError` otherwise.
"""

from __future__ import annotations

import mmap
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from lossdoctor.errors import ReadError
from lossdoctor.messages_lines import Message
from lossdoctor.read._protowire import Malformed, fields, varint
from lossdoctor.read.jsonlog import RecordSink
from lossdoctor.run import Run

__all__ = ["NAME", "find", "read", "sniff"]

NAME = "wandb"

_IDENT = b":W&B\xe1\xbe"  # ident and magic; the version byte follows
_VERSION = 0
_FILE_HEADER = 7
_BLOCK = 32768
_RECORD_HEADER = 7  # CRC-32 (uint32), length (uint16), type (uint8)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_TYPE_CRC = {t: zlib.crc32(bytes([t])) for t in (_FULL, _FIRST, _MIDDLE, _LAST)}
_HEADER_STRUCT = struct.Struct("<IHB")

# wandb_internal.proto field numbers
_RECORD_HISTORY = 2
_RECORD_RUN = 17
_HISTORY_ITEM = 1
_HISTORY_STEP = 2
_ITEM_KEY = 1
_ITEM_NESTED_KEY = 2
_ITEM_INTEGER = 5  # sint64
_ITEM_NUMBER = 6  # double
_ITEM_VALUE_JSON = 16
_RUN_FIELDS = {1: "wandb_run_id", 3: "wandb_project", 8: "wandb_name"}


def sniff(path: Path, head: bytes) -> bool:
    return head.startswith(_IDENT)


def _logs_in(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.wandb") if p.is_file() and not p.is_symlink())


def _is_run_dir(directory: Path, logs: list[Path]) -> bool:
    """A W&B run directory: ``…-<id>`` holding ``run-<id>.wandb`` (the SDK's layout; a link
    to one, ``wandb/latest-run``, counts as the directory it points to)."""
    name = directory.resolve().name
    return any(p.stem.startswith("run-") and name.endswith("-" + p.stem[4:]) for p in logs)


def find(root: Path) -> list[Path]:
    """What to read as a whole under `root`: each W&B run directory (`_is_run_dir`; `root`
    itself when it is one), so that the SDK's other files in it (``files/wandb-history.jsonl``
    when an older SDK wrote it, ``logs/debug.log``) are not read again as logs of their own;
    and any other ``*.wandb`` log, alone. Links (``wandb/latest-run``) are not followed."""
    root = Path(root)
    if root.is_file():
        return []
    out: list[Path] = []
    for dirpath, dirnames, _files in os.walk(root):
        here = Path(dirpath)
        logs = _logs_in(here)
        if logs and _is_run_dir(here, logs):
            out.append(here)
            dirnames[:] = []
            continue
        out.extend(logs)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
    return out


# ---------------------------------------------------------------------------------- framing


class _Records:
    """The messages of a log, one at a time (the file is memory-mapped, not read whole);
    `stop` is ``(problem code, byte offset)`` when the framing ended early."""

    def __init__(self, data: bytes | mmap.mmap, path: Path) -> None:
        if len(data) < _FILE_HEADER or data[: len(_IDENT)] != _IDENT:
            raise ReadError(path, "wandb.bad_header")
        if data[6] != _VERSION:
            raise ReadError(path, "wandb.version", version=data[6])
        self.data = data
        self.stop: tuple[str, int] | None = None

    def __iter__(self) -> Iterator[bytes]:
        data = self.data
        parts: list[bytes] = []
        pos, end = _FILE_HEADER, len(data)
        while pos < end:
            room = _BLOCK - pos % _BLOCK
            if room < _RECORD_HEADER:
                pos += room  # the block's zero trailer
                continue
            if end - pos < _RECORD_HEADER:
                self.stop = ("wandb.truncated", pos)
                return
            crc, length, kind = _HEADER_STRUCT.unpack_from(data, pos)
            if kind not in _TYPE_CRC:
                if kind == 0 and length == 0 and not any(data[pos:]):
                    return  # zeros to the end: space allocated ahead, not records
                self.stop = ("wandb.bad_type", pos)
                return
            if length > room - _RECORD_HEADER:
                self.stop = ("wandb.bad_length", pos)
                return
            start = pos + _RECORD_HEADER
            if start + length > end:
                self.stop = ("wandb.truncated", pos)
                return
            chunk = data[start : start + length]
            if zlib.crc32(chunk, _TYPE_CRC[kind]) != crc:
                self.stop = ("wandb.crc", pos)
                return
            if (kind in (_FULL, _FIRST)) == bool(parts):  # a new message inside a split one,
                self.stop = ("wandb.bad_sequence", pos)  # or a piece outside one
                return
            if kind == _FULL:
                yield chunk
            elif kind == _LAST:
                parts.append(chunk)
                yield b"".join(parts)
                parts = []
            else:
                parts.append(chunk)
            pos = start + length
        if parts:
            self.stop = ("wandb.truncated", pos)


# ------------------------------------------------------------------------------- messages


def _text(b: bytes, start: int, end: int) -> str:
    return b[start:end].decode("utf-8", errors="replace")


def _item(b: bytes, pos: int, end: int) -> tuple[tuple[str, ...], float | None] | None:
    """A ``HistoryItem``'s key path and its value as a number (None when it is not one)."""
    key: list[str] = []
    value: float | None = None
    for number, wire, start, stop, v in fields(b, pos, end):
        if number in (_ITEM_KEY, _ITEM_NESTED_KEY) and wire == 2:
            key.append(_text(b, start, stop))
        elif number == _ITEM_VALUE_JSON and wire == 2:
            try:  # JSON numbers, NaN and Infinity parse as floats; strings, lists … do not
                value = float(b[start:stop])
            except ValueError:
                value = None
        elif number == _ITEM_NUMBER and wire == 1:
            value = struct.unpack_from("<d", b, start)[0]
        elif number == _ITEM_INTEGER and wire == 0:
            value = float((v >> 1) ^ -(v & 1))
    return (tuple(key), value) if key else None


def _row(items: list[tuple[tuple[str, ...], float | None]], step: int | None,
         ) -> dict[str, float | None]:
    """History items as one row: ``"a.b"`` keys; media items (under a ``_type``) left out."""
    media = {k[:-1] for k, _ in items if k[-1] == "_type"}
    row: dict[str, float | None] = {}
    for k, value in items:
        if media and any(k[:i] in media for i in range(1, len(k))):
            continue
        row[".".join(k)] = value
    if step is not None and "_step" not in row:
        row["_step"] = float(step)
    return row


def _history(b: bytes, pos: int, end: int) -> dict[str, float | None]:
    """A ``HistoryRecord`` as one row (see `_row`), by the generic field walk."""
    items: list[tuple[tuple[str, ...], float | None]] = []
    step: int | None = None
    for number, wire, start, stop, _v in fields(b, pos, end):
        if number == _HISTORY_ITEM and wire == 2:
            item = _item(b, start, stop)
            if item is not None:
                items.append(item)
        elif number == _HISTORY_STEP and wire == 2:
            step = 0  # HistoryStep.num, 0 when absent
            for n, w, _s, _e, num in fields(b, start, stop):
                if n == 1 and w == 0:
                    step = num - (1 << 64) if num >= 1 << 63 else num
    return _row(items, step)


def _history_fast(b: bytes, pos: int, end: int,
                  keys: dict[bytes, tuple[str, ...]]) -> dict[str, float | None] | None:
    """`_history` for the layout the SDK writes — items of ``nested_key`` strings and a
    ``value_json``, then the step, every length under 128 bytes — read by direct indexing
    (about 3x faster than the generic walk: BENCHMARKS.md); None for anything else, which
    then goes the generic way. `keys` caches the decoded key paths by their bytes."""
    items: list[tuple[tuple[str, ...], float | None]] = []
    step: int | None = None
    while pos < end:
        if pos + 2 > end:
            return None
        tag, n = b[pos], b[pos + 1]
        start = pos + 2
        pos = start + n
        if n >= 0x80 or pos > end:
            return None
        if tag == 0x0A:  # HistoryRecord.item
            p = start
            while p < pos and b[p] == 0x12:  # HistoryItem.nested_key
                if p + 2 > pos or b[p + 1] >= 0x80:
                    return None
                p += 2 + b[p + 1]
            if p == start or p + 3 > pos or b[p] != 0x82 or b[p + 1] != 0x01:
                return None  # HistoryItem.value_json (field 16) must follow
            if b[p + 2] != pos - p - 3:
                return None
            raw_key = b[start:p]
            path = keys.get(raw_key)
            if path is None:
                item = _item(b, start, pos)  # decoded once per distinct key path
                if item is None:
                    return None
                path = keys[raw_key] = item[0]
            try:
                value: float | None = float(b[p + 3 : pos])
            except ValueError:
                value = None
            items.append((path, value))
        elif tag == 0x12:  # HistoryRecord.step
            step = 0
            if n:
                if b[start] != 0x08:
                    return None
                num, q = varint(b, start + 1, pos)
                if q != pos:
                    return None
                step = num - (1 << 64) if num >= 1 << 63 else num
        else:
            return None
    return _row(items, step)


def _history_span(m: bytes) -> tuple[int, int] | None:
    """Where ``Record.history`` lies in a message, or None when it holds none. Serialisers write
    fields in field-number order, so a history row is ``num`` (field 1, absent when 0) then
    ``history`` (field 2): found without walking the rest (summary records, as many as the
    rows, are skipped in two lookups)."""
    end = len(m)
    pos = varint(m, 1, end)[1] if end and m[0] == 0x08 else 0
    if pos >= end or m[pos] != 0x12:
        return None
    n, start = varint(m, pos + 1, end)
    if start + n > end:
        raise Malformed
    return start, start + n


def _run_meta(b: bytes, pos: int, end: int) -> dict[str, str]:
    return {_RUN_FIELDS[n]: _text(b, s, e) for n, w, s, e, _v in fields(b, pos, end)
            if n in _RUN_FIELDS and w == 2}


# ---------------------------------------------------------------------------------- entry


def _run_name(path: Path) -> str:
    """The run directory's name (as for its ``files/wandb-history.jsonl``), else the file's."""
    return path.parent.resolve().name if _is_run_dir(path.parent, [path]) else path.stem


def _read_log(path: Path) -> list[Run]:
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise ReadError(path, "empty_file")
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _decode(path, _Records(data, path))
    except OSError as exc:
        raise ReadError(path, "cannot_open", reason=exc.strerror or exc) from None


def _decode(path: Path, records: _Records) -> list[Run]:
    sink = RecordSink(path, _run_name(path), NAME, sep=".", split=False)
    meta: dict[str, str] = {}
    keys: dict[bytes, tuple[str, ...]] = {}
    bad = 0
    rows = 0
    for m in records:
        try:
            span = _history_span(m)
            if span is not None:
                row = _history_fast(m, *span, keys)
                sink.add(_history(m, *span) if row is None else row)
                rows += 1
                continue
            if meta:
                continue  # not a history row, and the run's details are known
            for number, wire, start, end, _v in fields(m, 0, len(m)):
                if number == _RECORD_HISTORY and wire == 2:
                    raise Malformed  # not where the serialisers write it: not a Record
                if number == _RECORD_RUN and wire == 2:
                    meta = _run_meta(m, start, end)
        except Malformed:
            bad += 1
    builders = sink.builders()
    if not builders:
        if records.stop is not None:
            code, offset = records.stop
            raise ReadError(path, "wandb.stopped", problem=Message(code), offset=offset)
        raise ReadError(path, "no_curve", why=Message("wandb.no_history"))
    b = builders[0]
    b.meta.update(meta)
    if records.stop is not None:
        code, offset = records.stop
        b.warn("wandb.stopped_after", problem=Message(code), offset=offset, rows=rows)
    if bad:
        b.warn("wandb.malformed", count=bad)
    return [b.build()]


def read(path: Path) -> list[Run]:
    """Read a W&B transaction log, or the logs of a W&B run directory (see the module
    docstring)."""
    path = Path(path)
    if path.is_dir():
        logs = _logs_in(path)
        if not logs:
            raise ReadError(path, "wandb.no_log")
        return [r for p in logs for r in _read_log(p)]
    return _read_log(path)

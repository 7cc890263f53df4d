"""TensorBoard event files (``events.out.tfevents.*``) and logdirs → `Run`s.

An event file is a sequence of TFRecords (uint64 length, masked CRC-32C of the length, the
data, masked CRC-32C of the data); each record is a serialized ``tensorflow.Event``. Scalars
come in three encodings, all read: ``Summary.Value.simple_value`` (torch's and tensorboardX's
default), ``Summary.Value.tensor`` with ``float_val``/``double_val``/``int_val``/… (torch's
``new_style=True``, ``tensorboard.summary.Writer``) and ``tensor.tensor_content`` (raw
little-endian bytes; TensorFlow 2 / Keras). A tensor value is a scalar when its tag's plugin
is ``"scalars"``; the plugin metadata is written only with the first event of a tag, so it is
remembered per tag. Histograms, images, audio, text, hparams and graphs are skipped (their tags
are listed in ``run.meta["skipped"]``). Every point is kept: no reservoir sampling.

Directories: a run is a directory holding event files, joined with
- the sub-directories torch's / tensorboardX's ``add_scalars`` writes
  (``<run>/<main_tag>_<key>/``, tag ``<main_tag>``): metric ``<main_tag>/<key>``;
- the phase sub-directories Keras writes (``<run>/train/``, ``<run>/validation/``): metric
  ``<phase>/<tag>``, e.g. ``validation/epoch_loss`` → ``val_loss``.
Several event files in one directory (a restarted writer) are merged in file order. A scalar
tag named ``epoch`` (PyTorch Lightning logs one with every step) becomes the epoch axis of the
other metrics at the same steps rather than a metric of its own.

Damaged files: a truncated last record (a run still being written) is read up to the last
complete record, with a warning on the run. A CRC mismatch stops the file at the bad record:
a warning naming the file and the byte offset when records before it were read, a `ReadError`
when nothing at all could be read from the run.

Speed: hand-written, vectorised decoding instead of the protobuf library, because it is
measurably faster (``benchmarks/bench_tensorboard.py``, 112,000 scalars, CPU time): a bare
loop of ``Event.FromString`` over the records takes 0.19 s without any CRC check and 0.30 s
with ``crc32c``; this reader takes 0.04 s with both CRCs of every record checked (EventAccumulator
1.9 s, tbparse 2.0 s; see BENCHMARKS.md). How:
- framing: the walk from record to record is sequential, but the lengths of a file repeat with
  the set of tags logged; the walk predicts them and confirms the predictions in bulk;
- records are grouped by length; in a group, the records whose bytes equal a decoded
  representative everywhere but in its varying slots (wall time, step, value) have its exact
  structure, so the slots are decoded for all of them at once with numpy (many tags of one
  layout: classes by a hash of the constant bytes, each checked byte for byte);
- CRC-32C is affine in the message bytes, so a record's CRC is its representative's CRC xor
  what the differing bytes add (a table per distance from the end): one lookup per varying byte;
- every other record (histograms, text, odd layouts) goes through the general wire-format
  decoder below, so every encoding stays exact (the tests compare with the protobuf library).
"""

from __future__ import annotations

import math
import mmap
import os
import re
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import crc32c
import numpy as np

from lossdoctor.errors import ReadError, ReadWarning
from lossdoctor.messages_lines import Message
from lossdoctor.read import read_head
from lossdoctor.read._builder import RunBuilder
from lossdoctor.read._protowire import Malformed as _Malformed
from lossdoctor.read._protowire import fields as _fields
from lossdoctor.read._protowire import varint as _varint
from lossdoctor.run import Run

__all__ = ["NAME", "find", "is_event_file", "read", "sniff"]

NAME = "tensorboard"

#: Sub-directory names that hold one phase of a run (Keras writes ``train/`` and
#: ``validation/``); their event files join the parent's run, tags prefixed by the phase.
#: (``test/`` and ``dev/`` are not among them: they are as often the name of an experiment.)
PHASE_DIRS = frozenset({"train", "training", "validation", "valid", "val", "eval", "evaluation"})

_MASK_DELTA = 0xA282EAD8
_HEADER = 12  # uint64 length + masked CRC of the length
_FOOTER = 4  # masked CRC of the data
_MMAP_BYTES = 256 << 20  # files larger than this are memory-mapped instead of read
_BULK_MIN_ROWS = 8  # smaller groups of equal-length records are decoded one by one
_BULK_MAX_LENGTH = 4096  # longer records (histograms, images, graphs) are decoded one by one
_BULK_MAX_IDLE_ROUNDS = 16  # give up grouping after this many rounds that each decode one row
_LAYOUT_ONE_BY_ONE = 8  # tags sharing a layout taken one at a time before taking all at once
_KEY_VALUES = 4096  # order key = record index * _KEY_VALUES + value index in the record

# Data types (tensorflow/core/framework/types.proto) → (tensor_content numpy dtype, the
# repeated field holding the values, how to convert that field's varints).
_DTYPES: dict[int, tuple[str, int, str]] = {
    1: ("<f4", 5, ""),  # DT_FLOAT: float_val
    2: ("<f8", 6, ""),  # DT_DOUBLE: double_val
    3: ("<i4", 7, "i32"),  # DT_INT32: int_val
    4: ("u1", 7, "i32"),  # DT_UINT8
    5: ("<i2", 7, "i32"),  # DT_INT16
    6: ("i1", 7, "i32"),  # DT_INT8
    9: ("<i8", 10, "i64"),  # DT_INT64: int64_val
    10: ("?", 11, "bool"),  # DT_BOOL: bool_val
    14: ("bf16", 13, "bf16"),  # DT_BFLOAT16: half_val holds the bits
    17: ("<u2", 7, "i32"),  # DT_UINT16: int_val
    19: ("<f2", 13, "f16"),  # DT_HALF: half_val holds the bits
    22: ("<u4", 16, "u32"),  # DT_UINT32: uint32_val
    23: ("<u8", 17, "u64"),  # DT_UINT64: uint64_val
}
_DTYPE_NAMES = {7: "string", 8: "complex64", 18: "complex128", 20: "resource", 21: "variant"}
_FIXED_FIELDS = {5: 4, 6: 8}  # float_val, double_val: fixed-width packed elements
_VALUE_KINDS = {2: "simple", 3: "histogram", 4: "image", 5: "histogram", 6: "audio", 8: "tensor"}
_DIGITS = re.compile(r"([0-9]+)")


# --------------------------------------------------------------------------------------------
# CRC-32C, scalar and vectorised


def _masked(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def _masked_np(crc: np.ndarray) -> np.ndarray:
    return ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)


@lru_cache(maxsize=1)
def _crc_table() -> np.ndarray:
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0x82F63B78), table >> 1)
    return table.astype(np.uint32)


class _ByteContribution:
    """``table[z, b]``: what byte ``b`` followed by ``z`` zero bytes adds to a CRC-32C.

    CRC-32C is affine over GF(2): for messages of equal length, ``crc(x) == crc(y) ^
    lin(x ^ y)``, and ``lin`` of a single byte ``b`` at distance ``z`` from the end is
    ``table[z, b]``. The table grows on demand (1 KiB per distance).
    """

    def __init__(self) -> None:
        self.table = _crc_table()[None, :].copy()

    def upto(self, z: int) -> np.ndarray:
        have = len(self.table)
        if z >= have:
            base = _crc_table()
            rows = [self.table[-1]]
            for _ in range(z + 1 - have):
                c = rows[-1]
                rows.append(base[c & 0xFF] ^ (c >> np.uint32(8)))
            self.table = np.vstack([self.table, np.array(rows[1:], dtype=np.uint32)])
        return self.table


_CONTRIB = _ByteContribution()


def _crc_rows(cells: np.ndarray, ref_cells: np.ndarray, ref_crc: np.ndarray,
              columns: np.ndarray, length: int) -> np.ndarray:
    """CRC-32C of n messages of `length` bytes that differ from reference messages (CRCs
    `ref_crc`) only in `columns`: `cells` and `ref_cells` (n × len(columns) uint8) are the
    messages' and the references' bytes there."""
    table = _CONTRIB.upto(length - 1).ravel()
    # One gather for every (row, column): table[length - 1 - column, byte], xor-reduced.
    index = np.ascontiguousarray((cells ^ ref_cells).T, dtype=np.intp)  # column by column
    index += ((length - 1 - columns) * 256)[:, None]
    return np.bitwise_xor.reduce(table.take(index), axis=0) ^ ref_crc


def _gather(u8: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """``u8[s : s + width]`` for every s in `starts`, as an (n, width) uint8 array."""
    # Rows as single `width`-byte items (overlapping, stride 1): one memcpy per row, ~3x
    # faster than fancy-indexing a sliding_window_view byte by byte.
    items = np.lib.stride_tricks.as_strided(
        u8[:width].view(f"V{width}"), shape=(len(u8) - width + 1,), strides=(1,))
    return items[starts].view(np.uint8).reshape(len(starts), width)


# --------------------------------------------------------------------------------------------
# Framing


@dataclass
class _Frames:
    """The complete records of one file: byte offsets of their headers and data lengths."""

    offsets: np.ndarray  # int64
    lengths: np.ndarray  # int64
    stop: tuple[int, Message] | None = None  # (byte offset, problem) where reading stopped


_MAX_PERIOD = 1024  # records: up to this many tags logged in a fixed order


def _period(lengths: list[int]) -> int:
    """The smallest period with which the last record lengths repeat over at least 64
    records (so that two equal lengths in a row are not taken for a period), or 0."""
    last = lengths[-1]
    n = len(lengths)
    for p in range(1, _MAX_PERIOD + 1):
        span = max(p, 64)
        if span + p > n:
            break
        if lengths[n - 1 - p] == last and lengths[-span:] == lengths[-span - p : -p]:
            return p
    return 0


def _walk(buf: bytes | mmap.mmap, u8: np.ndarray) -> tuple[np.ndarray, int]:
    """Offsets of the records whose data fit in the file, and where the walk stopped.

    The next offset depends on this record's length, so the walk is sequential. It steps
    record by record in Python for a few records, then predicts the following ones by
    repeating the period of the last lengths (logging a fixed set of tags repeats them) and
    checks the prediction in bulk: every predicted length read back from the file confirms
    the next offset, so what is accepted is exactly the chain a plain loop would follow.
    """
    n = len(buf)
    last = n - _HEADER - _FOOTER
    unpack = struct.Struct("<Q").unpack_from
    window = np.lib.stride_tricks.sliding_window_view(u8, 8) if n >= 8 else None
    parts: list[np.ndarray] = []
    offsets: list[int] = []
    lengths: list[int] = []
    pos = 0
    block = 256
    stride = 64  # records walked one by one before each prediction; grows while none works
    while pos <= last:
        for _ in range(stride):
            (length,) = unpack(buf, pos)
            if length > last - pos:
                pos = -pos - 1  # stop: this record does not fit
                break
            offsets.append(pos)
            lengths.append(length)
            pos += length + _HEADER + _FOOTER
            if pos > last:
                break
        if pos < 0:
            pos = -pos - 1
            break
        period = _period(lengths[-2 * _MAX_PERIOD :])
        if not period or pos > last or window is None:
            stride = min(stride * 2, 2 * _MAX_PERIOD)
            continue
        pattern = np.array(lengths[-period:], dtype=np.int64)
        block = min(block, (last - pos) // (int(pattern.min()) + _HEADER + _FOOTER) + 1)
        guess = np.tile(pattern, -(-block // period))[:block]
        starts = pos + np.concatenate(([0], np.cumsum(guess[:-1] + _HEADER + _FOOTER)))
        fits = starts + guess <= last
        if not fits.all():
            cut = int(np.argmin(fits))
            guess, starts = guess[:cut], starts[:cut]
        if not len(starts):
            continue
        wrong = np.flatnonzero(window[starts].view("<u8").ravel() != guess.view(np.uint64))
        ok = int(wrong[0]) if len(wrong) else len(starts)
        keep = 2 * _MAX_PERIOD
        if ok:
            parts.append(np.array(offsets, dtype=np.int64))
            parts.append(starts[:ok])
            offsets = []
            lengths = (lengths[-keep:] + guess[max(0, ok - keep) : ok].tolist())[-keep:]
            pos = int(starts[ok - 1] + guess[ok - 1]) + _HEADER + _FOOTER
        else:
            lengths = lengths[-keep:]
        block = min(block * 4, 1 << 16) if ok == len(starts) else 256
        stride = 64 if ok > period else min(stride * 2, keep)
    parts.append(np.array(offsets, dtype=np.int64))
    return np.concatenate(parts), pos


def _bad_header(offset: int) -> Message:
    """A record header failing its CRC: at byte 0 the file most likely is not an event file."""
    return Message("tb.not_events" if offset == 0 else "tb.crc_header")


def _frame(buf: bytes | mmap.mmap, u8: np.ndarray) -> _Frames:
    n = len(buf)
    offs, pos = _walk(buf, u8)
    lengths = np.diff(offs, append=pos) - (_HEADER + _FOOTER)
    # Header CRCs, vectorised: CRC(length bytes) = CRC(8 zero bytes) xor what each non-zero
    # byte of the length adds (most lengths need one or two table lookups).
    if len(offs):
        table = _CONTRIB.upto(7)
        crc = np.full(len(offs), crc32c.crc32c(bytes(8)), dtype=np.uint32)
        ulen = lengths.astype(np.uint64)
        for k in range(max(1, (int(ulen.max()).bit_length() + 7) // 8)):
            crc ^= table[7 - k].take((ulen >> np.uint64(8 * k)) & np.uint64(0xFF))
        stored = _gather(u8, offs + 8, 4).view("<u4").ravel()
        bad = np.flatnonzero(_masked_np(crc) != stored)
        if len(bad):
            i = int(bad[0])
            return _Frames(offs[:i], lengths[:i], (int(offs[i]), _bad_header(int(offs[i]))))
    frames = _Frames(offs, lengths)
    if pos < n:
        rest = n - pos
        if rest < _HEADER:
            frames.stop = (pos, Message("tb.truncated_header", got=rest, size=_HEADER))
        else:
            (length,) = struct.unpack_from("<Q", buf, pos)
            (stored_crc,) = struct.unpack_from("<I", buf, pos + 8)
            if _masked(crc32c.crc32c(bytes(buf[pos : pos + 8]))) != stored_crc:
                frames.stop = (pos, _bad_header(pos))
            else:
                frames.stop = (pos, Message("tb.truncated_record", got=rest - _HEADER,
                                            size=length + _FOOTER))
    return frames


# --------------------------------------------------------------------------------------------
# The general wire-format decoder (one record at a time)


@dataclass(slots=True)
class _Value:
    tag: str
    kind: str  # "simple", "tensor", "histogram", "image", "audio" or "" (no value)
    plugin: str | None  # plugin of the metadata in this value; None when it has none
    number: float | None = None  # the value, when it is one real number
    # Why a tensor is not one real number: a message code and its parameters (the `Message`
    # is made only for the first such value of a tag: text summaries give one per record).
    problem: tuple[str, dict[str, object]] | None = None
    slot: tuple[int, int, str] | None = None  # (offset, width, code) of the number's bytes


@dataclass(slots=True)
class _Event:
    step: int = 0
    step_slot: tuple[int, int] | None = None  # (offset, width) of the step varint
    wall_slot: int | None = None  # offset of the 8 wall-time bytes
    values: list[_Value] = field(default_factory=list)
    exact_slots: bool = True  # False when merged sub-messages make offsets meaningless


def _text(b: bytes, start: int, end: int) -> str:
    return b[start:end].decode("utf-8", errors="replace")


def _parse_event(b: bytes) -> _Event:
    ev = _Event()
    summaries: list[tuple[int, int]] = []
    for number, wire, start, end, value in _fields(b, 0, len(b)):
        if number == 1 and wire == 1:
            ev.wall_slot = start
        elif number == 2 and wire == 0:
            ev.step = value - (1 << 64) if value >> 63 else value
            ev.step_slot = (start, end - start)
        elif number == 5 and wire == 2:
            summaries.append((start, end))
    # Several Summary fields merge: their repeated `value` fields concatenate.
    for s_start, s_end in summaries:
        for number, wire, start, end, _ in _fields(b, s_start, s_end):
            if number == 1 and wire == 2:
                ev.values.append(_parse_value(b, start, end, ev))
    return ev


def _merged(b: bytes, ranges: list[tuple[int, int]], ev: _Event) -> tuple[bytes, int, int]:
    """A sub-message that occurs several times is their merge: parse the concatenation."""
    if len(ranges) == 1:
        return b, ranges[0][0], ranges[0][1]
    ev.exact_slots = False
    joined = b"".join(b[s:e] for s, e in ranges)
    return joined, 0, len(joined)


def _parse_value(b: bytes, pos: int, end: int, ev: _Event) -> _Value:
    tag = node_name = ""
    kind = ""
    simple: tuple[int, int] | None = None
    tensor: list[tuple[int, int]] = []
    metadata: list[tuple[int, int]] = []
    for number, wire, start, stop, _ in _fields(b, pos, end):
        if number == 1 and wire == 2:
            tag = _text(b, start, stop)
        elif number == 7 and wire == 2:
            node_name = _text(b, start, stop)
        elif number == 2 and wire == 5:
            kind, simple = "simple", (start, stop)
        elif number == 9 and wire == 2:
            metadata.append((start, stop))
        elif number in _VALUE_KINDS and wire == 2:
            if number == 8 and kind != "tensor":
                tensor = []
            kind = _VALUE_KINDS[number]
            if number == 8:
                tensor.append((start, stop))
    plugin = _parse_plugin(*_merged(b, metadata, ev)) if metadata else None
    value = _Value(tag or node_name, kind, plugin)
    if kind == "simple" and simple is not None:
        value.number = struct.unpack_from("<f", b, simple[0])[0]
        value.slot = (simple[0], 4, "<f4")
    elif kind == "tensor":
        _parse_tensor(*_merged(b, tensor, ev), value)
    return value


def _parse_plugin(b: bytes, pos: int, end: int) -> str:
    """The plugin named in a SummaryMetadata ("" when none; "scalars" for DATA_CLASS_SCALAR)."""
    name = ""
    data_class = 0
    for number, wire, start, stop, value in _fields(b, pos, end):
        if number == 1 and wire == 2:
            for n2, w2, s2, e2, _ in _fields(b, start, stop):
                if n2 == 1 and w2 == 2:
                    name = _text(b, s2, e2)
        elif number == 4 and wire == 0:
            data_class = value
    return name or ("scalars" if data_class == 1 else "")


def _parse_tensor(b: bytes, pos: int, end: int, value: _Value) -> None:
    """Set ``value.number`` (and its slot) when the TensorProto holds one real number."""
    dtype = 0
    size = 1
    content: tuple[int, int] | None = None
    fields: dict[int, list[tuple[int, int, int]]] = {}  # number → [(wire, start, end)]
    for number, wire, start, stop, val in _fields(b, pos, end):
        if number == 1 and wire == 0:
            dtype = val & 0xFFFFFFFF
        elif number == 2 and wire == 2:
            size = 1
            for n2, w2, s2, e2, _ in _fields(b, start, stop):
                if n2 == 2 and w2 == 2:  # dim { size } (proto3: an absent size is 0)
                    dim = 0
                    for n3, w3, _s3, _e3, v3 in _fields(b, s2, e2):
                        if n3 == 1 and w3 == 0:
                            dim = v3 - (1 << 64) if v3 >> 63 else v3
                    size *= dim
        elif number == 4 and wire == 2:
            content = (start, stop)
        else:
            fields.setdefault(number, []).append((wire, start, stop))
    if dtype not in _DTYPES:
        name = _DTYPE_NAMES.get(dtype, f"type {dtype}")
        value.problem = ("tb.tensor_dtype", {"dtype": name})
        return
    np_dtype, number, convert = _DTYPES[dtype]
    if size != 1:
        value.problem = ("tb.tensor_size", {"size": size})
        return
    if content is not None and content[1] > content[0]:
        width = 2 if np_dtype == "bf16" else np.dtype(np_dtype).itemsize
        if content[1] - content[0] != width:
            value.problem = ("tb.content_bytes", {"size": content[1] - content[0]})
            return
        value.slot = (content[0], width, np_dtype)
        value.number = float(_fixed(b[content[0] : content[1]], np_dtype)[0])
        return
    occurrences = fields.get(number, [])
    if number in _FIXED_FIELDS:
        width = _FIXED_FIELDS[number]
        code = "<f4" if width == 4 else "<f8"
        elems: list[int] = []  # offsets of the elements
        for wire, start, stop in occurrences:
            if wire == 2:  # packed
                if (stop - start) % width:
                    raise _Malformed
                elems.extend(range(start, stop, width))
            elif wire == (5 if width == 4 else 1):
                elems.append(start)
            # any other wire type: an unknown field, skipped as protobuf does
        if len(elems) != 1:
            value.problem = ("tb.values_for_one", {"count": len(elems)})
            return
        value.slot = (elems[0], width, code)
        value.number = float(_fixed(b[elems[0] : elems[0] + width], code)[0])
        return
    ints: list[tuple[int, int, int]] = []  # (raw varint, start, end)
    for wire, start, stop in occurrences:
        if wire == 2:
            p = start
            while p < stop:
                raw, q = _varint(b, p, stop)
                ints.append((raw, p, q))
                p = q
        elif wire == 0:
            raw, q = _varint(b, start, stop)
            ints.append((raw, start, q))
    if len(ints) != 1:
        value.problem = ("tb.values_for_one", {"count": len(ints)})
        return
    raw, start, stop = ints[0]
    value.slot = (start, stop - start, "v" + convert)
    value.number = float(_convert_varints(np.array([raw], dtype=np.uint64), convert)[0])


def _fixed(raw: bytes | np.ndarray, code: str) -> np.ndarray:
    """Little-endian fixed-width numbers → float64 (``bf16``: the top half of a float32)."""
    arr = np.frombuffer(raw, dtype=np.uint8) if isinstance(raw, bytes) else raw
    if code == "?":
        return (arr != 0).astype(np.float64).ravel()
    if code == "bf16":
        bits = arr.view("<u2").astype(np.uint32) << np.uint32(16)
        return bits.view("<f4").astype(np.float64)
    return arr.view(code).astype(np.float64)


def _convert_varints(raw: np.ndarray, convert: str) -> np.ndarray:
    """uint64 varint payloads → float64, as protobuf and TensorFlow read the field."""
    if convert == "i64":
        return raw.view(np.int64).astype(np.float64)
    if convert == "u64":
        return raw.astype(np.float64)
    low = (raw & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    if convert == "i32":
        return low.view(np.int32).astype(np.float64)
    if convert == "u32":
        return low.astype(np.float64)
    if convert == "bool":
        return (raw != 0).astype(np.float64)
    bits = low.astype(np.uint16)
    if convert == "f16":
        return bits.view("<f2").astype(np.float64)
    return (bits.astype(np.uint32) << np.uint32(16)).view("<f4").astype(np.float64)  # bf16


# --------------------------------------------------------------------------------------------
# Decoding a file: bulk for repeated layouts, one by one otherwise


@dataclass
class _Chunk:
    keys: np.ndarray  # int64 order keys
    steps: np.ndarray  # float64
    values: np.ndarray  # float64
    kind: str  # "simple" or "tensor"


@dataclass
class _Collected:
    """What the records of one run said, keyed by (member index, tag)."""

    chunks: dict[tuple[int, str], list[_Chunk]] = field(default_factory=dict)
    # First metadata of each tag: (order key, plugin).
    plugins: dict[tuple[int, str], tuple[int, str]] = field(default_factory=dict)
    # Tensors that are not one number: (member, tag) → (first order key, problem).
    problems: dict[tuple[int, str], tuple[int, Message]] = field(default_factory=dict)
    other: dict[tuple[int, str], str] = field(default_factory=dict)  # skipped kinds

    def plugin(self, key: tuple[int, str], order: int, plugin: str) -> None:
        old = self.plugins.get(key)
        if old is None or order < old[0]:
            self.plugins[key] = (order, plugin)

    def add(self, key: tuple[int, str], chunk: _Chunk) -> None:
        self.chunks.setdefault(key, []).append(chunk)


class _FileDecoder:
    """Decodes the complete records of one file into a `_Collected`."""

    def __init__(self, buf: bytes | mmap.mmap, u8: np.ndarray, frames: _Frames, member: int,
                 first_record: int, out: _Collected) -> None:
        self.buf = buf
        self.u8 = u8
        self.frames = frames
        self.member = member
        self.base = first_record
        self.out = out
        self.crc_bad: list[int] = []  # record indices (in this file) whose data CRC fails
        self.malformed: list[int] = []  # record indices that are not valid Event messages
        # One-by-one results, turned into chunks at the end.
        self.singles: dict[tuple[str, str], tuple[list[int], list[float], list[float]]] = {}

    def run(self) -> None:
        lengths = self.frames.lengths
        if not len(lengths):
            return
        order = np.argsort(lengths, kind="stable")
        sorted_lengths = lengths[order]
        cuts = np.flatnonzero(np.diff(sorted_lengths)) + 1
        for idx in np.split(order, cuts):
            length = int(lengths[idx[0]])
            if len(idx) < _BULK_MIN_ROWS or length > _BULK_MAX_LENGTH or length == 0:
                for i in idx.tolist():
                    self._single(i)
            else:
                self._group(idx, length)
        for (tag, kind), (keys, steps, values) in self.singles.items():
            self.out.add((self.member, tag), _Chunk(
                np.array(keys, dtype=np.int64), np.array(steps, dtype=np.float64),
                np.array(values, dtype=np.float64), kind))

    def _data(self, i: int) -> bytes:
        start = int(self.frames.offsets[i]) + _HEADER
        return bytes(self.buf[start : start + int(self.frames.lengths[i])])

    def _single(self, i: int, event: _Event | None = None, data: bytes | None = None) -> None:
        data = self._data(i) if data is None else data
        start = int(self.frames.offsets[i]) + _HEADER + len(data)
        (stored,) = struct.unpack_from("<I", self.buf, start)
        if _masked(crc32c.crc32c(data)) != stored:
            self.crc_bad.append(i)
            return
        if event is None:
            try:
                event = _parse_event(data)
            except _Malformed:
                self.malformed.append(i)
                return
        self._emit(i, event)

    def _emit(self, i: int, event: _Event) -> None:
        record_key = (self.base + i) * _KEY_VALUES
        for j, v in enumerate(event.values):
            key = (self.member, v.tag)
            order = record_key + min(j, _KEY_VALUES - 1)
            if v.plugin is not None:
                self.out.plugin(key, order, v.plugin)
            if v.kind in ("simple", "tensor") and v.number is not None:
                keys, steps, values = self.singles.setdefault((v.tag, v.kind), ([], [], []))
                keys.append(order)
                steps.append(float(event.step))
                values.append(v.number)
            elif v.kind == "tensor":
                if key not in self.out.problems or order < self.out.problems[key][0]:
                    code, params = v.problem or ("tb.not_a_number", {})
                    self.out.problems[key] = (order, Message(code, **params))
            elif v.kind:
                self.out.other.setdefault(key, v.kind)

    def _group(self, idx: np.ndarray, length: int) -> None:
        """Decode equal-length records `idx` (file order) in bulk where layouts repeat."""
        width = -(-(length + _FOOTER) // 8) * 8
        starts = self.frames.offsets[idx] + _HEADER
        if starts[-1] + width > len(self.u8):  # the file's last record: no room to pad
            self._single(int(idx[-1]))
            idx, starts = idx[:-1], starts[:-1]
        # One row per record: its data, its CRC and padding, also seen as 64-bit words.
        framed = _gather(self.u8, starts, width)
        rows = framed[:, :length]
        stored = framed[:, length : length + _FOOTER].copy().view("<u4").ravel()
        words = framed.view("<u8")
        alive = np.ones(len(idx), dtype=bool)
        left = len(idx)
        layouts: dict[tuple[object, ...], _Layout] = {}
        idle = 0
        while left:
            if idle:  # singletons tend to cluster (step 0 of every tag): look further on
                remaining = np.flatnonzero(alive)
                first = int(remaining[len(remaining) // 2])
            else:
                first = int(np.argmax(alive))
            if idle > _BULK_MAX_IDLE_ROUNDS:
                for r in np.flatnonzero(alive).tolist():
                    self._single(int(idx[r]))
                return
            data = rows[first].tobytes()
            template = self._template(data)
            if template is None:
                self._single(int(idx[first]), data=data)
                alive[first] = False
                left -= 1
                idle += 1
                continue
            key = _layout_key(template)
            layout = layouts.get(key)
            if layout is None:
                layout = layouts[key] = _Layout(words, rows, template)
            good, gid, reps, templates = layout.classes(first, template, alive, self._template)
            idle = idle + 1 if len(good) < 2 else 0
            if len(good) == 1:  # a record like no other (step 0 of a tag …)
                self._single(int(idx[first]), event=template, data=data)
            else:
                self._bulk(idx, rows, stored, good, gid, reps, templates, layout)
            alive[good] = False
            left -= len(good)

    def _template(self, data: bytes) -> _Event | None:
        """The decoded record when its layout can be decoded in bulk, else None."""
        try:
            event = _parse_event(data)
        except _Malformed:
            return None
        if not event.exact_slots or not event.values:
            return None
        if any(v.slot is None or v.kind not in ("simple", "tensor") for v in event.values):
            return None
        return event

    def _bulk(self, idx: np.ndarray, rows: np.ndarray, stored: np.ndarray, good: np.ndarray,
              gid: np.ndarray, reps: np.ndarray, templates: list[_Event],
              layout: _Layout) -> None:
        """Decode rows `good` of the group; row ``good[i]`` is like representative
        ``reps[gid[i]]`` (whose decoded record is ``templates[gid[i]]``) outside the slots."""
        if not len(good):
            return
        ref_crc = np.array([crc32c.crc32c(rows[r].tobytes()) for r in reps.tolist()],
                           dtype=np.uint32)
        sub = rows[good]
        slots = layout.slots
        one = len(reps) == 1  # one class: no per-row references needed
        crc = _crc_rows(sub[:, slots], rows[reps[0], slots] if one else rows[reps][:, slots][gid],
                        ref_crc[0] if one else ref_crc[gid], slots, rows.shape[1])
        bad = _masked_np(crc) != stored[good]
        if bad.any():
            self.crc_bad.extend(idx[good[bad]].tolist())
            keep = ~bad
            good, gid, sub = good[keep], gid[keep], sub[keep]
            if not len(good):
                return
        if layout.step_slot is not None:
            steps = _convert_varints(_varints(sub, *layout.step_slot), "i64")
        else:
            steps = np.zeros(len(sub))
        codes = [_codes(t) for t in templates if t is not None]
        values = []
        for j, (start, width) in enumerate(layout.value_slots):
            # Classes of one layout may still differ in type (float32 or int32 …).
            kinds = sorted({c[j] for c in codes})
            class_kind = np.array([kinds.index(c[j]) for c in codes])
            column = np.empty(len(sub))
            for k, code in enumerate(kinds):
                mask = (class_kind[gid] == k) if len(kinds) > 1 else slice(None)
                cells = sub[mask, start : start + width]
                if code.startswith("v"):
                    column[mask] = _convert_varints(_varints(cells, 0, width), code[1:])
                else:
                    column[mask] = _fixed(np.ascontiguousarray(cells), code).ravel()
            values.append(column)
        record_keys = (idx[good].astype(np.int64) + self.base) * _KEY_VALUES
        if one:
            classes = [np.arange(len(good))]
        else:
            order = np.argsort(gid, kind="stable")
            classes = np.split(order, np.flatnonzero(np.diff(gid[order])) + 1)
        for members in classes:
            template = templates[int(gid[members[0]])]
            for j, v in enumerate(template.values):
                keys = record_keys[members] + min(j, _KEY_VALUES - 1)
                key = (self.member, v.tag)
                if v.plugin is not None:
                    self.out.plugin(key, int(keys[0]), v.plugin)
                self.out.add(key, _Chunk(keys, steps[members], values[j][members], v.kind))


def _codes(event: _Event) -> list[str]:
    """How each value's slot is decoded (``<f4``, ``vi64`` …)."""
    return [v.slot[2] if v.slot is not None else "" for v in event.values]


def _slot_columns(event: _Event, length: int) -> np.ndarray:
    """The byte columns whose content varies from record to record: wall time, step, values."""
    marks = np.zeros(length, dtype=bool)
    if event.wall_slot is not None:
        marks[event.wall_slot : event.wall_slot + 8] = True
    if event.step_slot is not None:
        marks[event.step_slot[0] : event.step_slot[0] + event.step_slot[1]] = True
    for v in event.values:
        assert v.slot is not None
        marks[v.slot[0] : v.slot[0] + v.slot[1]] = True
    return np.flatnonzero(marks)


def _layout_key(event: _Event) -> tuple[object, ...]:
    """Records with equal keys have their varying bytes at the same places."""
    return (event.wall_slot, event.step_slot,
            tuple((v.slot[0], v.slot[1], v.slot[2][0] == "v") for v in event.values
                  if v.slot is not None))


class _Layout:
    """The rows of a group seen through one layout: their bytes outside its slots (as
    64-bit words, hashed), and which rows' varints have the layout's widths."""

    def __init__(self, words: np.ndarray, rows: np.ndarray, template: _Event) -> None:
        length = rows.shape[1]
        self.rows = rows
        self.key = _layout_key(template)
        self.slots = _slot_columns(template, length)
        self.step_slot = template.step_slot
        self.value_slots = [(v.slot[0], v.slot[1]) for v in template.values if v.slot]
        nwords = -(-length // 8)
        keep = np.zeros(nwords * 8, dtype=np.uint8)
        keep[:length] = 0xFF
        keep[self.slots] = 0
        self.masked = words[:, :nwords] & keep.view("<u8")
        self.hashes: np.ndarray | None = None
        self.uses = 0
        # Varint slots must have the same width in every row: continuation bits all set but
        # in the last byte.
        self.shape_ok: np.ndarray | None = None
        for start, width in _varint_slots(template):
            ok = _varint_shape_ok(rows, start, width)
            self.shape_ok = ok if self.shape_ok is None else self.shape_ok & ok

    def classes(self, first: int, template: _Event, alive: np.ndarray,
                decode: Callable[[bytes], _Event | None],
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[_Event]]:
        """The alive rows equal (outside the slots) to a representative of this layout.

        Returns the rows, the class of each row, each class's representative (its first row)
        and its decoded record. Classes of another layout, and single rows other than
        `first`, are left for later.
        """
        self.uses += 1
        candidates = alive if self.shape_ok is None else alive & self.shape_ok
        if self.uses == 1:  # often one tag has the layout to itself: compare with `first`
            good = np.flatnonzero(candidates & (self.masked == self.masked[first]).all(axis=1))
            return good, np.zeros(len(good), dtype=np.intp), np.array([first]), [template]
        if self.hashes is None:
            self.hashes = _hash_words(self.masked)
        if self.uses <= _LAYOUT_ONE_BY_ONE:  # a few tags share it: one at a time is cheaper
            cand = np.flatnonzero(candidates & (self.hashes == self.hashes[first]))
            good = cand[(self.masked[cand] == self.masked[first]).all(axis=1)]
            return good, np.zeros(len(good), dtype=np.intp), np.array([first]), [template]
        # Many tags share the layout: split the rows into classes by hash, take them all.
        cand = np.flatnonzero(candidates)
        _, first_pos, inv, counts = np.unique(self.hashes[cand], return_index=True,
                                              return_inverse=True, return_counts=True)
        reps = cand[first_pos]
        # Rows of other layouts mostly hash alone: only classes of several rows (and
        # `first`'s) are looked at.
        taken: list[int] = []
        templates: list[_Event] = []
        for k in np.flatnonzero((counts > 1) | (reps == first)).tolist():
            r = int(reps[k])
            t = template if r == first else decode(self.rows[r].tobytes())
            if t is not None and (r == first or _layout_key(t) == self.key):
                taken.append(k)
                templates.append(t)
        ids = np.full(len(reps), -1)
        ids[taken] = np.arange(len(taken))
        inv = ids[inv]
        cand, inv = cand[inv >= 0], inv[inv >= 0]
        reps = reps[taken]
        same = (self.masked[cand] == self.masked[reps[inv]]).all(axis=1)
        return cand[same], inv[same], reps, templates


def _varint_slots(event: _Event) -> list[tuple[int, int]]:
    """(offset, width) of the varints among the slots: the step and integer values."""
    varints = [event.step_slot] if event.step_slot is not None else []
    varints += [(v.slot[0], v.slot[1]) for v in event.values
                if v.slot is not None and v.slot[2].startswith("v")]
    return varints


def _hash_words(words: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of words (equal rows, equal hashes; collisions re-checked)."""
    mult = _hash_multipliers(words.shape[1])
    h = np.zeros(len(words), dtype=np.uint64)
    for k in range(words.shape[1]):
        h = (h ^ words[:, k]) * mult[k]
    return h


@lru_cache(maxsize=64)
def _hash_multipliers(n: int) -> np.ndarray:
    return np.random.default_rng(20240601).integers(1, 2**63, size=n, dtype=np.uint64) | 1


def _varints(rows: np.ndarray, start: int, width: int) -> np.ndarray:
    out = np.zeros(len(rows), dtype=np.uint64)
    for k in range(width):
        out |= (rows[:, start + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
    return out


def _varint_shape_ok(rows: np.ndarray, start: int, width: int) -> np.ndarray:
    """Rows whose bytes at ``start:start+width`` form one varint of exactly that width."""
    ok = rows[:, start + width - 1] < 0x80
    for k in range(width - 1):
        ok &= rows[:, start + k] >= 0x80
    return ok


# --------------------------------------------------------------------------------------------
# Files, directories, runs


def is_event_file(path: Path) -> bool:
    """True for the names TensorBoard reads as event files (``*tfevents*``)."""
    return "tfevents" in path.name and path.is_file()


def sniff(path: Path, head: bytes) -> bool:
    """An event file by name, or TFRecord framing whose first length CRC checks out."""
    if "tfevents" in path.name:
        return True
    if len(head) < _HEADER:
        return False
    (length,) = struct.unpack_from("<Q", head)
    (stored,) = struct.unpack_from("<I", head, 8)
    return length < (1 << 40) and _masked(crc32c.crc32c(head[:8])) == stored


def _file_order(path: Path) -> list[str | int]:
    """Event files sort by name with numbers compared as numbers: the creation timestamp
    first, then torch's ``<pid>.<counter>`` (``…vm.7195.2`` before ``…vm.7195.10``)."""
    return [int(t) if i % 2 else t for i, t in enumerate(_DIGITS.split(path.name))]


def _event_files(directory: Path) -> list[Path]:
    try:
        files = [p for p in directory.iterdir() if is_event_file(p)]
    except OSError:
        return []
    return sorted(files, key=_file_order)


@lru_cache(maxsize=4096)
def _head_tags(path: str, size: int, mtime_ns: int) -> frozenset[str]:
    """The tags of the summaries in the first 64 records (64 KiB at most) of an event file,
    stopping at a second tag. Cached by size and modification time: reading a directory asks
    for each sub-directory's tag several times (finding the runs, then each run's members), and
    the parse was ~60% of reading a logdir of 100 runs (BENCHMARKS.md)."""
    del size, mtime_ns  # cache key only: a file that grows or changes is read again
    try:
        head = read_head(Path(path))
    except ReadError:
        return frozenset()
    tags: set[str] = set()
    pos = 0
    for _ in range(64):  # records
        if pos + _HEADER > len(head) or len(tags) > 1:
            break
        (length,) = struct.unpack_from("<Q", head, pos)
        end = pos + _HEADER + length
        if end > len(head):
            break
        try:
            tags.update(v.tag for v in _parse_event(head[pos + _HEADER : end]).values)
        except _Malformed:
            break
        pos = end + _FOOTER
    return frozenset(tags)


def _only_tag(directory: Path) -> str | None:
    """The one tag of the summaries at the start of the directory's first event file holding
    any, or None when there are several or none (``add_scalars`` writes one tag per
    sub-directory)."""
    for path in _event_files(directory):
        try:
            st = path.stat()
        except OSError:
            continue
        tags = _head_tags(str(path), st.st_size, st.st_mtime_ns)
        if tags:
            return next(iter(tags)) if len(tags) == 1 else None
    return None


def scalars_prefix(tag: str) -> str:
    """How torch's ``add_scalars(tag, …)`` begins its sub-directories' names: ``<tag>_<key>``
    with ``/`` in the tag written ``_`` (also read in tbparse's ``dir_name`` by `table`)."""
    return tag.replace("/", "_") + "_"


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _scalars_parent(directory: Path, event_dirs: set[Path], root: Path) -> Path | None:
    """The run directory an ``add_scalars`` sub-directory belongs to, or None.

    torch writes ``<run>/<main_tag with / → _>_<key>/``, tensorboardX ``<run>/<main_tag>/<key>/``;
    the tag inside is ``main_tag`` and ``<run>`` has event files of its own.
    """
    parent = directory.parent
    # without a run directly above it and a "_" in its name it cannot be torch's form, and
    # without a run further up it cannot be tensorboardX's: then its files need not be opened
    torch_form = parent in event_dirs and "_" in directory.name
    if not torch_form and not any(d in event_dirs for d in directory.parents[1:]
                                  if _within(d, root)):
        return None
    tag = _only_tag(directory)
    if tag is None:
        return None
    prefix = scalars_prefix(tag)
    if (parent in event_dirs and directory.name.startswith(prefix)
            and len(directory.name) > len(prefix)):
        return parent
    parts = tag.split("/")
    if all(p not in ("", ".", "..") for p in parts) and len(directory.parents) > len(parts):
        run = directory.parents[len(parts)]
        if run in event_dirs and _within(run, root) and parent == run.joinpath(*parts):
            return run
    return None


def _joins(directory: Path, event_dirs: set[Path], root: Path) -> tuple[Path, str] | None:
    """The run directory that `directory` is part of and how (``"phase"`` or
    ``"scalars"``), or None when it is a run of its own."""
    if directory == root:
        return None
    run = _scalars_parent(directory, event_dirs, root)  # first: acc/train/ is add_scalars'
    if run is not None:
        return run, "scalars"
    if directory.name.lower() in PHASE_DIRS:
        return directory.parent, "phase"
    return None


def _walk_event_dirs(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if any("tfevents" in f for f in filenames) and _event_files(Path(dirpath)):
            found.append(Path(dirpath))
    return found


def find(root: Path) -> list[Path]:
    """The TensorBoard runs under `root`: directories of event files, with their ``train/``,
    ``validation/`` and ``add_scalars`` sub-directories joined into the parent's run."""
    root = Path(root)
    dirs = _walk_event_dirs(root)
    event_dirs = set(dirs)
    runs: list[Path] = []
    for d in dirs:
        joined = _joins(d, event_dirs, root)
        run = d if joined is None else joined[0]
        if run not in runs:
            runs.append(run)
    return runs


def _members(run_dir: Path) -> list[tuple[Path, str | None, list[Path]]]:
    """The directories of a run, how their tags are named (None for the run's own files,
    ``"phase"`` or ``"scalars"``) and their event files in order."""
    dirs = _walk_event_dirs(run_dir)
    event_dirs = set(dirs)
    members: list[tuple[Path, str | None, list[Path]]] = []
    for d in dirs:
        if d == run_dir:
            how = "phase" if d.name.lower() in PHASE_DIRS else None
        else:
            joined = _joins(d, event_dirs, run_dir)
            if joined is None or joined[0] != run_dir:
                continue
            how = joined[1]
        members.append((d, how, _event_files(d)))
    return members


def _metric_name(run_dir: Path, directory: Path, how: str | None, tag: str) -> str:
    if how is None:
        return tag
    rel = directory.relative_to(run_dir).as_posix() if directory != run_dir else directory.name
    if how == "scalars":
        if directory.parent.relative_to(run_dir).as_posix() == tag:
            return f"{tag}/{directory.name}"  # tensorboardX: <main_tag>/<key>
        prefix = scalars_prefix(tag)
        if directory.name.startswith(prefix):
            return f"{tag}/{directory.name[len(prefix):]}"  # torch: <main_tag>_<key>
    return f"{rel}/{tag}"


@dataclass
class _FileResult:
    path: Path
    records: int  # complete, valid records read
    stop: tuple[int, Message] | None = None  # (byte offset or -1, problem) where it stopped
    malformed: tuple[int, int] | None = None  # (count, first byte offset) of undecodable events


def _read_file_into(path: Path, member: int, first_record: int, out: _Collected) -> _FileResult:
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size > max(_MMAP_BYTES, 0):
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                try:
                    return _decode_buffer(path, mm, member, first_record, out)
                finally:
                    mm.close()
            buf = f.read()
    except OSError as exc:
        raise ReadError(path, "cannot_read", reason=exc.strerror or str(exc)) from None
    return _decode_buffer(path, buf, member, first_record, out)


def _decode_buffer(path: Path, buf: bytes | mmap.mmap, member: int, first_record: int,
                   out: _Collected) -> _FileResult:
    if not len(buf):
        return _FileResult(path, 0, (-1, Message("tb.empty_file")))
    scratch = _Collected()
    u8 = np.frombuffer(buf, dtype=np.uint8)
    try:
        frames = _frame(buf, u8)
        decoder = _FileDecoder(buf, u8, frames, member, first_record, scratch)
        decoder.run()
    finally:
        del u8  # release the buffer so that an mmap can close
    result = _FileResult(path, len(frames.offsets), frames.stop)
    if decoder.crc_bad:
        first_bad = min(decoder.crc_bad)
        result.records = first_bad
        result.stop = (int(frames.offsets[first_bad]), Message("tb.crc_data"))
    malformed = sorted(i for i in decoder.malformed if i < result.records)
    if malformed:
        result.malformed = (len(malformed), int(frames.offsets[malformed[0]]))
    _merge_upto(scratch, out, (first_record + result.records) * _KEY_VALUES)
    return result


def _merge_upto(src: _Collected, dst: _Collected, limit: int) -> None:
    """Move what `src` read into `dst`, dropping records at or after order key `limit`."""
    for key, chunks in src.chunks.items():
        for c in chunks:
            keep = c.keys < limit
            if not keep.all():
                c = _Chunk(c.keys[keep], c.steps[keep], c.values[keep], c.kind)
            if len(c.keys):
                dst.add(key, c)
    for key, (order, plugin) in src.plugins.items():
        if order < limit:
            dst.plugin(key, order, plugin)
    for key, (order, problem) in src.problems.items():
        if order < limit and (key not in dst.problems or order < dst.problems[key][0]):
            dst.problems[key] = (order, problem)
    for key, kind in src.other.items():
        dst.other.setdefault(key, kind)


def _where(path: Path, run_dir: Path) -> str:
    try:
        return str(path.relative_to(run_dir))
    except ValueError:
        return str(path)


def _read_run(name: str, source: Path, run_dir: Path,
              members: list[tuple[Path, str | None, list[Path]]]) -> Run:
    out = _Collected()
    results: list[_FileResult] = []
    record = 0
    for m, (_, _, files) in enumerate(members):
        for path in files:
            result = _read_file_into(path, m, record, out)
            record += result.records
            results.append(result)
    if not results:
        raise ReadError(source, "tb.no_event_files")
    if record == 0:
        first = next((r for r in results if r.stop is not None), results[0])
        raise ReadError(first.path, _stopped(first))

    builder = RunBuilder(name=name, source=source, format=NAME)
    for r in results:
        where = _where(r.path, run_dir)
        if r.stop is not None and r.records:
            builder.warn("tb.file_stopped_after", file=where, problem=_stopped(r),
                         count=r.records)
        elif r.stop is not None:
            builder.warn("tb.file_stopped", file=where, problem=_stopped(r))
        if r.malformed is not None:
            count, offset = r.malformed
            builder.warn("tb.malformed_records", file=where, count=count, offset=offset)

    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # metric → (steps, values)
    skipped: dict[str, str] = {}
    first_seen = {key: min(int(c.keys.min()) for c in chunks)
                  for key, chunks in out.chunks.items()}
    tags = sorted(set(out.chunks) | set(out.problems) | set(out.other),
                  key=lambda k: (first_seen.get(k, 1 << 62), k))
    for key in tags:
        m, tag = key
        directory, how, _ = members[m]
        metric = _metric_name(run_dir, directory, how, tag)
        if metric in series:  # e.g. a tag "loss/train" next to add_scalars' loss_train/
            metric = f"{_where(directory, run_dir.parent)}/{tag}"
        base, k = metric, 2
        while metric in series:
            metric, k = f"{base}_{k}", k + 1
        plugin = out.plugins.get(key, (0, None))[1]
        chunks = [c for c in out.chunks.get(key, [])
                  if c.kind == "simple" or plugin == "scalars"]
        if key in out.problems and plugin == "scalars":
            builder.warn("tb.not_one_number", metric=metric, problem=out.problems[key][1])
        if not chunks:
            skipped[metric] = plugin or out.other.get(key) or "tensor"
            continue
        keys = np.concatenate([c.keys for c in chunks])
        order = np.argsort(keys, kind="stable")
        steps = np.concatenate([c.steps for c in chunks])[order]
        values = np.concatenate([c.values for c in chunks])[order]
        series[metric] = (steps, values)
    if not series:
        kinds = sorted(set(skipped.values()))
        bad = sum(r.malformed[0] for r in results if r.malformed is not None)
        raise ReadError(source, "tb.no_scalars", count=len(results),
                        only=Message("tb.only_kinds", kinds=", ".join(kinds)) if kinds else "",
                        bad=Message("tb.bad_records", count=bad) if bad else "")

    epoch_axis = series.pop("epoch", None) if len(series) > 1 else None
    for metric, (steps, values) in series.items():
        epochs = _epochs_at(steps, epoch_axis) if epoch_axis is not None else None
        back = np.flatnonzero(np.diff(steps) < 0)
        if len(back):
            i = int(back[0])
            builder.warn("tb.step_back", metric=metric, old=steps[i], new=steps[i + 1],
                         point=i + 1)
        builder.add_series(metric, values, steps=steps, epochs=epochs)
    builder.meta["event_files"] = len(results)
    if skipped:
        builder.meta["skipped"] = skipped
    if epoch_axis is not None:
        builder.meta["epoch_axis"] = "epoch"
    return builder.build()


def _stopped(result: _FileResult) -> Message:
    if result.stop is None:
        return Message("tb.no_records")
    offset, problem = result.stop
    return problem if offset < 0 else Message("tb.at_byte", problem=problem, offset=offset)


def _epochs_at(steps: np.ndarray, epoch: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The logged ``epoch`` scalar at each step (first value logged at that step), else NaN."""
    known, first = np.unique(epoch[0], return_index=True)
    values = epoch[1][first]
    pos = np.clip(np.searchsorted(known, steps), 0, len(known) - 1)
    return np.where(known[pos] == steps, values[pos], math.nan)


def _run_name(run_dir: Path) -> str:
    return run_dir.name or str(run_dir)


def read(path: Path) -> list[Run]:
    """Read an event file (one run) or a directory: the run rooted there, or else every run
    under it (`find`).

    Raises:
        ReadError: nothing could be read (empty file, not an event file, corrupt from the
            first record, no scalar summaries).
    """
    path = Path(path)
    if path.is_dir():
        roots = find(path)
        if path in roots:
            return [_read_run(_run_name(path), path, path, _members(path))]
        runs: list[Run] = []
        errors: list[ReadError] = []
        for r in roots:
            try:
                runs.append(_read_run(_run_name(r), r, r, _members(r)))
            except ReadError as exc:
                errors.append(exc)
                warnings.warn(ReadWarning(exc.message), stacklevel=2)
        if not runs:
            raise errors[0] if errors else ReadError(path, "tb.no_event_files_here")
        return runs
    parent = path.parent
    phase = parent.name.lower() in PHASE_DIRS
    run_dir = parent.parent if phase else parent
    return [_read_run(_run_name(run_dir), path, run_dir,
                      [(parent, "phase" if phase else None, [path])])]

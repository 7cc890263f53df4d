"""Follow a log another process is writing (``lossdoctor watch PATH``: a file, or a directory
such as a W&B run directory): re-read it with `lossdoctor.read` whenever it grows, diagnose it,
and emit each new finding once."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lossdoctor.diagnosis import diagnose_run
from lossdoctor.errors import ReadError
from lossdoctor.findings import Diagnosis, Finding, Point
from lossdoctor.read import read
from lossdoctor.watch.core import END_OF_RUN_KINDS
from lossdoctor.watch.episodes import Episodes

__all__ = ["FollowResult", "follow"]

#: Kinds reported on the first read that shows them (the watcher's online checks report these at
#: once too); every other kind waits for a second read.
IMMEDIATE_KINDS = frozenset({"non_finite"})


@dataclass
class FollowResult:
    """What following a file gave: the last diagnoses (one per run in the file), the findings
    reported along the way, the number of reads, and the last read error (None when the last
    read succeeded)."""

    diagnoses: list[Diagnosis] = field(default_factory=list)
    reported: list[Finding] = field(default_factory=list)
    reads: int = 0
    error: ReadError | None = None
    interrupted: bool = False


def _last_point(d: Diagnosis) -> Point:
    step = epoch = None
    n = 0
    for s in d.run.series.values():
        info = s.summary()
        if info["last_step"] is not None:
            step = max(step or info["last_step"], info["last_step"])
        if info["last_epoch"] is not None:
            epoch = max(epoch or info["last_epoch"], info["last_epoch"])
        n = max(n, len(s))
    return Point(step, epoch, max(0, n - 1))


def _signature(p: Path) -> tuple[int, int] | None:
    """What changes when the log grows: a file's size and mtime; for a directory (a W&B run
    directory, a TensorBoard logdir) the sum and latest of its files', links not followed below
    it; None when `p` does not exist (yet)."""
    try:
        st = p.stat()
        if not stat.S_ISDIR(st.st_mode):
            return st.st_size, st.st_mtime_ns
        size, mtime = 0, st.st_mtime_ns
        for dirpath, _dirs, files in os.walk(p):
            for name in files:
                try:
                    f = os.stat(os.path.join(dirpath, name), follow_symlinks=False)
                except OSError:  # removed since the listing
                    continue
                size += f.st_size
                mtime = max(mtime, f.st_mtime_ns)
        return size, mtime
    except OSError:
        return None


def follow(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    idle: float = 30.0,
    interval: float = 1.0,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    emit: Callable[[Finding, Diagnosis], object] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> FollowResult:
    """Follow `path` until it has not changed for `idle` seconds, or Ctrl-C.

    Args:
        path: the log file, or a directory of logs (a W&B run directory, a TensorBoard
            logdir), re-read when any file in it changes; it may not exist yet: it is waited
            for.
        format: force a reader (see `lossdoctor.read.FORMATS`).
        idle: stop after this many seconds without the file changing (> 0).
        interval: seconds between checks (> 0); a read never starts sooner than the last read
            took, so a slow re-read cannot use more than half the time.
        select, ignore: kinds to diagnose, as for `diagnose_run`.
        emit: called with each new finding (NaN/inf on the read that shows it; the others once
            seen in two reads in a row, as in `Watch`) and the diagnosis it came from.
        clock, sleep: injectable for tests.
    """
    for label, v in (("idle", idle), ("interval", interval)):
        if not isinstance(v, int | float) or isinstance(v, bool) or not v > 0:
            raise ValueError(f"{label} must be a number > 0, got {v!r}")
    p = Path(path)
    sel = None if select is None else list(select)
    ign = None if ignore is None else list(ignore)
    result = FollowResult()
    episodes: dict[int, Episodes] = {}
    seen: tuple[int, int] | None = None
    read_sig: tuple[int, int] | None = None
    last_change = clock()
    next_read = last_change

    def diagnose_now(sig: tuple[int, int]) -> None:
        nonlocal read_sig, next_read
        t0 = clock()
        read_sig = sig
        result.reads += 1
        try:
            runs = read(p, format=format)
        except ReadError as exc:  # half-written or not yet recognisable: keep waiting
            result.error = exc
            next_read = clock() + max(interval, clock() - t0)
            return
        result.error = None
        result.diagnoses = [diagnose_run(r, select=sel, ignore=ign) for r in runs]
        for i, d in enumerate(result.diagnoses):
            here = _last_point(d)
            tracker = episodes.setdefault(i, Episodes())
            live = [f for f in d.findings if f.kind not in END_OF_RUN_KINDS]
            # a NaN/inf is reported on the read that shows it, as `Watch` does; the rest is
            # confirmed on two reads in a row
            at_once = [f for f in live if f.kind in IMMEDIATE_KINDS and tracker.online(f, here)]
            for f in at_once + tracker.full(
                    [f for f in live if f.kind not in IMMEDIATE_KINDS], here):
                f.detected_at = here
                result.reported.append(f)
                if emit is not None:
                    emit(f, d)
        next_read = clock() + max(interval, clock() - t0)

    try:
        while True:
            now = clock()
            sig = _signature(p)
            if sig != seen:
                seen, last_change = sig, now
            if sig is not None and sig != read_sig and now >= next_read:
                diagnose_now(sig)
            if clock() - last_change >= idle:
                break
            sleep(interval)
    except KeyboardInterrupt:
        result.interrupted = True
    final = _signature(p)
    if final is None and result.reads == 0:
        result.error = ReadError(p, "watch.no_file")
    elif final is not None and final != read_sig:
        diagnose_now(final)
    return result

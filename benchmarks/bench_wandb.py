"""Reading a W&B transaction log (``run-<id>.wandb``): lossdoctor against the SDK's classes.

wandb 0.31 has no API that reads a local run (its public ``Api`` asks the server); the way to
read an offline run's history with the SDK is to frame the log and decode each message with
its generated protobuf class, ``wandb_internal_pb2.Record.FromString``, then ``json.loads``
each item's ``value_json``. That is the peer: the same framing loop (zlib CRC-32 of every
record checked, as lossdoctor does), the SDK's upb-backed parser, values collected per key.

Writes one offline run with the real SDK (default: 20,000 ``wandb.log`` calls of 6 metrics,
every 10th with two validation metrics) in a temporary directory, then times, in the same
process, best of N, both readers, checks they return the same numbers, and prints the ratio.

    .venv/bin/python benchmarks/bench_wandb.py [--steps 20000 --repeat 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import struct
import tempfile
import time
import zlib
from pathlib import Path


def write_run(root: Path, steps: int) -> Path:
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(project="bench", mode="offline", dir=str(root),
                     settings=wandb.Settings(silent=True, x_disable_stats=True))
    for s in range(steps):
        row = {"train/loss": 2.0 * math.exp(-s / 5000) + 0.1 * math.sin(s),
               "train/acc": 1 - math.exp(-s / 3000), "lr": 1e-3 * (1 - s / steps),
               "grad_norm": 1 + 0.5 * math.cos(s / 7), "epoch": s // 1000,
               "trainer/global_step": s}
        if s % 10 == 9:
            row["val/loss"] = 2.1 * math.exp(-s / 5000)
            row["val/acc"] = 1 - math.exp(-s / 2500)
        wandb.log(row, step=s)
    run.finish()
    (log,) = root.glob("wandb/offline-run-*/run-*.wandb")
    return log


def sdk_read(path: Path) -> dict[str, list[float]]:
    """The history with the SDK's generated classes: frame, check, parse, json.loads."""
    from wandb.proto import wandb_internal_pb2 as pb

    type_crc = {t: zlib.crc32(bytes([t])) for t in (1, 2, 3, 4)}
    data = path.read_bytes()
    cols: dict[str, list[float]] = {}
    parts: list[bytes] = []
    pos = 7
    while pos < len(data):
        room = 32768 - pos % 32768
        if room < 7:
            pos += room
            continue
        crc, n, kind = struct.unpack_from("<IHB", data, pos)
        chunk = data[pos + 7 : pos + 7 + n]
        if zlib.crc32(chunk, type_crc[kind]) != crc:
            raise ValueError(f"CRC mismatch at {pos}")
        pos += 7 + n
        parts.append(chunk)
        if kind not in (1, 4):
            continue
        rec = pb.Record.FromString(b"".join(parts))
        parts = []
        if rec.WhichOneof("record_type") != "history":
            continue
        for item in rec.history.item:
            v = json.loads(item.value_json)
            if isinstance(v, int | float) and not isinstance(v, bool):
                cols.setdefault(".".join(item.nested_key) or item.key, []).append(float(v))
    return cols


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    import lossdoctor

    with tempfile.TemporaryDirectory() as tmp:
        log = write_run(Path(tmp), args.steps)
        size = log.stat().st_size
        t_ld, runs = best_of(lambda: lossdoctor.read(log, format="wandb"), args.repeat)
        t_sdk, cols = best_of(lambda: sdk_read(log), args.repeat)
    (run,) = runs
    for ours, key in (("train_loss", "train/loss"), ("val_loss", "val/loss"),
                      ("grad_norm", "grad_norm")):
        assert list(run.series[ours].values) == cols[key], ours
    points = sum(len(s) for s in run.series.values())
    print(f"log: {size / 1e6:.1f} MB, {args.steps} history rows, {points} points read")
    print(f"lossdoctor.read          {t_ld * 1e3:8.1f} ms")
    print(f"SDK Record.FromString    {t_sdk * 1e3:8.1f} ms")
    print(f"ratio SDK / lossdoctor   {t_sdk / t_ld:8.2f}x")


if __name__ == "__main__":
    main()

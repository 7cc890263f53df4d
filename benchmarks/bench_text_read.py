"""Plain-text log reading: lines per second and memory, lossdoctor vs the naive peer.

    .venv/bin/python benchmarks/bench_text_read.py [--lines 1000000] [--small 250000]

Generates a realistic training log in a temp directory (per-step loss lines with a logging
prefix, step and learning rate; one summary line per epoch; noise: data-loader chatter,
warnings, checkpoint messages, tracebacks, tqdm-free progress text) and parses it with

* lossdoctor: ``lossdoctor.read(path)`` (the dispatcher, format sniffing included), streaming;
* the naive peer: what a training script's author writes: ``open().read().splitlines()`` and
  one ``re.search`` per line for the loss value.

Speed is measured in this process (best of 3); memory in fresh child processes (peak RSS
while parsing minus the RSS before, Linux ``/proc``), for a small and the full file, to show
that lossdoctor's memory beyond the points it stores does not grow with the file.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NAIVE = re.compile(r"loss[:=\s]+([-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|nan|inf))", re.IGNORECASE)


def make_log(path: Path, n_lines: int) -> dict[str, int]:
    """Write `n_lines` lines; returns how many of each kind."""
    counts = {"step": 0, "epoch": 0, "noise": 0}
    steps_per_epoch = 2000
    noise = [
        "2024-05-01 12:00:{s:02d},{ms:03d} - WARNING - /usr/lib/python3.11/site-packages/torch/"
        "utils/data/dataloader.py:558: UserWarning: This DataLoader will create 8 worker "
        "processes in total.",
        "2024-05-01 12:00:{s:02d},{ms:03d} - INFO - Saving checkpoint to runs/exp3/ckpt_{step}.pt"
        " (1234.5 MB) in 3.2s",
        "  File \"/home/user/train.py\", line {s}, in <module>",
        "2024-05-01 12:00:{s:02d},{ms:03d} - INFO - GPU memory: {ms} MB allocated, 12.3 it/s, "
        "ETA 01:{s:02d}:00",
        "2024-05-01 12:00:{s:02d},{ms:03d} - DEBUG - fetched shard {step} from s3://bucket/data "
        "(65536 samples, 256 batches)",
    ]
    step = 0
    with open(path, "w", encoding="utf-8") as f:
        i = 0
        while i < n_lines:
            step += 1
            epoch = (step - 1) // steps_per_epoch + 1
            s, ms = step % 60, step % 1000
            if step % 5 == 0 or i % 7 == 3:
                f.write(noise[step % len(noise)].format(s=s, ms=ms, step=step) + "\n")
                counts["noise"] += 1
                i += 1
            if i >= n_lines:
                break
            loss = 2.0 * math.exp(-step / 30000) + 0.05 * math.sin(step / 7.0) + 0.1
            f.write(f"2024-05-01 12:00:{s:02d},{ms:03d} - INFO - Epoch {epoch} | Step "
                    f"{(step - 1) % steps_per_epoch}/{steps_per_epoch} | Loss: {loss:.4f} | "
                    f"LR: {3e-4 * (0.5 ** (epoch // 10)):.2e} | Time: 0.512s\n")
            counts["step"] += 1
            i += 1
            if step % steps_per_epoch == 0 and i < n_lines:
                f.write(f"2024-05-01 12:00:{s:02d},{ms:03d} - INFO - Epoch {epoch} - Train Loss:"
                        f" {loss:.4f} - Valid Loss: {loss + 0.1:.4f} - Val Acc: 0.81\n")
                counts["epoch"] += 1
                i += 1
    return counts


def naive_parse(path: Path) -> list[float]:
    values: list[float] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for line in text.splitlines():
        m = NAIVE.search(line)
        if m is not None:
            values.append(float(m.group(1)))
    return values


def lossdoctor_parse(path: Path) -> int:
    import lossdoctor

    runs = lossdoctor.read(path)
    return sum(len(s) for r in runs for s in r)


def without_shape_cache(path: Path) -> int:
    """lossdoctor analysing every line from scratch (the line-shape cache switched off)."""
    from lossdoctor.read import textlog

    remember = textlog._Parser._remember
    textlog._Parser._remember = lambda self, shape, plan: None  # type: ignore[method-assign]
    try:
        return lossdoctor_parse(path)
    finally:
        textlog._Parser._remember = remember  # type: ignore[method-assign]


def _child(kind: str, path: str) -> None:
    """Run in a child process: parse once, print the peak RSS reached while parsing minus the
    RSS before it (bytes). Linux: the peak (VmHWM) is reset through /proc/self/clear_refs."""
    import importlib

    from lossdoctor.read import FORMATS

    for module in FORMATS.values():  # every reader the dispatcher may import, before the baseline
        importlib.import_module(module)

    def status(field: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {field} in /proc/self/status")

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS to the current RSS
    base = status("VmRSS")
    points = lossdoctor_parse(Path(path)) if kind == "lossdoctor" else len(naive_parse(Path(path)))
    print(json.dumps({"extra": max(0, status("VmHWM") - base), "points": points}))


def measure_memory(kind: str, path: Path) -> dict[str, int]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def best_of(fn, *args: object, repeat: int = 3) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    best, result = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=250_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "train.log", Path(tmp) / "small.log"
        counts = make_log(big, args.lines)
        make_log(small, args.small)
        size = big.stat().st_size
        print(f"log: {args.lines:,} lines, {size / 1e6:.1f} MB ({counts['step']:,} step lines, "
              f"{counts['epoch']:,} epoch lines, {counts['noise']:,} noise lines)")

        t_ld, n_ld = best_of(lossdoctor_parse, big, repeat=args.repeat)
        t_nv, n_nv = best_of(naive_parse, big, repeat=args.repeat)
        print(f"lossdoctor.read : {t_ld:7.2f} s  {args.lines / t_ld:12,.0f} lines/s  "
              f"({n_ld:,} points in all series)")
        print(f"naive peer      : {t_nv:7.2f} s  {args.lines / t_nv:12,.0f} lines/s  "
              f"({len(n_nv):,} loss values)")  # type: ignore[arg-type]
        print(f"speed ratio lossdoctor/naive: {t_nv / t_ld:.2f}x  (lossdoctor also reads "
              f"steps, epochs, LR, validation lines and run structure)")
        t_cached, _ = best_of(lossdoctor_parse, small, repeat=1)
        t_plain, _ = best_of(without_shape_cache, small, repeat=1)
        print(f"line-shape cache, {args.small:,} lines: {args.small / t_plain:,.0f} lines/s "
              f"without, {args.small / t_cached:,.0f} with: {t_plain / t_cached:.1f}x")

        print("\npeak memory while parsing, above the RSS before it (child processes):")
        rows = {}
        for kind in ("lossdoctor", "naive"):
            for label, path, n in (("small", small, args.small), ("full", big, args.lines)):
                m = rows[kind, label] = measure_memory(kind, path)
                per = (f"{m['extra'] / m['points']:5.1f} bytes per stored point"
                       if kind == "lossdoctor" else f"{m['extra'] / n:5.0f} bytes per line")
                print(f"  {kind:10s} {n:>9,} lines: {m['extra'] / 1e6:7.1f} MB  = {per} "
                      f"({m['points']:,} {'points' if kind == 'lossdoctor' else 'values'})")
        ld_s, ld_f = rows["lossdoctor", "small"], rows["lossdoctor", "full"]
        nv_f = rows["naive", "full"]
        print(f"memory ratio naive/lossdoctor on the full file: "
              f"{nv_f['extra'] / max(ld_f['extra'], 1):.1f}x")
        # The points cost 24 bytes each in the RunBuilder's arrays (plus their growth slack)
        # and one metric's numpy copy while the Run is built; if anything else grew with the
        # file, the bytes per point would grow from the small file to the full one.
        print(f"lossdoctor bytes per stored point, {args.small:,} -> {args.lines:,} lines: "
              f"{ld_s['extra'] / ld_s['points']:.1f} -> {ld_f['extra'] / ld_f['points']:.1f}")


if __name__ == "__main__":
    main()

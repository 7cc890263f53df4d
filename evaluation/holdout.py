"""Held-out check: the corpus generator's regimes retrained with seeds no rule was tuned on.

The rules were developed against `corpus/`, so their scores there are optimistic. This script
re-registers the generator's regimes (`corpus/generate/train_runs.py`), shifts every run's seed
by ``--offset``, trains each run for real, writes its log in the run's own format into a
temporary directory, reads it back with `lossdoctor.read` and diagnoses it. It prints each
run's kinds next to the kinds its regime's corpus labels name, and for the ``healthy`` regime
the false-alarm count (a healthy recipe with another seed is assumed to stay healthy; any
finding is printed with its summary so that a genuine event can be told from a false alarm).

    .venv/bin/python evaluation/holdout.py                  # the healthy regime, offset 1000
    .venv/bin/python evaluation/holdout.py --regime all --jobs 2
    .venv/bin/python evaluation/holdout.py --regime all --offset 2000 --keep runs/

``--keep DIR`` also leaves every log in ``DIR/holdout+<offset>/<run id>/``, so that a later rule
change can be tried on the same runs without training them again (`evaluation/rediagnose.py`).

Needs the corpus extra (torch, scikit-learn, mnist1d, tensorboard).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "corpus" / "generate"))
sys.path.insert(0, str(ROOT / "evaluation"))

import train_runs as T  # noqa: E402
from logformats import WRITERS, WRITES  # noqa: E402
from rediagnose import findings  # noqa: E402


def _labels() -> dict[str, list[str]]:
    """The generated corpus's labels, reviewed where a review exists."""
    base = ROOT / "corpus" / "generated"
    labels = {k: v["labels"] for k, v in json.loads((base / "labels.json").read_text()).items()}
    reviewed = json.loads((base / "labels_reviewed.json").read_text())
    labels.update({k: v["labels"] for k, v in reviewed.items()})
    return labels


def _train_and_diagnose(spec: T.RunSpec, offset: int, keep: Path | None = None,
                        ) -> tuple[str, list[tuple[str, str, str]]]:
    """Train `spec` with its seed shifted by `offset`, write its log (into ``keep / spec.id``
    when `keep` is given, else a temporary directory) and diagnose it."""
    import torch

    torch.set_num_threads(1)
    cfg = dataclasses.replace(spec.cfg, seed=spec.cfg.seed + offset)
    rec = T.fit(cfg)
    rec["meta"]["name"] = spec.id
    rec["series"] = {k: v for k, v in rec["series"].items() if k in WRITES[spec.fmt]}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) if keep is None else keep / spec.id
        out.mkdir(parents=True, exist_ok=True)
        files = WRITERS[spec.fmt](rec, out)
        found = findings(out / files[0] if len(files) == 1 else out)
    return spec.id, found


def _agreement(rows: list[tuple[set[str], set[str]]]) -> None:
    """Per kind: how many corpus twins carry it, how many of their held-out runs show it again,
    and how many held-out runs show it although their twin does not (another seed may change
    what a run does, so this bounds the rules' stability rather than scoring them)."""
    kinds = sorted(set().union(*(a | b for a, b in rows)))
    if not kinds:
        return
    print(f"{'kind':16s} {'twins':>5s} {'again':>5s} {'new':>4s}")
    for k in kinds:
        twins = sum(k in a for a, _ in rows)
        again = sum(k in a and k in b for a, b in rows)
        new = sum(k in b and k not in a for a, b in rows)
        print(f"{k:16s} {twins:5d} {again:5d} {new:4d}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regime", default="healthy",
                        help="a regime name of the generator, or 'all' (default: healthy)")
    parser.add_argument("--offset", type=int, default=1000, help="added to every seed")
    parser.add_argument("--jobs", type=int, default=2, help="parallel training processes")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="also keep the logs, in DIR/holdout+OFFSET/RUN_ID/")
    args = parser.parse_args(argv)
    keep = None if args.keep is None else args.keep / f"holdout{args.offset:+d}"
    for register in T.REGIMES:
        register()
    specs = [s for s in T.RUNS if args.regime == "all" or s.regime == args.regime]
    if not specs:
        parser.error(f"no run of regime {args.regime!r}")
    labels = _labels()
    t0 = time.time()
    healthy = alarms = 0
    rows: list[tuple[set[str], set[str]]] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        jobs = [pool.submit(_train_and_diagnose, s, args.offset, keep) for s in specs]
        for spec, job in zip(specs, jobs, strict=True):
            rid, found = job.result()
            kinds = sorted({k for k, _m, _s in found})
            corpus = labels.get(rid, [])
            print(f"{rid} {spec.name:42s} corpus={','.join(corpus) or '-':28s} "
                  f"held-out={','.join(kinds) or '-'}", flush=True)
            rows.append((set(corpus) - {"healthy"}, set(kinds)))
            if corpus == ["healthy"]:
                healthy += 1
                alarms += bool(kinds)
                for kind, metric, summary in found:
                    print(f"    {kind} {metric}: {summary}")
    _agreement(rows)
    print(f"{len(specs)} runs retrained with seed + {args.offset} in {time.time() - t0:.0f} s")
    if healthy:
        print(f"false alarms on runs whose corpus twin is healthy: {alarms}/{healthy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

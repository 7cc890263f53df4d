"""Re-diagnose kept runs: try a rule change on logs trained before, without training again.

`holdout.py --keep DIR` and `fresh.py --keep DIR` leave every log in ``DIR/<pass>/<run id>/``.
This script diagnoses every such run and prints its kinds; with ``--base REV`` it diagnoses them
also with lossdoctor as of git revision REV (its ``src/`` unpacked into a temporary directory,
in a subprocess) and prints only the runs whose (kind, metric) pairs differ, with the summaries
gained and lost — the check made before a rule change is kept.

    .venv/bin/python evaluation/rediagnose.py runs/                     # kinds of every run
    .venv/bin/python evaluation/rediagnose.py runs/ --base HEAD~1       # what the change changed
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import warnings
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

Found = dict[str, list[list[str]]]


def run_dirs(root: Path) -> list[Path]:
    """The run directories under `root` (``root/<pass>/<run>/``), sorted."""
    return sorted(d for p in sorted(root.iterdir()) if p.is_dir()
                  for d in sorted(p.iterdir()) if d.is_dir())


def findings(path: Path) -> list[tuple[str, str, str]]:
    """(kind, metric, summary) of every finding but `converged` of every run in log `path`
    (also what `holdout.py` and `fresh.py` print for a freshly trained run)."""
    import lossdoctor
    from lossdoctor.diagnosis import diagnose_run

    return [(f.kind, f.metric, f.summary()) for r in lossdoctor.read(path)
            for f in diagnose_run(r).findings if f.kind != "converged"]


def diagnose_dirs(root: Path) -> Found:
    """``"<pass>/<run>"`` → [kind, metric, summary] of every finding but `converged` (a log that
    cannot be read gets one ``["error", "", message]``)."""
    from lossdoctor.errors import LossdoctorError

    out: Found = {}
    for d in run_dirs(root):
        files = [f for f in d.iterdir() if f.is_file()]
        target = files[0] if len(files) == 1 else d
        key = f"{d.parent.name}/{d.name}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[key] = [list(f) for f in findings(target)]
        except LossdoctorError as exc:
            out[key] = [["error", "", str(exc)]]
    return out


def diagnose_at(rev: str, root: Path) -> Found:
    """`diagnose_dirs(root)` with lossdoctor's ``src/`` as of git revision `rev`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"],
                             capture_output=True, check=False)
    if archive.returncode:
        raise SystemExit(f"rediagnose: git archive {rev}: {archive.stderr.decode().strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            # this repository's own archive; the "data" filter where this Python has it
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        done = subprocess.run([sys.executable, __file__, str(root), "--json", "--expect-src",
                               str(Path(tmp) / "src")], env=env, capture_output=True,
                              text=True, check=False)
        if done.returncode:
            raise SystemExit(f"rediagnose: at {rev}: {done.stderr.strip()}")
    found: Found = json.loads(done.stdout)
    return found


def differences(old: Found, new: Found) -> list[str]:
    """Lines naming each run whose (kind, metric) pairs differ, with the summaries gained (+)
    and lost (-)."""
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, []), new.get(key, [])
        ka, kb = {(k, m) for k, m, _ in a}, {(k, m) for k, m, _ in b}
        if ka == kb:
            continue
        lines.append(f"{key}: lost {sorted(ka - kb) or '-'}, gained {sorted(kb - ka) or '-'}")
        lines += [f"    + {s}" for k, m, s in b if (k, m) not in ka]
        lines += [f"    - {s}" for k, m, s in a if (k, m) not in kb]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="a directory given to holdout.py/fresh.py --keep")
    parser.add_argument("--base", metavar="REV", help="also diagnose with git revision REV and "
                        "print only what differs")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--expect-src", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        parser.error(f"{args.dir}: not a directory")
    if args.expect_src is not None:
        import lossdoctor  # the subprocess of diagnose_at must run the unpacked revision

        if Path(lossdoctor.__file__).resolve().parents[1] != args.expect_src.resolve():
            raise SystemExit(f"rediagnose: imported {lossdoctor.__file__}, "
                             f"not the revision in {args.expect_src}")
    new = diagnose_dirs(args.dir)
    if args.json:
        print(json.dumps(new))
        return 0
    if args.base is None:
        for key, found in new.items():
            print(f"{key:40s} {','.join(sorted({k for k, _m, _s in found})) or '-'}")
        print(f"{len(new)} runs")
        return 0
    lines = differences(diagnose_at(args.base, args.dir), new)
    print("\n".join(lines) if lines else f"no run's findings differ from {args.base}")
    print(f"{len(new)} runs, {sum(not ln.startswith('    ') for ln in lines)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

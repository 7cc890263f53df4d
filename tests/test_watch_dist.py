"""The watcher under torch.distributed: two CPU processes on the gloo backend, a DDP model, and
one rank that sees a NaN (or whose watcher fails) — every rank must decide the same thing at
the same step."""

from __future__ import annotations

import math
import os
import traceback
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from lossdoctor.watch import Policy, Watch

NAN_STEP = 40
FAIL_STEP = 15
_KEEP: list[object] = []


def _worker(rank: int, world: int, init: str, out: str) -> None:
    # The rank ends with os._exit, the DDP model still referenced: freeing a DDP reducer frees
    # its gloo process group, whose destructor joins a worker thread that may be waiting for
    # the GIL the joining thread holds (a deadlock seen here about once in ten runs).
    try:
        _run_rank(rank, world, init, out)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _run_rank(rank: int, world: int, init: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        torch.manual_seed(0)  # same initial weights on both ranks
        model = DDP(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1)))
        _KEEP.append(model)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        w = Watch(model, opt, autopilot=Policy(snapshot_every=10))
        gen = torch.Generator().manual_seed(100 + rank)  # each rank its own batches
        logged_means = []
        for step in range(60):
            x = torch.randn(8, 4, generator=gen)
            if rank == 1 and step == NAN_STEP:
                x[0, 0] = math.nan  # one bad sample, on one rank only
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()  # DDP averages the NaN gradient into both ranks
            opt.step()
            w.log(step, train_loss=loss.item(), lr=opt.param_groups[0]["lr"],
                  probe=float(rank))
            logged_means.append(w.history.values("probe")[-1])
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])

        # a watcher that fails on rank 1 only: both ranks step aside at the same call
        w2 = Watch()
        if rank == 1:
            real = w2._online.update

            def boom(value: float, index: int) -> object:
                if index == FAIL_STEP:
                    raise RuntimeError("rank-1 failure")
                return real(value, index)

            w2._online.update = boom  # type: ignore[method-assign]
        disabled_at = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for step in range(30):
                w2.log(step, train_loss=1.0 + 0.01 * step)
                if w2.disabled and disabled_at is None:
                    disabled_at = step
        torch.save({
            "actions": [a.to_dict() for a in w.actions],
            "events": [(f.kind, f.detected_at.step if f.detected_at else None)
                       for f in w.events],
            "lr": opt.param_groups[0]["lr"],
            "weights": flat,
            "probe": logged_means,
            "history_len": w.history.points("train_loss"),
            "disabled_at": disabled_at,
            "warnings": [str(c.message) for c in caught],
        }, f"{out}/rank{rank}.pt")
        dist.barrier()
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


@pytest.mark.slow
def test_two_ranks_decide_together(tmp_path: Path) -> None:
    init = f"file://{tmp_path}/init"
    # fork: the children inherit the imported modules (spawn would import torch twice more)
    mp.start_processes(_worker, args=(2, init, str(tmp_path)), nprocs=2, join=True,
                       start_method="fork")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    # metrics are averaged over ranks
    assert r0["probe"] == r1["probe"] == [0.5] * 60
    # rank 1's NaN is a NaN for both: the same rollback at the same step, on both ranks
    assert r0["actions"] == r1["actions"]
    names = [(a["name"], a["step"], a["applied"]) for a in r0["actions"]]
    assert names[:2] == [("rollback", NAN_STEP, True), ("lower_lr", NAN_STEP, True)]
    assert r0["actions"][0]["kind"] == "non_finite"
    assert r0["events"] == r1["events"] and ("non_finite", NAN_STEP) in r0["events"]
    assert r0["lr"] == r1["lr"] == pytest.approx(0.05 * 0.3)
    # identical, finite weights afterwards: training went on in step
    assert torch.equal(r0["weights"], r1["weights"])
    assert torch.isfinite(r0["weights"]).all()
    assert r0["history_len"] == r1["history_len"]
    # a failure on one rank: both step aside, at the next call after it
    assert r0["disabled_at"] == r1["disabled_at"] == FAIL_STEP + 1
    assert any("steps aside" in m for m in r0["warnings"])
    assert any("rank-1 failure" in m for m in r1["warnings"])

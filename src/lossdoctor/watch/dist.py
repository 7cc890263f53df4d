"""Talking across ranks: one primitive, an all-reduce SUM of a few floats.

With it the watcher (1) averages each logged metric over the ranks — a NaN or inf on any rank
makes the sum, hence the mean, non-finite, so one rank's NaN counts as a NaN everywhere; (2)
makes every autopilot decision one decision: rank 0's plan is summed with zeros from the other
ranks, so every rank receives rank 0's plan and applies it at the same step; (3) steps aside on
every rank at once when the watcher failed on any of them (each rank adds 1 while healthy).
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

__all__ = ["Comm", "TorchDistComm", "default_comm"]


class Comm(Protocol):
    """A group of ranks that can sum a vector of floats."""

    world: int
    rank: int

    def sum(self, values: list[float]) -> list[float]:
        """The element-wise sum of `values` over every rank (each rank gets the result)."""


class TorchDistComm:
    """`torch.distributed` (any backend; on NCCL the tensor goes to the current GPU)."""

    def __init__(self, group: Any = None) -> None:
        import torch
        import torch.distributed as dist

        self._dist = dist
        self._group = group
        self.world = dist.get_world_size(group)
        self.rank = dist.get_rank(group)
        backend = str(dist.get_backend(group)).lower()
        self._device = (torch.device("cuda", torch.cuda.current_device())
                        if "nccl" in backend else torch.device("cpu"))
        self._torch = torch

    def sum(self, values: list[float]) -> list[float]:
        t = self._torch.tensor(values, dtype=self._torch.float64, device=self._device)
        self._dist.all_reduce(t, op=self._dist.ReduceOp.SUM, group=self._group)
        return [float(v) for v in t.tolist()]


def default_comm() -> Comm | None:
    """`TorchDistComm` when a `torch.distributed` process group of more than one rank is up
    (torch is not imported for this: a run that never imported it is not distributed)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    if dist.get_world_size() <= 1:
        return None
    return TorchDistComm()

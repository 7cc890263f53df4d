"""Elastic Weight Consolidation (Kirkpatrick et al., PNAS 2017) and online EWC (Schwarz et al.,
ICML 2018, "Progress & Compress") against catastrophic forgetting.

After training on a task, `EWC.consolidate` stores the parameters θ* and the diagonal of the
Fisher information F at θ*; while training later tasks, ``loss + ewc.penalty()`` pulls each
parameter back towards θ* in proportion to how much the old task's likelihood depends on it::

    penalty = (λ/2) · Σ_t Σ_i F_t,i (θ_i − θ*_t,i)²        EWC: one anchor per task
    penalty = (λ/2) · Σ_i F_i (θ_i − θ*_i)²                 OnlineEWC: F ← γF + F_new, θ* ← θ_new

The Fisher diagonal is the MEAN OF PER-SAMPLE SQUARED GRADIENTS of the log-likelihood,
``F_i = (1/N) Σ_n (∂ℓ_n/∂θ_i)²``, computed exactly by the first path that applies: for a plain
``nn.Sequential`` MLP, (δ²)ᵀ(a²) per ``nn.Linear`` from one batched backward; else ``torch.func``
``vmap(grad(...))`` over the batch; else (modules vmap cannot run, with a warning) a loop of
single-sample backward passes. Squaring the
gradient of a minibatch instead (``(1/B Σ_n ∂ℓ_n/∂θ_i)²``) is a common bug: it drops the
per-sample variance, shrinks F by about the batch size and reorders the parameters' importance.
It is offered only as ``fisher="batch_squared"``, for comparisons.

Model and loss contract:
    The model is called as ``model(inputs)`` and the loss as ``loss_fn(outputs, targets)`` on a
    batch of ONE sample, which must give a scalar: the negative log-likelihood of the sample (a
    torch loss with ``reduction='mean'`` or ``'sum'``, e.g. `torch.nn.CrossEntropyLoss`). The
    dataloader yields ``(inputs, targets)`` pairs of tensors whose first dimension is the batch.
    For ``fisher="true"`` the model output must be classification logits of shape ``(N, C)``
    with C ≥ 2 and ``loss_fn`` must take class indices (cross-entropy): the targets are replaced
    by labels sampled from ``softmax(logits)`` (one sample per input, from torch's global RNG).
    The Fisher is computed in the model's current mode: call ``model.eval()`` first to switch
    off dropout and batch statistics. Buffers (e.g. BatchNorm running statistics) are restored
    afterwards.

Parameters: EWC anchors the parameters that require grad at the first `consolidate` (frozen ones
are ignored). Adding, removing or reshaping parameters afterwards is an error, and so is moving
the model to another device or dtype: reload the state with ``ewc.load_state_dict(
ewc.state_dict())`` after moving the model (it casts the stored tensors to the parameters).

Under ``torch.distributed`` (initialised, world size > 1) every rank passes its own shard of the
data; the per-sample squared-gradient sums and the sample counts are all-reduced, so every rank
ends with the Fisher of the union of the shards. For a `DistributedDataParallel` model pass the
wrapped module (``ddp.module``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

__all__ = ["EWC", "OnlineEWC", "fisher_diagonal"]

FisherKind = Literal["empirical", "true", "batch_squared"]
LossFn = Callable[[Tensor, Tensor], Tensor]

_FISHER_KINDS = ("empirical", "true", "batch_squared")
# Per-sample gradients are materialised one chunk of the batch at a time, at most this many bytes:
# small enough for the allocator to recycle the blocks (fresh multi-MB allocations page-fault and
# cost more than the arithmetic) yet large enough to amortise vmap's per-call overhead.
_PER_SAMPLE_BYTES = 32 * 2**20
_STATE_VERSION = 1


# ----------------------------------------------------------------------------------------------
# Fisher diagonal
# ----------------------------------------------------------------------------------------------


def _check_max_samples(max_samples: int | None) -> int | None:
    if max_samples is None:
        return None
    if isinstance(max_samples, bool) or not isinstance(max_samples, int):
        raise TypeError(f"max_samples must be an int or None, got {type(max_samples).__name__}")
    if max_samples <= 0:
        raise ValueError(f"max_samples must be > 0, got {max_samples}")
    return max_samples


def _batches(
    dataloader: Iterable[Any], max_samples: int | None, device: torch.device
) -> Iterator[tuple[Tensor, Tensor]]:
    """``(inputs, targets)`` on ``device``, truncated to ``max_samples`` samples in total."""
    seen = 0
    for batch in dataloader:
        if (
            not isinstance(batch, Sequence)
            or len(batch) != 2
            or not all(isinstance(t, Tensor) for t in batch)
        ):
            raise TypeError(
                "each batch of the dataloader must be an (inputs, targets) pair of tensors, got "
                f"{type(batch).__name__}"
            )
        x, y = batch
        if x.dim() == 0 or y.dim() == 0 or x.shape[0] != y.shape[0]:
            raise ValueError(
                "inputs and targets must share their first (batch) dimension, got shapes "
                f"{tuple(x.shape)} and {tuple(y.shape)}"
            )
        if max_samples is not None and seen + x.shape[0] > max_samples:
            x, y = x[: max_samples - seen], y[: max_samples - seen]
        if x.shape[0] == 0:
            continue
        seen += x.shape[0]
        yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if max_samples is not None and seen >= max_samples:
            return


def _sample_labels(model: nn.Module, x: Tensor) -> Tensor:
    """Labels drawn from the model's predictive distribution ``softmax(model(x))``."""
    with torch.no_grad():
        logits = model(x)
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[1] < 2:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(
            'fisher="true" needs classification logits of shape (N, C) with C >= 2 from the '
            f"model, got {shape}; use fisher='empirical' for other outputs"
        )
    return torch.multinomial(torch.softmax(logits.float(), dim=1), 1).squeeze(1)


def _check_scalar_loss(loss: Any) -> None:
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(
            "loss_fn must return a scalar for a batch of one sample (reduction='mean' or 'sum'), "
            f"got {shape}"
        )


# Modules that act on each sample separately (exact types: a subclass may override forward).
_SAMPLEWISE = (
    nn.Sequential, nn.Linear, nn.Identity, nn.Flatten, nn.Dropout, nn.ReLU, nn.ReLU6,
    nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish, nn.Tanh, nn.Sigmoid,
    nn.Softplus, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid,
)  # fmt: skip


class _NotSamplewise(Exception):
    """The Linear shortcut does not apply to this batch (e.g. inputs with a sequence axis)."""


def _samplewise_linears(
    model: nn.Module, names: Sequence[str]
) -> list[tuple[nn.Linear, int, int | None]] | None:
    """For a plain ``nn.Sequential`` MLP whose anchored parameters all belong to ``nn.Linear``
    layers: ``(layer, index of its weight in names, index of its bias or None)`` for each layer
    with an anchored parameter. None for any other model."""
    if not isinstance(model, nn.Sequential):
        return None
    modules = list(model.named_modules(remove_duplicate=False))
    shared = len(modules) != len(dict(model.named_modules())) or len(
        list(model.named_parameters(remove_duplicate=False))
    ) != len(list(model.named_parameters()))
    if shared:  # a module or a parameter used twice: its per-sample gradient is a sum
        return None
    for _, m in modules:
        if type(m) not in _SAMPLEWISE or (isinstance(m, nn.Flatten) and m.start_dim != 1):
            return None
    index = {n: i for i, n in enumerate(names)}
    layers: list[tuple[nn.Linear, int, int | None]] = []
    covered = 0
    for prefix, m in modules:
        if isinstance(m, nn.Linear):
            w, b = index.get(f"{prefix}.weight"), index.get(f"{prefix}.bias")
            if w is None and b is not None:
                return None  # a frozen weight with a trained bias: rare, use vmap
            if w is not None:
                layers.append((m, w, b))
                covered += 1 + (b is not None)
    return layers if covered == len(names) else None


def _raise_if_batch_statistics(model: nn.Module, exc: Exception) -> None:
    """A model that failed on one sample while a batch-norm layer uses batch statistics: say
    so (per-sample gradients need each sample alone, batch statistics mix the samples)."""
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training:
            raise ValueError(
                f"EWC cannot compute per-sample gradients: {type(m).__name__} {name!r} is in "
                f"training mode ({str(exc).splitlines()[0][:200]}); call model.eval() before "
                "computing the Fisher"
            ) from exc


class _FisherAccumulator:
    """Sums of squared gradients (float64) of the tracked parameters, and their count.

    Three exact paths, the first that applies: for a plain ``nn.Sequential`` MLP, the per-sample
    squared gradients of each ``nn.Linear`` from one batched backward, Σ_n (δ_n a_nᵀ)² =
    (δ²)ᵀ(a²) (δ: gradient of the sample's loss at the layer's output, a: its input), one matrix
    product per layer instead of B × P per-sample entries (13-21x faster than the per-sample
    loop on MLPs, benchmarks/bench_ewc.py); else ``vmap(grad)``; else a backward pass per
    sample.
    """

    def __init__(self, model: nn.Module, names: Sequence[str], loss_fn: LossFn) -> None:
        self.model = model
        self.names = list(names)
        self.loss_fn = loss_fn
        named = dict(model.named_parameters())
        self.params = [named[n] for n in self.names]
        tracked = set(self.names)
        self.frozen = {n: p.detach() for n, p in named.items() if n not in tracked}
        self.buffers = dict(model.named_buffers())
        self.sums = [torch.zeros_like(p, dtype=torch.float64) for p in self.params]
        self.count = 0
        self.linears = _samplewise_linears(model, self.names)
        self.path = "linear" if self.linears is not None else "vmap"
        self._chunk_acc: list[Tensor] | None = None
        numel = sum(p.numel() for p in self.params)
        self.chunk_size = max(1, _PER_SAMPLE_BYTES // max(1, numel * self.params[0].element_size()))
        self._per_sample_grad = vmap(
            grad(self._loss_one), in_dims=(None, 0, 0), randomness="different"
        )

    def _loss_one(self, params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        out = functional_call(self.model, (params, self.frozen, self.buffers), (x.unsqueeze(0),))
        loss = self.loss_fn(out, y.unsqueeze(0))
        _check_scalar_loss(loss)
        return loss.reshape(())

    def _chunk_sums(self) -> list[Tensor]:
        """Zeroed accumulators in the parameters' dtype, reused: on the CPU a fresh multi-MB
        tensor page-faults and costs more than the arithmetic."""
        if self._chunk_acc is None:
            self._chunk_acc = [torch.zeros_like(p) for p in self.params]
        else:
            torch._foreach_zero_(self._chunk_acc)
        return self._chunk_acc

    def _add(self, squares: Iterable[Tensor]) -> None:
        for acc, sq in zip(self.sums, squares, strict=True):
            acc.add_(sq)  # float64 += any float dtype, without a temporary

    def add_per_sample(self, x: Tensor, y: Tensor) -> None:
        """Add ``Σ_n g_n²`` over the samples of a batch."""
        if self.path == "linear":
            try:
                self._add_linear(x, y)
                self.count += x.shape[0]
                return
            except (RuntimeError, _NotSamplewise):
                self.path = "vmap"  # same result, computed per sample
        for xs, ys in zip(x.split(self.chunk_size), y.split(self.chunk_size), strict=True):
            if self.path == "vmap":
                try:
                    self._add_vmap(xs, ys)
                    continue
                except RuntimeError as exc:
                    self.path = "loop"
                    # an error of the model or the data itself (a wrong dtype …) is raised by
                    # the loop too: only warn about vmap once the loop has run
                    self._add_loop(xs, ys)
                    warnings.warn(
                        f"EWC: torch.func.vmap cannot run {type(self.model).__name__} "
                        f"({str(exc).splitlines()[0][:200]}); computing the Fisher with one "
                        "backward pass per sample instead (slower, same definition)",
                        RuntimeWarning,
                        stacklevel=4,
                    )
                    continue
            self._add_loop(xs, ys)
        self.count += x.shape[0]

    def _per_sample_losses(self, out: Tensor, y: Tensor) -> Tensor:
        def one(o: Tensor, t: Tensor) -> Tensor:
            loss = self.loss_fn(o.unsqueeze(0), t.unsqueeze(0))
            _check_scalar_loss(loss)
            return loss.reshape(())

        return vmap(one)(out, y)

    def _add_linear(self, x: Tensor, y: Tensor) -> None:
        assert self.linears is not None
        seen: dict[nn.Module, tuple[Tensor, Tensor]] = {}

        def keep(module: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
            seen[module] = (args[0], out)

        handles = [m.register_forward_hook(keep) for m, _, _ in self.linears]
        requires = [p.requires_grad for p in self.params]
        try:
            for p in self.params:
                p.requires_grad_(True)
            with torch.enable_grad():
                out = self.model(x)
                if not isinstance(out, Tensor) or out.dim() == 0 or out.shape[0] != x.shape[0]:
                    raise _NotSamplewise
                losses = self._per_sample_losses(out, y)
                outputs = [seen[m][1] for m, _, _ in self.linears]
                deltas = torch.autograd.grad(losses.sum(), outputs)
        finally:
            for h in handles:
                h.remove()
            for p, r in zip(self.params, requires, strict=True):
                p.requires_grad_(r)
        squares: list[tuple[int, Tensor]] = []
        for (m, w, b), delta in zip(self.linears, deltas, strict=True):
            a = seen[m][0]
            if a.dim() != 2 or delta.dim() != 2:  # a sequence axis: the sum of squares differs
                raise _NotSamplewise
            d2 = delta.detach().square()
            squares.append((w, d2.T @ a.detach().square()))
            if b is not None:
                squares.append((b, d2.sum(0)))
        for i, sq in squares:
            self.sums[i].add_(sq)

    def _add_vmap(self, x: Tensor, y: Tensor) -> None:
        params = {n: p.detach() for n, p in zip(self.names, self.params, strict=True)}
        grads = self._per_sample_grad(params, x, y)
        stacked = [grads[n] for n in self.names]
        chunk_sums = self._chunk_sums()
        # In-place accumulation, one sample at a time: a reduction over the sample axis
        # (g.square().sum(0), vector_norm(g, dim=0)) allocates or strides and was several times
        # slower in benchmarks/bench_ewc.py.
        for i in range(x.shape[0]):
            per_sample = [g[i] for g in stacked]
            torch._foreach_addcmul_(chunk_sums, per_sample, per_sample)
        self._add(chunk_sums)

    def _add_loop(self, x: Tensor, y: Tensor) -> None:
        chunk_sums = self._chunk_sums()
        requires = [p.requires_grad for p in self.params]
        try:
            for p in self.params:
                p.requires_grad_(True)
            with torch.enable_grad():
                for i in range(x.shape[0]):
                    try:
                        out = self.model(x[i : i + 1])
                    except (RuntimeError, ValueError) as exc:
                        _raise_if_batch_statistics(self.model, exc)
                        raise
                    loss = self.loss_fn(out, y[i : i + 1])
                    _check_scalar_loss(loss)
                    grads = torch.autograd.grad(loss.reshape(()), self.params, allow_unused=True)
                    per_sample = [
                        torch.zeros_like(p) if g is None else g
                        for p, g in zip(self.params, grads, strict=True)
                    ]
                    torch._foreach_addcmul_(chunk_sums, per_sample, per_sample)
        finally:
            for p, r in zip(self.params, requires, strict=True):
                p.requires_grad_(r)
        self._add(chunk_sums)

    def add_batch_squared(self, x: Tensor, y: Tensor) -> None:
        """Add the square of the batch-mean gradient (the WRONG Fisher; counts one per batch)."""
        with torch.enable_grad():
            loss = self.loss_fn(self.model(x), y)
            _check_scalar_loss(loss)
            grads = torch.autograd.grad(loss.reshape(()), self.params, allow_unused=True)
        self._add(
            torch.zeros_like(s) if g is None else g.double().square()
            for s, g in zip(self.sums, grads, strict=True)
        )
        self.count += 1

    def mean(self) -> list[Tensor]:
        """All-reduce the sums and counts over ranks; return the means in the parameters' dtype."""
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            flat = torch.cat([s.reshape(-1) for s in self.sums])
            flat = torch.cat([flat, flat.new_tensor([float(self.count)])])
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            self.count = int(flat[-1].item())
            sizes = [p.numel() for p in self.params]
            self.sums = [
                s.view_as(p) for s, p in zip(flat[:-1].split(sizes), self.params, strict=True)
            ]
        if self.count == 0:
            raise ValueError("empty dataloader: no samples to compute the Fisher from")
        return [(s / self.count).to(p.dtype) for s, p in zip(self.sums, self.params, strict=True)]


def _fisher(
    model: nn.Module,
    names: Sequence[str],
    dataloader: Iterable[Any],
    loss_fn: LossFn,
    fisher: str,
    max_samples: int | None,
    state: dict[str, str] | None = None,
) -> list[Tensor]:
    if fisher not in _FISHER_KINDS:
        raise ValueError(f"fisher must be one of {_FISHER_KINDS}, got {fisher!r}")
    max_samples = _check_max_samples(max_samples)
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    acc = _FisherAccumulator(model, names, loss_fn)
    if state is not None and "path" in state:
        acc.path = "vmap" if state["path"] == "linear" and acc.linears is None else state["path"]
    saved = {n: b.detach().clone() for n, b in model.named_buffers()}
    slots = [(m, n, p) for m in model.modules() for n, p in m.named_parameters(recurse=False)]
    try:
        for x, y in _batches(dataloader, max_samples, acc.params[0].device):
            if fisher == "batch_squared":
                acc.add_batch_squared(x, y)
            else:
                targets = _sample_labels(model, x) if fisher == "true" else y
                acc.add_per_sample(x, targets)
    finally:
        with torch.no_grad():
            for n, b in model.named_buffers():
                if n in saved:
                    b.copy_(saved[n])
        # torch.func.functional_call (torch 2.13) can leave a module that appears twice in the
        # model holding the swapped-in tensors instead of its Parameters: put them back.
        for m, n, p in slots:
            if getattr(m, n) is not p:
                setattr(m, n, p)
    if state is not None:
        state["path"] = acc.path
    return acc.mean()


def fisher_diagonal(
    model: nn.Module,
    dataloader: Iterable[Any],
    loss_fn: LossFn,
    *,
    fisher: FisherKind = "empirical",
    max_samples: int | None = None,
) -> dict[str, Tensor]:
    """Diagonal Fisher information of the model's parameters that require grad.

    Args:
        model: called as ``model(inputs)``; see the module docstring for the contract.
        dataloader: yields ``(inputs, targets)`` batches (any batch size).
        loss_fn: ``loss_fn(outputs, targets)`` → the negative log-likelihood; scalar on one sample.
        fisher: ``"empirical"`` (gradients at the observed targets, the default), ``"true"``
            (targets sampled from the model's softmax; classification logits only) or
            ``"batch_squared"`` (the square of each batch's mean gradient, averaged over batches:
            the WRONG estimator of popular implementations, for comparisons only).
        max_samples: use at most this many samples (per rank); None (default) uses them all.

    Returns:
        ``{name: F}`` with F the mean over samples of the squared per-sample gradient, in the
        parameter's shape, dtype and device (all-reduced under ``torch.distributed``).
    """
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if not names:
        raise ValueError("the model has no parameter that requires grad")
    return dict(
        zip(names, _fisher(model, names, dataloader, loss_fn, fisher, max_samples), strict=True)
    )


# ----------------------------------------------------------------------------------------------
# Penalty
# ----------------------------------------------------------------------------------------------


class _WeightedSquares(torch.autograd.Function):
    """``Σ_i (r_i (θ_i − c_i))²`` over a list of tensors, with fused ``torch._foreach_*`` ops.

    Hand-written to keep the memory traffic low: the forward keeps ``s = r (θ − c)`` (two fused
    passes, the second in place) and the first backward turns it into the gradient ``2 r s`` in
    place, without allocating. Autograd through the common per-parameter loop allocates about
    five parameter-sized tensors per call and was 1.7-2.4x slower on a 2-core CPU
    (benchmarks/bench_ewc.py); both are bound by memory traffic there. A second backward
    (``retain_graph=True``) recomputes the gradient from θ, and under ``create_graph=True`` (a
    gradient-norm penalty on top) it is built from θ with differentiable ops, so second
    derivatives are exact.
    """

    @staticmethod
    def forward(
        ctx: Any, center: list[Tensor], root: list[Tensor], two_root: list[Tensor], *params: Tensor
    ) -> Tensor:
        scaled = torch._foreach_sub(params, center)
        torch._foreach_mul_(scaled, root)
        ctx.center, ctx.root, ctx.two_root = center, root, two_root
        ctx.scaled = scaled  # this call's own tensors, overwritten by the first backward
        ctx.save_for_backward(*params)
        # Σ s² per tensor with sum()'s cascade summation: torch's CPU norm, powsum and dot
        # accumulate float32 with a relative error up to 1e-3 on a million entries.
        return torch.stack([torch.sum(t * t) for t in scaled]).sum()

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        if torch.is_grad_enabled() or ctx.scaled is None:
            # create_graph=True (differentiable in θ and grad_out), or a second backward
            exact = [
                grad_out * (t * r) * (p - c)
                for p, c, r, t in zip(ctx.saved_tensors, ctx.center, ctx.root, ctx.two_root,
                                      strict=True)
            ]
            return (None, None, None, *exact)
        grads, ctx.scaled = ctx.scaled, None
        torch._foreach_mul_(grads, ctx.two_root)
        # ``loss.backward()`` passes 1: skip a full pass then (.item() is free on the CPU).
        if grad_out.device.type != "cpu" or grad_out.item() != 1.0:
            torch._foreach_mul_(grads, grad_out)
        return (None, None, None, *grads)


def _check_number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _check_lambda(ewc_lambda: float) -> float:
    value = _check_number("ewc_lambda", ewc_lambda)
    if value < 0:
        raise ValueError(f"ewc_lambda must be >= 0, got {ewc_lambda!r}")
    return value


def _check_gamma(gamma: float) -> float:
    value = _check_number("gamma", gamma)
    if not 0 < value <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
    return value


class EWC:
    """Elastic Weight Consolidation with one penalty per consolidated task (Kirkpatrick et al.).

    Args:
        model: the model being trained (for DDP, the wrapped ``ddp.module``).
        ewc_lambda: λ ≥ 0, the weight of the penalty against the new task's loss (no default:
            its scale depends on the data; tune it on held-out tasks).

    Usage::

        ewc = EWC(model, ewc_lambda=100.0)
        for task in tasks:
            for x, y in task.train:
                loss = loss_fn(model(x), y)
                if ewc.num_tasks:
                    loss = loss + ewc.penalty()
                ...
            ewc.consolidate(task.train, loss_fn)

    The penalties of all tasks are folded into one quadratic ``A (θ − m)² + c`` at consolidation
    (A = Σ_t F_t, m = Σ_t F_t θ*_t / A), so `penalty` costs the same for any number of tasks.
    """

    _kind = "separate"

    def __init__(self, model: nn.Module, *, ewc_lambda: float) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self._lambda = _check_lambda(ewc_lambda)
        self._gamma = 1.0  # OnlineEWC's decay; no decay between separate anchors
        self._num_tasks = 0
        self._all_names: tuple[str, ...] = ()  # every parameter at the first consolidation
        self._names: list[str] = []  # the ones anchored (required grad then)
        self._tasks: list[tuple[list[Tensor], list[Tensor]]] = []  # (fisher, anchor) per task
        # the folded penalty Σ r² (θ − m)² + const, see _fold
        self._center: list[Tensor] = []
        self._root: list[Tensor] = []
        self._two_root: list[Tensor] = []
        self._const = 0.0
        # (λA, λA·m) for add_penalty_grad_, built on its first call (two more parameter copies)
        self._grad_terms: tuple[list[Tensor], list[Tensor]] | None = None
        self._fisher_state: dict[str, str] = {}

    # -- configuration ---------------------------------------------------------------------------

    @property
    def ewc_lambda(self) -> float:
        """λ, the weight of the penalty."""
        return self._lambda

    @ewc_lambda.setter
    def ewc_lambda(self, value: float) -> None:
        self._lambda = _check_lambda(value)
        self._fold()

    @property
    def num_tasks(self) -> int:
        """Number of `consolidate` calls so far (stored or folded)."""
        return self._num_tasks

    @property
    def fisher(self) -> dict[str, Tensor]:
        """The Fisher of each anchored parameter, summed over tasks (or the folded online one)."""
        self._require_tasks("fisher")
        total = [torch.stack(fs).sum(0) for fs in zip(*(f for f, _ in self._tasks), strict=True)]
        return dict(zip(self._names, total, strict=True))

    # -- consolidation ---------------------------------------------------------------------------

    def consolidate(
        self,
        dataloader: Iterable[Any],
        loss_fn: LossFn,
        *,
        fisher: FisherKind = "empirical",
        max_samples: int | None = None,
    ) -> None:
        """Store the current parameters as an anchor θ* and the Fisher diagonal at θ*.

        Args:
            dataloader: the task's data, ``(inputs, targets)`` batches (each rank its shard).
            loss_fn: negative log-likelihood, ``loss_fn(outputs, targets)``; scalar on one sample.
            fisher: ``"empirical"`` (default), ``"true"`` or ``"batch_squared"`` (wrong; for
                comparisons); see `fisher_diagonal`.
            max_samples: at most this many samples per rank (default: all).
        """
        if not self._tasks:
            names = [n for n, p in self.model.named_parameters() if p.requires_grad]
            if not names:
                raise ValueError("the model has no parameter that requires grad")
        else:
            self._current_params()  # same parameters, device and dtype as before
            names = self._names
        fisher_values = _fisher(
            self.model, names, dataloader, loss_fn, fisher, max_samples, self._fisher_state
        )
        named_now = dict(self.model.named_parameters())
        anchor = [named_now[n].detach().clone() for n in names]
        if not self._tasks:
            self._all_names = tuple(named_now)
            self._names = list(names)
        self._add_task(fisher_values, anchor)
        self._num_tasks += 1
        self._fold()

    def _add_task(self, fisher: list[Tensor], anchor: list[Tensor]) -> None:
        self._tasks.append((fisher, anchor))

    def _fold(self) -> None:
        """Fold the tasks into ``Σ r² (θ − m)² + const`` with r² = (λ/2) A, in float64.

        ``Σ_t F_t (θ − θ*_t)² = A (θ − m)² + Σ_t F_t (m − θ*_t)²`` with A = Σ_t F_t and
        m = Σ_t F_t θ*_t / A (any m where A = 0).
        """
        self._grad_terms = None
        if not self._tasks:
            return
        half = self._lambda / 2
        self._center, self._root, self._two_root, self._const = [], [], [], 0.0
        for like, total, center, const in self._folded():
            root = (half * total).sqrt()
            self._const += half * const
            self._center.append(center.to(like.dtype))
            self._root.append(root.to(like.dtype))
            self._two_root.append((2 * root).to(like.dtype))

    def _folded(self) -> Iterator[tuple[Tensor, Tensor, Tensor, float]]:
        """Per anchored parameter: (its last anchor, A, m, Σ_t F_t (m − θ*_t)²), in float64."""
        for i, like in enumerate(self._tasks[-1][1]):
            fs = [task[0][i].double() for task in self._tasks]
            anchors = [task[1][i].double() for task in self._tasks]
            if len(fs) == 1:
                yield like, fs[0], anchors[0], 0.0
                continue
            total = torch.stack(fs).sum(0)
            weighted = torch.stack([f * a for f, a in zip(fs, anchors, strict=True)]).sum(0)
            center = torch.where(total > 0, weighted / total.clamp_min(1e-300), anchors[-1])
            const = sum(
                float((f * (a - center).square()).sum()) for f, a in zip(fs, anchors, strict=True)
            )
            yield like, total, center, const

    # -- penalty ---------------------------------------------------------------------------------

    def _require_tasks(self, what: str) -> None:
        if not self._tasks:
            raise RuntimeError(
                f"EWC.{what} needs a consolidated task: call consolidate() after training a task"
            )

    def _current_params(self) -> list[Tensor]:
        """The anchored parameters of the model, checked against the stored state."""
        named = dict(self.model.named_parameters())
        if tuple(named) != self._all_names:
            added = sorted(set(named) - set(self._all_names))
            removed = sorted(set(self._all_names) - set(named))
            raise RuntimeError(
                "the model's parameters changed since consolidation: "
                f"added {added or 'none'}, removed {removed or 'none'}"
                + ("" if added or removed else " (same names, different order)")
            )
        params: list[Tensor] = [named[n] for n in self._names]
        for n, p, c in zip(self._names, params, self._root, strict=True):
            if p.shape != c.shape:
                raise RuntimeError(
                    f"parameter {n!r} was reshaped since consolidation: {tuple(c.shape)} -> "
                    f"{tuple(p.shape)}"
                )
            if p.device != c.device or p.dtype != c.dtype:
                raise RuntimeError(
                    f"parameter {n!r} is on {p.device}/{p.dtype} but the EWC Fisher is on "
                    f"{c.device}/{c.dtype}; after moving the model, call "
                    "ewc.load_state_dict(ewc.state_dict()) to move the EWC state with it"
                )
        return params

    def penalty(self) -> Tensor:
        """``(λ/2) Σ F (θ − θ*)²`` summed over the consolidated tasks, a 0-dim tensor.

        Differentiable with respect to the model's parameters; in the parameters' dtype and on
        their device.
        """
        self._require_tasks("penalty()")
        params = self._current_params()
        value = _WeightedSquares.apply(self._center, self._root, self._two_root, *params)
        return value + self._const if self._const else value

    @torch.no_grad()
    def add_penalty_grad_(self) -> None:
        """Add the gradient of `penalty`, ``λ A (θ − m)``, to every anchored parameter's
        ``.grad`` in place: the fast path, outside autograd, like decoupled weight decay.

        Call it between ``loss.backward()`` (of the loss *without* the penalty) and
        ``optimizer.step()``, once per optimizer step: after ``scaler.unscale_(optimizer)``
        with AMP, before gradient clipping, and under DDP after backward (the averaged
        gradients then receive the same penalty on every rank). A parameter without a
        gradient gets one. The result equals ``(loss + penalty()).backward()`` up to float
        rounding: it is computed as ``λA·θ − λA·m`` in two fused passes without allocating, about
        three times cheaper than `penalty` and its backward (BENCHMARKS.md). Parameters frozen
        since consolidation (``requires_grad=False``) are skipped, as autograd would. It does not
        return the penalty's value: call `penalty` under ``torch.no_grad()`` when logging it.
        """
        self._require_tasks("add_penalty_grad_()")
        params = self._current_params()
        if self._grad_terms is None:
            slope, offset = [], []
            for like, total, center, _const in self._folded():
                lam_total = self._lambda * total
                slope.append(lam_total.to(like.dtype))
                offset.append((lam_total * center).to(like.dtype))
            self._grad_terms = slope, offset
        slope, offset = self._grad_terms
        if not all(p.requires_grad for p in params):  # frozen since: no gradient, as in autograd
            kept = [i for i, p in enumerate(params) if p.requires_grad]
            params = [params[i] for i in kept]
            slope, offset = [slope[i] for i in kept], [offset[i] for i in kept]
            if not params:
                return
        grads: list[Tensor] = []
        for p in params:
            g = p.grad
            if g is None:
                g = p.grad = torch.zeros_like(p)
            grads.append(g)
        torch._foreach_addcmul_(grads, params, slope)
        torch._foreach_sub_(grads, offset)

    # -- state -----------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """λ, γ, the parameter names and each stored task's Fisher and anchor (lists of tensors,
        in the order of ``names``). Loadable with ``torch.load(..., weights_only=True)``."""
        return {
            "version": _STATE_VERSION,
            "kind": self._kind,
            "ewc_lambda": self._lambda,
            "gamma": self._gamma,
            "num_tasks": self._num_tasks,
            "all_names": list(self._all_names),
            "names": list(self._names),
            "tasks": [{"fisher": list(f), "anchor": list(a)} for f, a in self._tasks],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict`; the tensors are cast to the device and dtype of the model's
        corresponding parameters (so the model may have moved since the state was saved)."""
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict, got {type(state).__name__}")
        keys = {
            "version",
            "kind",
            "ewc_lambda",
            "gamma",
            "num_tasks",
            "all_names",
            "names",
            "tasks",
        }
        missing = sorted(keys - set(state))
        if missing:
            raise ValueError(f"EWC state is missing {missing}")
        if state["version"] != _STATE_VERSION:
            raise ValueError(f"unsupported EWC state version {state['version']!r}")
        if state["kind"] != self._kind:
            raise ValueError(
                f"EWC state of kind {state['kind']!r} cannot be loaded into {type(self).__name__} "
                f"(kind {self._kind!r})"
            )
        ewc_lambda = _check_lambda(state["ewc_lambda"])
        gamma = _check_gamma(state["gamma"])
        named = dict(self.model.named_parameters())
        all_names, names = tuple(state["all_names"]), list(state["names"])
        if not state["tasks"]:  # the state of an EWC before its first consolidation
            self._lambda, self._gamma, self._num_tasks = ewc_lambda, gamma, 0
            self._all_names, self._names, self._tasks = (), [], []
            self._center, self._root, self._two_root, self._const = [], [], [], 0.0
            self._grad_terms = None
            return
        if all_names != tuple(named):
            added = sorted(set(named) - set(all_names))
            removed = sorted(set(all_names) - set(named))
            raise ValueError(
                "EWC state does not match the model's parameters: the model has extra "
                f"{added or 'none'} and lacks {removed or 'none'}"
            )
        tasks: list[tuple[list[Tensor], list[Tensor]]] = []
        for t, task in enumerate(state["tasks"]):
            loaded = []
            for key in ("fisher", "anchor"):
                tensors = task[key]
                if len(tensors) != len(names):
                    raise ValueError(
                        f"EWC state task {t}: {len(tensors)} {key} tensors for "
                        f"{len(names)} parameters"
                    )
                for n, tensor in zip(names, tensors, strict=True):
                    if tuple(tensor.shape) != tuple(named[n].shape):
                        raise ValueError(
                            f"EWC state task {t}: {key} of {n!r} has shape {tuple(tensor.shape)}, "
                            f"the parameter {tuple(named[n].shape)}"
                        )
                loaded.append(
                    [
                        tensor.detach().to(named[n].device, named[n].dtype, copy=True)
                        for n, tensor in zip(names, tensors, strict=True)
                    ]
                )
            tasks.append((loaded[0], loaded[1]))
        self._lambda, self._gamma = ewc_lambda, gamma
        self._all_names, self._names, self._tasks = all_names, names, tasks
        self._num_tasks = int(state["num_tasks"])
        self._fold()


class OnlineEWC(EWC):
    """Online EWC (Schwarz et al., 2018): one running Fisher and the latest anchor.

    At each `consolidate`, ``F ← γ F + F_new`` and ``θ* ← θ_new``; the penalty is
    ``(λ/2) Σ F (θ − θ*)²``. Memory and cost stay those of a single task.

    Args:
        model: the model being trained.
        ewc_lambda: λ ≥ 0, the weight of the penalty.
        gamma: γ in (0, 1], the decay of the old Fisher at each new task (default 1.0: no decay).
    """

    _kind = "online"

    def __init__(self, model: nn.Module, *, ewc_lambda: float, gamma: float = 1.0) -> None:
        super().__init__(model, ewc_lambda=ewc_lambda)
        self._gamma = _check_gamma(gamma)

    @property
    def gamma(self) -> float:
        """γ, the decay of the old Fisher at each consolidation."""
        return self._gamma

    def _add_task(self, fisher: list[Tensor], anchor: list[Tensor]) -> None:
        if self._tasks:
            old, _ = self._tasks[0]
            fisher = [self._gamma * f_old + f for f_old, f in zip(old, fisher, strict=True)]
        self._tasks = [(fisher, anchor)]

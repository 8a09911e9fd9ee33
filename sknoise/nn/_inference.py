"""Monte-Carlo inference: T noisy passes with common random numbers, chunked over rows and passes.

Like the rest of the torch side, this module imports neither scikit-learn nor skorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._layers import InferenceNoise, monte_carlo

__all__ = ["MAX_BATCH_ROWS", "PRECISIONS", "ChunkPlan", "autocast", "plan_chunks", "PassStatistics", "predict_passes"]


# Past this many rows in one forward pass bigger chunks stop paying off while memory
# keeps growing: on the CPU the activations fall out of the caches, and on a GPU the
# uncapped budget's larger chunks ran at a smaller share of the matmul rate
# (benchmarks/results/mlp_speed_cuda.md).
MAX_BATCH_ROWS = 65536


#: Arithmetic of the forward passes: plain float32, or bfloat16 autocast.
PRECISIONS = ("float32", "bfloat16")


def autocast(device: torch.device | str, precision: str):
    """The context of a forward pass in ``precision`` on ``device``.

    ``'bfloat16'`` is :func:`torch.autocast` to bfloat16: matrix products run in
    bfloat16 (about twice the rate on GPUs and recent CPUs, half the memory traffic),
    reductions and losses in float32; weights, gradients and optimizer state stay
    float32. ``'float32'`` changes nothing.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}.")
    if precision == "float32":
        return nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


@dataclass(frozen=True)
class ChunkPlan:
    """How many rows, and how many of the T passes, one forward pass holds."""

    rows: int
    passes: int


def plan_chunks(
    n_passes: int,
    layer_widths: Sequence[int],
    memory_budget_bytes: float,
    itemsize: int = 4,
) -> ChunkPlan:
    """Chunk sizes that keep one forward pass of Monte-Carlo inference within a memory budget.

    One row-pass costs the input copy plus the tensors alive at the widest layer (its
    pre-activation, its output and one draw): ``itemsize * (widths[0] + 3 * max(widths))``
    bytes. A chunk holds whole rows with all their passes while the budget (and
    :data:`MAX_BATCH_ROWS` row-passes) allows; when not even one row with all its
    passes fits, it holds one row and as many passes as fit. At least one row-pass.

    Parameters
    ----------
    n_passes : int
        Number of Monte-Carlo passes ``T``.
    layer_widths : sequence of int
        Width of the input, of each hidden layer and of the output (per row).
    memory_budget_bytes : float
        Bound on the memory of one chunk's forward pass (may be ``inf``).
    itemsize : int, default=4
        Bytes per element (float32).

    Returns
    -------
    ChunkPlan
    """
    per_row_pass = itemsize * (layer_widths[0] + 3 * max(layer_widths))
    row_passes = min(memory_budget_bytes / per_row_pass, MAX_BATCH_ROWS)
    if not math.isfinite(row_passes) or row_passes >= n_passes:
        return ChunkPlan(rows=max(1, int(row_passes // n_passes)), passes=n_passes)
    return ChunkPlan(rows=1, passes=max(1, int(row_passes)))


class PassStatistics:
    """Statistics over the T passes, accumulated chunk of passes by chunk of passes in float64.

    Parameters
    ----------
    kinds : dict of str to {'mean', 'mean_std', 'logmeanexp', 'passes'}
        For each named per-pass value: its mean; its mean and standard deviation
        (``name`` and ``name + '_std'``); ``log mean_t exp(value_t)``; or every pass
        kept, ``(rows, passes, ...)`` (for small calibration samples).
    """

    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds
        self.n = 0
        self.sums: dict[str, torch.Tensor] = {}
        self.squares: dict[str, torch.Tensor] = {}
        self.kept: dict[str, list[torch.Tensor]] = {}

    def add(self, values: dict[str, torch.Tensor]) -> None:
        """Add the values of one chunk of passes, each of shape ``(passes, rows, ...)``."""
        for name, kind in self.kinds.items():
            v = values[name].double()
            if kind == "passes":
                self.kept.setdefault(name, []).append(v)
                continue
            if kind == "logmeanexp":
                part = torch.logsumexp(v, dim=0)
                self.sums[name] = part if name not in self.sums else torch.logaddexp(self.sums[name], part)
                continue
            self.sums[name] = v.sum(dim=0) + self.sums.get(name, 0.0)
            if kind == "mean_std":
                self.squares[name] = v.square().sum(dim=0) + self.squares.get(name, 0.0)
        self.n += len(next(iter(values.values())))

    def result(self) -> dict[str, torch.Tensor]:
        """The statistics, each of shape ``(rows, ...)``."""
        out = {}
        for name, kind in self.kinds.items():
            if kind == "passes":
                out[name] = torch.cat(self.kept[name]).movedim(0, 1)
                continue
            if kind == "logmeanexp":
                out[name] = self.sums[name] - math.log(self.n)
                continue
            mean = self.sums[name] / self.n
            out[name] = mean
            if kind == "mean_std":
                out[f"{name}_std"] = (self.squares[name] / self.n - mean.square()).clamp_(min=0).sqrt_()
        return out


# CPU matrix products of fewer rows than this, or of a row count that is not a multiple
# of 8, may take another kernel and round a row's result differently in the last bit
# (seen with torch 2.13's CPU build: batched products of up to 16 rows when the inner
# dimension is small); padding every chunk to such a size makes a row's prediction the
# same whatever else is predicted with it.
_ROW_QUANTUM = 8
_MIN_ROWS = 32


def _pad_rows(chunk: torch.Tensor, limit: int) -> torch.Tensor:
    """The chunk padded (with copies of its last row) up to a safe row count, within the plan's ``limit``."""
    rows = min(limit, max(_MIN_ROWS, -(-len(chunk) // _ROW_QUANTUM) * _ROW_QUANTUM))
    if rows <= len(chunk):
        return chunk
    return torch.cat([chunk, chunk[-1:].expand(rows - len(chunk), *chunk.shape[1:])])


def predict_passes(
    module: nn.Module,
    X: torch.Tensor,
    *,
    n_passes: int,
    noise: InferenceNoise | None,
    seed: int,
    plan: ChunkPlan,
    device: torch.device | str,
    per_pass: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    kinds: dict[str, str],
    precision: str = "float32",
) -> dict[str, np.ndarray]:
    """Run ``n_passes`` forward passes of ``module`` over every row of ``X`` and reduce them.

    The rows of a chunk enter the network once; with Monte-Carlo ``noise`` the network
    broadcasts them to the chunk's passes at its first noise source (see
    :mod:`sknoise._layers`). ``per_pass`` maps the network's output, reshaped to
    ``(passes, rows, ...)``, to named per-pass values, which :class:`PassStatistics`
    reduces over all ``n_passes`` passes. The results fill float64 arrays allocated
    once (collecting chunks and concatenating them made the peak memory grow with the
    number of chunks).

    Parameters
    ----------
    module : nn.Module
        In eval mode.
    X : torch.Tensor of shape (n_rows, n_features)
    n_passes : int
        1 for a deterministic network.
    noise : InferenceNoise or None
        None: deterministic passes (no Monte-Carlo context).
    seed : int
        Seed of the Monte-Carlo draws.
    plan : ChunkPlan
    device : torch.device or str
    per_pass : callable
    kinds : dict
        See :class:`PassStatistics`.
    precision : {'float32', 'bfloat16'}, default='float32'
        Arithmetic of the forward passes (see :func:`autocast`); the per-pass values
        are computed from float32 outputs either way.

    Returns
    -------
    dict of str to ndarray
        Each of shape ``(n_rows, ...)``.
    """
    outputs: dict[str, np.ndarray] = {}
    context = nullcontext() if noise is None else monte_carlo(module, noise, seed)
    with torch.no_grad(), context as mc:
        for start in range(0, len(X), plan.rows):
            chunk = X[start : start + plan.rows].to(device, non_blocking=True)
            n_rows = len(chunk)
            chunk = _pad_rows(chunk, plan.rows)
            stats = PassStatistics(kinds)
            for first in range(0, n_passes, plan.passes):
                passes = min(plan.passes, n_passes - first)
                if mc is not None:
                    mc.set_chunk(len(chunk), passes, first)
                with autocast(device, precision):
                    out = module(chunk)
                stats.add(per_pass(out.float().reshape(-1, len(chunk), *out.shape[1:])[:, :n_rows]))
            for name, value in stats.result().items():
                if name not in outputs:
                    outputs[name] = np.empty((len(X), *value.shape[1:]), dtype=np.float64)
                outputs[name][start : start + n_rows] = value.cpu().numpy()
    return outputs

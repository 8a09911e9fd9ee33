"""Monte-Carlo inference: T noisy forward passes, vectorized over T and chunked over rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

__all__ = ["rows_per_chunk", "monte_carlo_passes"]


# Past this many rows in one forward pass bigger chunks stop paying off while memory
# keeps growing: on the CPU the activations fall out of the caches, and on an H100 the
# uncapped budget's 328k-row chunks ran at 13% of the matmul rate against 19% for
# 65k-row ones (benchmarks/bench_mlp_speed.py --device cuda).
MAX_BATCH_ROWS = 65536


def rows_per_chunk(
    n_passes: int,
    layer_widths: Sequence[int],
    memory_budget_bytes: float,
    itemsize: int = 4,
) -> int:
    """How many input rows one vectorized chunk of ``n_passes`` passes may hold.

    One row costs, for each of its ``n_passes`` copies, the input copy plus the
    tensors alive at the widest layer (its pre-activation, its output and one noise
    draw), so ``itemsize * n_passes * (widths[0] + 3 * max(widths))`` bytes. A chunk
    also stays within :data:`MAX_BATCH_ROWS` rows of passes (``rows * n_passes``).

    Parameters
    ----------
    n_passes : int
        Number of Monte-Carlo passes ``T``.
    layer_widths : sequence of int
        Width of the input, of each hidden layer and of the output.
    memory_budget_bytes : float
        Bound on the memory of one chunk's forward pass.
    itemsize : int, default=4
        Bytes per element (float32).

    Returns
    -------
    int
        At least 1.
    """
    per_row = itemsize * n_passes * (layer_widths[0] + 3 * max(layer_widths))
    return max(1, min(int(memory_budget_bytes // per_row), MAX_BATCH_ROWS // n_passes))


def monte_carlo_passes(
    module: nn.Module,
    X: torch.Tensor,
    n_passes: int,
    chunk_rows: int,
    device: torch.device | str,
    reduce: Callable[[torch.Tensor], tuple[torch.Tensor, ...]],
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Run ``n_passes`` forward passes of ``module`` on every row of ``X``, chunk by chunk.

    Each chunk of rows is repeated ``n_passes`` times into one batch, so the passes
    run as one large matrix product rather than a Python loop; the module's output
    of shape ``(n_passes * rows, ...)`` is reshaped to ``(n_passes, rows, ...)`` and
    handed to ``reduce``, whose results are yielded (on the CPU) chunk by chunk.

    Parameters
    ----------
    module : nn.Module
        Already in eval mode with its inference noise set.
    X : torch.Tensor of shape (n_rows, n_features)
        Input rows, on any device.
    n_passes : int
        Number of passes ``T`` (1 for a deterministic network).
    chunk_rows : int
        Rows per chunk (see :func:`rows_per_chunk`).
    device : torch.device or str
        Device of the module.
    reduce : callable
        Maps the ``(n_passes, rows, ...)`` output of a chunk to a tuple of tensors
        whose first dimension is ``rows``.
    """
    with torch.no_grad():
        for start in range(0, len(X), chunk_rows):
            chunk = X[start : start + chunk_rows].to(device, non_blocking=True)
            batch = chunk.repeat(n_passes, *([1] * (chunk.dim() - 1))) if n_passes > 1 else chunk
            out = module(batch)
            out = out.reshape(n_passes, len(chunk), *out.shape[1:])
            yield tuple(t.cpu() for t in reduce(out))

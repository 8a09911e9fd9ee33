"""Fitting the preprocessing on a dask DataFrame with dask's own reductions.

Each partition is summarized where it lives (a :class:`~._summary.TableSummary`: kinds,
missing values, categories with counts, numeric moments and a sample), the summaries
are merged pairwise in a tree on the cluster, and only the merged one comes back: the
same statistics as ``partial_fit`` over the partitions in order (up to rounding in the
means and variances), without the rows ever leaving the workers.
"""

from __future__ import annotations

from ._summary import TableSummary

__all__ = ["summarize_dask_frame"]


def _summarize(partition, index: int) -> TableSummary:
    return TableSummary.of(partition, chunk=index)


def _merge(a: TableSummary, b: TableSummary) -> TableSummary:
    return a.merge(b)


def summarize_dask_frame(frame) -> TableSummary:
    """The merged summary of every partition of a dask DataFrame (computed on its scheduler)."""
    import dask

    level = [dask.delayed(_summarize)(part, i) for i, part in enumerate(frame.to_delayed())]
    if not level:
        raise ValueError("The dask DataFrame has no partitions.")
    while len(level) > 1:
        pairs = [dask.delayed(_merge)(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    summary = level[0].compute()
    if summary.n_rows == 0:
        raise ValueError("The dask DataFrame has no rows.")
    return summary

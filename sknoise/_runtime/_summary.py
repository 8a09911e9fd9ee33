"""Mergeable statistics of a table, or of chunks of one: what the preprocessing is fitted from.

A :class:`TableSummary` of a chunk holds, for every column, its kind, its missing values,
its categories with their counts (categorical columns), and for numeric columns the
count, mean and sum of squared deviations of the observed values plus a uniform random
sample of at most :data:`SAMPLE_SIZE` of them. Two summaries merge into the summary of
both chunks: counts and categories add up exactly, means and variances merge exactly up
to floating-point rounding (Chan, Golub and LeVeque's pairwise update), and the samples
keep the values with the smallest of the random keys every row draws, which is a
uniform sample of all the rows merged, the same whichever way the chunks are grouped.
While a column has at most :data:`SAMPLE_SIZE` observed values the sample is all of
them, so its quantiles are exact.

The keys of chunk ``i`` come from a generator seeded with ``i``: summaries of the same
chunks give the same sample whether they were merged one by one (``partial_fit``) or
as a tree (a dask reduction).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._columns import CATEGORICAL, NUMERIC, column_kind, count_categories

__all__ = ["SAMPLE_SIZE", "NumericStats", "ColumnSummary", "TableSummary", "numeric_values"]

#: Observed values kept per numeric column for the quantiles of incremental fits.
SAMPLE_SIZE = 100_000


def numeric_values(frame: pd.DataFrame, columns: list) -> np.ndarray:
    """``frame[columns]`` as one new floating array, converted as scikit-learn converts a DataFrame.

    float32 when every column is (or their common type is), float64 otherwise (integer
    columns, pandas' nullable dtypes, whose missing values become NaN).
    """
    dtypes = [frame[c].dtype for c in columns]
    if all(isinstance(d, np.dtype) for d in dtypes):
        dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
        dtype = dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)
        return frame[columns].to_numpy(dtype=dtype, copy=True)
    return frame[columns].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)


def _bottom(keys: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` values of smallest key (all of them when there are at most ``k``)."""
    if len(keys) <= k:
        return keys, values
    keep = np.argpartition(keys, k - 1)[:k]
    return keys[keep], values[keep]


@dataclass
class NumericStats:
    """Count, mean and sum of squared deviations of a column's observed values, and a sample of them."""

    n: int
    mean: float
    m2: float
    keys: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray, keys: np.ndarray) -> NumericStats:
        observed = ~np.isnan(values)
        values, keys = values[observed], keys[observed]
        n = len(values)
        mean = float(values.mean()) if n else 0.0
        m2 = float(np.square(values - mean).sum()) if n else 0.0
        keys, values = _bottom(keys, values, SAMPLE_SIZE)
        return cls(n, mean, m2, keys, values)

    def merge(self, other: NumericStats) -> NumericStats:
        n = self.n + other.n
        if n == 0:
            return self
        delta = other.mean - self.mean
        mean = self.mean + delta * other.n / n
        m2 = self.m2 + other.m2 + delta * delta * self.n * other.n / n
        keys, values = _bottom(np.concatenate([self.keys, other.keys]),
                               np.concatenate([self.values, other.values]), SAMPLE_SIZE)
        return NumericStats(n, mean, m2, keys, values)

    @property
    def variance(self) -> float:
        return self.m2 / self.n if self.n else 0.0


@dataclass
class ColumnSummary:
    """One column of a :class:`TableSummary`."""

    #: The dtype of the first chunk (what decides the kind of a column never observed).
    first_dtype: object
    n_missing: int = 0
    #: The kind and dtype of the first chunk with an observed value (None until there is one).
    kind: str | None = None
    dtype: object = None
    #: The common numpy type of its numeric chunks (None: a pandas extension dtype among them).
    numeric_dtype: np.dtype | None = None
    numbers: NumericStats | None = None
    counts: dict = field(default_factory=dict)

    @property
    def final_kind(self) -> str:
        if self.kind is not None:
            return self.kind
        return column_kind(pd.Series([], dtype=self.first_dtype))

    @property
    def shown_dtype(self):
        return self.first_dtype if self.dtype is None else self.dtype


def _numeric_type(dtype) -> np.dtype | None:
    return dtype if isinstance(dtype, np.dtype) else None


def _merge_numeric_type(a, b):
    if a is None or b is None:
        return None
    return np.result_type(a, b)


@dataclass
class TableSummary:
    """Mergeable statistics of the rows of a table seen so far (see the module docstring)."""

    columns: list
    n_rows: int
    n_chunks: int
    summaries: list[ColumnSummary]
    #: Whether numeric columns carry their statistics (a fit on the whole table computes them from it).
    with_numbers: bool = True

    @classmethod
    def of(cls, frame: pd.DataFrame, chunk: int = 0, with_numbers: bool = True) -> TableSummary:
        """The summary of one chunk, the ``chunk``-th (which seeds its sample's random keys)."""
        keys = np.random.default_rng(chunk).random(len(frame)) if with_numbers else None
        summaries = []
        for name in frame.columns:
            series = frame[name]
            summary = ColumnSummary(series.dtype)
            kind = column_kind(series)
            if kind == CATEGORICAL:
                summary.counts, summary.n_missing = count_categories(series)
            else:
                summary.numeric_dtype = _numeric_type(series.dtype)
                if with_numbers:
                    values = numeric_values(frame, [name]).ravel().astype(np.float64, copy=False)
                    summary.numbers = NumericStats.of(values, keys)
                    summary.n_missing = len(frame) - summary.numbers.n
                else:
                    summary.n_missing = int(series.isna().sum())
            if summary.n_missing < len(frame):
                summary.kind, summary.dtype = kind, series.dtype
            summaries.append(summary)
        return cls(list(frame.columns), len(frame), 1, summaries, with_numbers)

    def merge(self, other: TableSummary) -> TableSummary:
        """The summary of this summary's rows and ``other``'s (raises when their columns disagree)."""
        if not (self.with_numbers and other.with_numbers):
            raise ValueError("A summary without the numeric statistics cannot be merged.")
        if list(self.columns) != list(other.columns):
            raise ValueError(
                f"Every chunk must have the same columns in the same order; got {list(other.columns)} "
                f"after {list(self.columns)}."
            )
        merged = [_merge_columns(name, a, b) for name, a, b in zip(self.columns, self.summaries, other.summaries)]
        return TableSummary(list(self.columns), self.n_rows + other.n_rows, self.n_chunks + other.n_chunks, merged)


def _merge_columns(name, a: ColumnSummary, b: ColumnSummary) -> ColumnSummary:
    if a.kind is not None and b.kind is not None and a.kind != b.kind:
        raise ValueError(
            f"Column {name!r} is {a.kind} ({a.dtype}) in some chunks and {b.kind} ({b.dtype}) in others; "
            "give it the same dtype in every chunk."
        )
    first = a if a.kind is not None else b
    out = ColumnSummary(a.first_dtype, a.n_missing + b.n_missing, first.kind, first.dtype)
    kind = out.final_kind
    if kind == NUMERIC:
        numeric = [s for s in (a, b) if s.kind == NUMERIC or (s.kind is None and s.numbers is not None)]
        out.numeric_dtype = numeric[0].numeric_dtype if numeric else None
        for s in numeric[1:]:
            out.numeric_dtype = _merge_numeric_type(out.numeric_dtype, s.numeric_dtype)
        stats = [s.numbers for s in numeric if s.numbers is not None]
        out.numbers = stats[0] if stats else None
        for s in stats[1:]:
            out.numbers = out.numbers.merge(s)
    counts = dict(a.counts)
    for value, count in b.counts.items():
        counts[value] = counts.get(value, 0) + count
    out.counts = counts
    return out

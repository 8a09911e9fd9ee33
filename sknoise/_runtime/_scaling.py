"""Scaling of the numeric columns: fitted statistics as plain arrays, applied here.

- ``'robust'``: ``(x - median) / (IQR / 1.349)`` (the interquartile range scaled to a
  normal column's standard deviation), then the smooth clip ``z / sqrt(1 + (z / 3)^2)``;
- ``'standard'``: ``(x - mean) / std``;
- ``'quantile'``: through the column's quantiles (at most 1000) to a standard normal,
  as scikit-learn's ``QuantileTransformer(output_distribution='normal')``.

A fit on a whole table computes the statistics with scikit-learn's scalers (the
quantile transform from a random sample of 100,000 rows, as scikit-learn's default);
an incremental fit computes them from a :class:`~._summary.TableSummary` (medians and
quantiles from its sample of each column, means and variances merged exactly). A
missing value stays NaN; the preprocessing makes it the column's centre, 0, afterwards.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.preprocessing import QuantileTransformer, RobustScaler, StandardScaler

from ._summary import SAMPLE_SIZE, NumericStats

__all__ = ["NUMERIC_SCALINGS", "NumericScaling", "smooth_clip"]

NUMERIC_SCALINGS = ("robust", "quantile", "standard")
_N_QUANTILES = 1000
#: How close to the first or last quantile a value maps to the bounds (scikit-learn's value).
_BOUNDS_THRESHOLD = 1e-7
_ARRAYS = {"robust": ("center", "scale"), "standard": ("center", "scale"), "quantile": ("quantiles", "references")}


def smooth_clip(z: np.ndarray, bound: float = 3.0, in_place: bool = False) -> np.ndarray:
    """``z / sqrt(1 + (z / bound)^2)``: the identity near 0, bounded by ``±bound`` (outliers tamed).

    Keeps a floating dtype and makes one scratch array of ``z``'s size; ``in_place``
    writes the result into ``z`` (a floating array the caller owns) instead of it.
    """
    z = np.atleast_1d(np.asarray(z))
    if not np.issubdtype(z.dtype, np.floating):
        z, in_place = z.astype(np.float64), True
    scale = np.divide(z, bound)
    np.square(scale, out=scale)
    scale += 1.0
    np.sqrt(scale, out=scale)
    return np.divide(z, scale, out=z if in_place else scale)


def _quantile_transformer(n_quantiles: int) -> QuantileTransformer:
    return QuantileTransformer(n_quantiles=n_quantiles, output_distribution="normal", subsample=SAMPLE_SIZE,
                               random_state=0)


@dataclass
class NumericScaling:
    """The fitted scaling of the scaled columns, one entry (or quantile column) per column."""

    kind: str
    #: 'robust' and 'standard': the centre and scale of each column.
    center: np.ndarray | None = None
    scale: np.ndarray | None = None
    #: 'quantile': the quantiles of each column (one column each) at ``references`` in [0, 1].
    quantiles: np.ndarray | None = None
    references: np.ndarray | None = None

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit_table(cls, kind: str, X: pd.DataFrame) -> NumericScaling:
        """Exact statistics of the observed values of a table's columns (scikit-learn's scalers)."""
        if kind == "robust":
            scaler = RobustScaler(unit_variance=True).fit(X)
            return cls(kind, center=scaler.center_, scale=scaler.scale_)
        if kind == "standard":
            scaler = StandardScaler().fit(X)
            return cls(kind, center=scaler.mean_, scale=scaler.scale_)
        with warnings.catch_warnings():
            # n_quantiles is capped at the number of rows, as intended: no need to say so.
            warnings.filterwarnings("ignore", message="n_quantiles", category=UserWarning)
            scaler = _quantile_transformer(_N_QUANTILES).fit(X)
        return cls(kind, quantiles=scaler.quantiles_, references=scaler.references_)

    @classmethod
    def fit_summary(cls, kind: str, columns: list[NumericStats], n_rows: int, dtype) -> NumericScaling:
        """Statistics from the summaries of the columns of ``n_rows`` rows, computed in ``dtype``.

        Medians and quantiles come from each column's sample: the same values as
        :meth:`fit_table` on the table while the table has at most ``SAMPLE_SIZE`` rows.
        """
        if kind == "standard":
            mean = np.array([c.mean for c in columns], dtype=np.float64)
            var = np.array([c.variance for c in columns], dtype=np.float64)
            n = np.array([c.n for c in columns], dtype=np.float64)
            eps = np.finfo(np.float64).eps
            # Near-constant columns (within the rounding of the variance) keep scale 1, as scikit-learn's.
            constant = var <= n * eps * var + (n * mean * eps) ** 2
            scale = np.sqrt(var)
            scale[constant] = 1.0
            return cls(kind, center=mean, scale=scale)
        # The samples side by side, padded with NaN (missing) to the rows a table fit would see.
        rows = max(min(n_rows, SAMPLE_SIZE), max((len(c.values) for c in columns), default=1), 1)
        table = np.full((rows, len(columns)), np.nan, dtype=dtype)
        for j, column in enumerate(columns):
            table[: len(column.values), j] = column.values
        if kind == "robust":
            scaler = RobustScaler(unit_variance=True).fit(table)
            return cls(kind, center=scaler.center_, scale=scaler.scale_)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="n_quantiles", category=UserWarning)
            scaler = _quantile_transformer(min(_N_QUANTILES, n_rows)).fit(table)
        return cls(kind, quantiles=scaler.quantiles_, references=scaler.references_)

    # ------------------------------------------------------------------ applying
    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scale a floating array of the columns, in place (missing values stay NaN)."""
        if self.kind == "quantile":
            for j in range(X.shape[1]):
                X[:, j] = self._quantile_column(X[:, j], self.quantiles[:, j])
            return X
        if self.kind == "standard":
            # In the array's own precision, as scikit-learn's StandardScaler.
            X -= self.center.astype(X.dtype)
            X /= self.scale.astype(X.dtype)
            return X
        X -= self.center
        X /= self.scale
        smooth_clip(X, in_place=True)
        return X

    def _quantile_column(self, x: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
        """One column through its quantiles to a standard normal (``x`` is overwritten)."""
        references = self.references
        with np.errstate(invalid="ignore"):
            below = x - _BOUNDS_THRESHOLD < quantiles[0]
            above = x + _BOUNDS_THRESHOLD > quantiles[-1]
        observed = ~np.isnan(x)
        values = x[observed]
        # The mean of the interpolations upwards and downwards: repeated quantiles map to their middle.
        upward = np.interp(values, quantiles, references)
        downward = np.interp(-values, -quantiles[::-1], -references[::-1])
        x[observed] = 0.5 * (upward - downward)
        x[above] = 1
        x[below] = 0
        with np.errstate(invalid="ignore"):
            z = stats.norm.ppf(x)
            # Bounded so that the extreme quantiles do not map to infinity.
            low = stats.norm.ppf(_BOUNDS_THRESHOLD - np.spacing(1))
            high = stats.norm.ppf(1 - (_BOUNDS_THRESHOLD - np.spacing(1)))
            return np.clip(z, low, high)

    # ------------------------------------------------------------------ state
    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name)) for name in _ARRAYS[self.kind]}

    @classmethod
    def from_arrays(cls, kind: str, arrays: dict, n_columns: int) -> NumericScaling:
        """Rebuild from :meth:`arrays`, checking names, dtypes and shapes (ValueError otherwise)."""
        if kind not in _ARRAYS:
            raise ValueError(f"Unknown numeric scaling {kind!r}; one of {list(_ARRAYS)}.")
        names = _ARRAYS[kind]
        if set(arrays) != set(names):
            raise ValueError(f"The {kind!r} scaling needs the arrays {list(names)}; got {sorted(arrays)}.")
        for name in names:
            array = arrays[name]
            if not isinstance(array, np.ndarray) or array.dtype not in (np.float32, np.float64):
                raise ValueError(f"Array {name!r} must be a float32 or float64 numpy array.")
            if not np.isfinite(array).all():
                raise ValueError(f"Array {name!r} holds NaN or infinity.")
        if kind == "quantile":
            quantiles, references = arrays["quantiles"], arrays["references"]
            if references.ndim != 1 or len(references) < 1 or quantiles.shape != (len(references), n_columns):
                raise ValueError(
                    f"quantiles must have shape (n_quantiles, {n_columns}) and references (n_quantiles,); got "
                    f"{quantiles.shape} and {references.shape}."
                )
            return cls(kind, quantiles=quantiles, references=references)
        for name in names:
            if arrays[name].shape != (n_columns,):
                raise ValueError(f"Array {name!r} must have shape ({n_columns},); got {arrays[name].shape}.")
        if np.any(arrays["scale"] <= 0):
            raise ValueError("Array 'scale' must be positive.")
        return cls(kind, center=arrays["center"], scale=arrays["scale"])

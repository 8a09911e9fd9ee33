"""Any DataFrame in: pandas as it is, polars, pyarrow and other eager frames through narwhals.

The preprocessing works on pandas. Other eager DataFrames (polars, pyarrow tables,
modin, ...) are read through narwhals, the dataframe-agnostic layer scikit-learn's
ecosystem uses: their schema is checked in their own types (dates, times and durations
refused by name, nested values refused, decimals read as floats) and they are then
converted to pandas, where categories (strings, categoricals, enums, booleans) keep
their kind. A dask DataFrame is a lazy frame: :class:`TablePreprocessor` fits on one
with dask's own reductions (``_dask``); the estimators take its partitions (pandas)
one ``partial_fit`` at a time.
"""

from __future__ import annotations

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
from narwhals.dependencies import is_dask_dataframe

__all__ = ["is_frame", "is_dask_frame", "to_pandas", "numeric_column", "temporal_columns", "check_dense_frame"]


def is_dask_frame(X) -> bool:
    return is_dask_dataframe(X)


def _narwhals_frame(X):
    """``X`` as an eager narwhals DataFrame, or None when it is not a DataFrame narwhals knows."""
    if isinstance(X, (pd.DataFrame, np.ndarray)):
        return None
    try:
        frame = nw.from_native(X, eager_only=True, pass_through=True)
    except TypeError:
        return None
    return frame if isinstance(frame, nw.DataFrame) else None


def is_frame(X) -> bool:
    """Whether ``X`` is a DataFrame (pandas, or any eager frame narwhals reads)."""
    return isinstance(X, pd.DataFrame) or _narwhals_frame(X) is not None


def temporal_columns(X) -> list[tuple[object, str]]:
    """The (name, dtype) of every column of dates, times or durations of a DataFrame of any kind."""
    if isinstance(X, pd.DataFrame) or hasattr(getattr(X, "dtypes", None), "items"):
        return [(name, str(dtype)) for name, dtype in X.dtypes.items()
                if getattr(dtype, "kind", "") in "mM" or str(dtype).startswith("period")]
    frame = _narwhals_frame(X)
    if frame is None:
        return []
    return [(name, str(dtype)) for name, dtype in frame.schema.items() if dtype.is_temporal()]


def to_pandas(X) -> pd.DataFrame | None:
    """A pandas DataFrame of ``X`` (``X`` itself when it is one); None when ``X`` is no DataFrame."""
    if isinstance(X, pd.DataFrame):
        return X
    frame = _narwhals_frame(X)
    if frame is None:
        return None
    schema = frame.schema
    nested = [name for name, dtype in schema.items() if dtype.is_nested()]
    if nested:
        raise ValueError(
            f"Column(s) {nested} hold nested values (lists, structs or arrays); the preprocessing takes "
            "numbers and categories: unnest or drop them."
        )
    decimals = [name for name, dtype in schema.items() if dtype.is_decimal()]
    if decimals:
        frame = frame.with_columns(nw.col(*decimals).cast(nw.Float64))
    return frame.to_pandas()


def numeric_column(X, position: int) -> np.ndarray:
    """Column ``position`` of a DataFrame of any kind (or an array) as float64, missing values as NaN."""
    if isinstance(X, pd.DataFrame):
        return X.iloc[:, position].to_numpy(dtype=np.float64, na_value=np.nan)
    frame = _narwhals_frame(X)
    if frame is None:
        return np.asarray(np.asarray(X)[:, position], dtype=np.float64)
    name = frame.columns[position]
    return frame.select(nw.col(name).cast(nw.Float64)).to_numpy()[:, 0].astype(np.float64)


def check_dense_frame(frame: pd.DataFrame) -> None:
    """Refuse pandas' sparse columns: the network takes dense input, and densifying is the caller's choice."""
    sparse = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.SparseDtype)]
    if sparse:
        shown = ", ".join(repr(n) for n in sparse[:5]) + (" ..." if len(sparse) > 5 else "")
        raise TypeError(
            f"X has sparse column(s) {shown}, but dense data is required: convert them with "
            "X[column].sparse.to_dense() (X.sparse.to_dense() when every column is sparse), minding the memory: "
            "the network's input is a dense float32 table."
        )

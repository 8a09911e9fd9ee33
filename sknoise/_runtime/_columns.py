"""Columns of a table: their kind, and categories matched by value.

A column is *numeric* (integer and floating dtypes, pandas' nullable ones included) or
*categorical* (pandas ``category``, ``object``, ``string`` and ``bool`` dtypes); a column
without any observed value has no kind of its own and takes whatever kind it had in fit.

Categories are the column's values, matched as Python matches them (``1 == 1.0 == True``,
as scikit-learn's ``OneHotEncoder`` does), never by their text: ``'1'`` is not ``1``. A
missing value (``None``, ``NaN``, ``pd.NA``) is a category of its own. The categories
of a column are ordered by their text (``str``), the missing one as ``'__missing__'``:
the order the preprocessing has always given its one-hot columns and codes.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
import pandas as pd

__all__ = [
    "NUMERIC",
    "CATEGORICAL",
    "MISSING_KEY",
    "column_kind",
    "kind_label",
    "has_observed_value",
    "numbers_in_object_column",
    "count_categories",
    "ordered_categories",
    "CategoryLookup",
    "encode_category",
    "decode_category",
]

NUMERIC, CATEGORICAL = "numeric", "categorical"
#: The text the missing category sorts by (what it was called when categories were strings).
MISSING_KEY = "__missing__"


def column_kind(series: pd.Series) -> str:
    """``'categorical'`` for category, object, string and bool dtypes, ``'numeric'`` otherwise."""
    dtype = series.dtype
    if (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return CATEGORICAL
    return NUMERIC


def kind_label(series: pd.Series) -> str:
    """How messages name a column's kind: ``'numeric (float64)'``."""
    return f"{column_kind(series)} ({series.dtype})"


def has_observed_value(series: pd.Series) -> bool:
    return bool(series.notna().any())


def numbers_in_object_column(series: pd.Series) -> bool:
    """Whether an ``object`` column holds numbers only (and missing values): it can be read as numbers."""
    if not pd.api.types.is_object_dtype(series.dtype):
        return False
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    return inferred in ("integer", "floating", "mixed-integer-float", "decimal", "empty")


def _python_value(value):
    """numpy scalars as the Python scalars they equal (same hash, same matches)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def count_categories(series: pd.Series) -> tuple[dict, int]:
    """The observed categories of a column with their counts (value-matched), and its number of missing values."""
    n_missing = int(series.isna().sum())
    try:
        counts = series.value_counts(dropna=True, sort=False)
    except TypeError as error:
        raise TypeError(
            f"Column {series.name!r} holds values that cannot be categories ({error}); "
            "give it numbers or text."
        ) from None
    counts = counts[counts > 0]
    return dict(zip((_python_value(v) for v in counts.index.astype(object)), (int(c) for c in counts))), n_missing


def _sort_key(value) -> tuple[str, int, str]:
    if value is None:
        return (MISSING_KEY, 0, "")
    # Ties in text ('1' and 1) are broken by type name, the missing category first.
    return (str(value), 1, type(value).__name__)


def ordered_categories(counts: dict, n_missing: int) -> list:
    """A column's categories in the preprocessing's order, ``None`` standing for the missing category."""
    values = list(counts) + ([None] if n_missing else [])
    return sorted(values, key=_sort_key)


class CategoryLookup:
    """Positions of a column's values among its fitted categories (``None`` in the list: the missing one).

    :meth:`positions` gives -1 for a value that is none of them.
    """

    def __init__(self, categories: list) -> None:
        self.missing = categories.index(None) if None in categories else -1
        present = [(i, v) for i, v in enumerate(categories) if v is not None]
        self.index = pd.Index([v for _, v in present], dtype=object)
        self.where = np.array([i for i, _ in present], dtype=np.int64)

    def positions(self, series: pd.Series) -> np.ndarray:
        values = series.to_numpy(dtype=object)
        out = np.full(len(values), -1, dtype=np.int64)
        if len(self.index):
            found = self.index.get_indexer(values)
            hit = found >= 0
            out[hit] = self.where[found[hit]]
        out[pd.isna(values)] = self.missing
        return out


# --------------------------------------------------------------------------- JSON form of a category
def encode_category(value, column):
    """A category as a JSON value that keeps its type: JSON's own string, integer, boolean or null,
    and a float as a ``["float", hex]`` pair (exact, and never read back as an integer)."""
    value = _python_value(value)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, float):
        return ["float", value.hex()]
    raise ValueError(
        f"Column {column!r} has a category of type {type(value).__name__} ({value!r}); the state holds "
        "str, int, float and bool categories only."
    )


def decode_category(stored) -> object:
    """The category :func:`encode_category` stored; the ``[type, value]`` pairs of earlier files are read too."""
    if stored is None or isinstance(stored, (bool, str, int)):
        return stored
    if not isinstance(stored, (list, tuple)) or len(stored) != 2:
        raise ValueError(f"A category must be a string, an integer, a boolean, null or a [type, value] pair; "
                         f"got {stored!r}.")
    kind, value = stored
    checks = {"missing": lambda v: v is None, "bool": lambda v: isinstance(v, bool),
              "str": lambda v: isinstance(v, str), "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "float": lambda v: isinstance(v, str)}
    if kind not in checks or not checks[kind](value):
        raise ValueError(f"Invalid category {stored!r}.")
    if kind == "float":
        try:
            decoded = float.fromhex(value)
        except (ValueError, OverflowError):
            raise ValueError(f"Invalid float category {stored!r}.") from None
        if math.isnan(decoded):
            raise ValueError(f"A NaN category is the missing one: {stored!r}.")
        return decoded
    return value

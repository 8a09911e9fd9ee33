"""A fitted :class:`~._preprocessing.TablePreprocessor` as JSON-able metadata and numpy arrays, and back.

No pickle: the metadata holds the columns (names, dtypes, kinds, roles) and the
categories as JSON values that keep their type (floats as ``['float', hex]``); the arrays
hold the numeric scaling's statistics in their own dtype, so that the rebuilt preprocessor
transforms bit for bit as the original. Everything read back is checked; anything
inconsistent is a ValueError.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ._columns import CATEGORICAL, NUMERIC, decode_category, encode_category
from ._scaling import NUMERIC_SCALINGS, NumericScaling

__all__ = ["FORMAT", "VERSION", "get_state", "from_state"]

FORMAT = "sknoise.TablePreprocessor"
VERSION = 1


def _name(column) -> str | int:
    if isinstance(column, str):
        return column
    if isinstance(column, Integral) and not isinstance(column, bool):
        return int(column)
    raise ValueError(f"Column names must be strings or integers for the state; got {column!r}.")


def get_state(pre) -> tuple[dict, dict[str, np.ndarray]]:
    """``pre``'s fitted state (see :meth:`TablePreprocessor._get_state`)."""
    columns = list(pre.columns_)
    position = {c: i for i, c in enumerate(columns)}
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "numeric_scaling": pre.numeric_scaling,
        "max_onehot": None if pre.max_onehot is None else int(pre.max_onehot),
        "n_samples_seen": int(pre.n_samples_seen_),
        "feature_names": hasattr(pre, "feature_names_in_"),
        "columns": [{"name": _name(c), "dtype": pre._dtypes[c], "kind": pre._kinds[c]} for c in columns],
        "scaled": [position[c] for c in pre.scaled_columns_],
        "missing_indicator": [position[c] for c in pre.missing_indicator_columns_],
        "onehot": [{"column": position[c], "categories": [encode_category(v, c) for v in pre.categories_[c]],
                    "infrequent": list(pre._infrequent_positions[c])} for c in pre.onehot_columns_],
        "embedded": [{"column": position[c], "categories": [encode_category(v, c) for v in pre.categories_[c]]}
                     for c in pre.embedded_columns_],
    }
    arrays = pre._scaling.arrays() if pre._scaling is not None else {}
    return meta, {name: np.array(array, copy=True) for name, array in arrays.items()}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(f"Inconsistent TablePreprocessor state: {message}.")


def _indices(meta: dict, key: str, n: int) -> list[int]:
    values = meta.get(key)
    _require(isinstance(values, list), f"{key!r} must be a list")
    _require(all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in values),
             f"{key!r} must hold column positions in [0, {n})")
    _require(values == sorted(set(values)), f"{key!r} must hold increasing positions")
    return values


def _categories(entry, n: int, kinds: list, key: str) -> tuple[int, list]:
    _require(isinstance(entry, dict) and "column" in entry and "categories" in entry, f"bad {key!r} entry {entry!r}")
    column = entry["column"]
    _require(isinstance(column, int) and not isinstance(column, bool) and 0 <= column < n,
             f"{key!r} entry names no column: {column!r}")
    _require(kinds[column] == CATEGORICAL, f"{key!r} column {column} is not categorical")
    _require(isinstance(entry["categories"], list) and entry["categories"],
             f"{key!r} column {column} has no categories")
    categories = [decode_category(pair) for pair in entry["categories"]]
    seen = {}
    for value in categories:
        key_ = ("missing",) if value is None else (type(value) is str, value)
        _require(key_ not in seen, f"column {column} repeats the category {value!r}")
        seen[key_] = True
    return column, categories


def from_state(cls, meta: dict, arrays: dict):
    """A fitted ``cls`` (a TablePreprocessor) from :func:`get_state`'s output."""
    _require(isinstance(meta, dict), "meta must be a dict")
    _require(isinstance(arrays, dict), "arrays must be a dict")
    _require(meta.get("format") == FORMAT, f"format must be {FORMAT!r}, got {meta.get('format')!r}")
    _require(meta.get("version") == VERSION, f"version {meta.get('version')!r} is not {VERSION}")
    scaling, max_onehot = meta.get("numeric_scaling"), meta.get("max_onehot")
    _require(scaling in NUMERIC_SCALINGS, f"unknown numeric_scaling {scaling!r}")
    _require(max_onehot is None or (isinstance(max_onehot, int) and not isinstance(max_onehot, bool)
                                    and max_onehot >= 0), f"bad max_onehot {max_onehot!r}")
    n_rows = meta.get("n_samples_seen")
    _require(isinstance(n_rows, int) and n_rows >= 1, f"bad n_samples_seen {n_rows!r}")
    entries = meta.get("columns")
    _require(isinstance(entries, list) and entries, "columns must be a non-empty list")
    for entry in entries:
        _require(isinstance(entry, dict) and {"name", "dtype", "kind"} <= set(entry), f"bad column entry {entry!r}")
        _require(entry["kind"] in (NUMERIC, CATEGORICAL), f"bad kind {entry['kind']!r}")
        _require(isinstance(entry["dtype"], str), f"bad dtype {entry['dtype']!r}")
        _require(isinstance(entry["name"], str) or (isinstance(entry["name"], int)
                                                    and not isinstance(entry["name"], bool)),
                 f"bad column name {entry['name']!r}")
    columns = [e["name"] for e in entries]
    _require(len(set(columns)) == len(columns), "column names repeat")
    kinds = [e["kind"] for e in entries]
    n = len(columns)
    feature_names = meta.get("feature_names")
    _require(isinstance(feature_names, bool), "feature_names must be a boolean")
    _require(not feature_names or all(isinstance(c, str) for c in columns), "feature names must be strings")

    scaled = _indices(meta, "scaled", n)
    missing = _indices(meta, "missing_indicator", n)
    numeric = [i for i in range(n) if kinds[i] == NUMERIC]
    _require(set(scaled) <= set(numeric) and set(missing) <= set(numeric),
             "scaled and missing-indicator columns must be numeric")
    _require(set(scaled) | set(missing) == set(numeric), "a numeric column is neither scaled nor indicated")
    onehot, embedded = meta.get("onehot"), meta.get("embedded")
    _require(isinstance(onehot, list) and isinstance(embedded, list), "onehot and embedded must be lists")
    categories, infrequent = {}, {}
    for entry in onehot:
        column, values = _categories(entry, n, kinds, "onehot")
        positions = entry.get("infrequent")
        _require(isinstance(positions, list) and positions == sorted(set(positions)) and all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(values) for i in positions),
            f"bad infrequent positions of column {column}")
        _require(not positions or max_onehot is None, f"column {column} has infrequent categories under max_onehot")
        _require(max_onehot is None or len(values) <= max_onehot,
                 f"one-hot column {column} has more than max_onehot={max_onehot} categories")
        categories[column], infrequent[column] = values, positions
    embedded_columns = []
    for entry in embedded:
        column, values = _categories(entry, n, kinds, "embedded")
        _require(column not in categories, f"column {column} is both one-hot and embedded")
        _require(max_onehot is not None and len(values) > max_onehot,
                 f"embedded column {column} has at most max_onehot={max_onehot} categories")
        categories[column] = values
        embedded_columns.append(column)
    onehot_columns = [e["column"] for e in onehot]
    _require(onehot_columns == sorted(onehot_columns) and embedded_columns == sorted(embedded_columns),
             "onehot and embedded columns must be in column order")
    _require(set(categories) == {i for i in range(n) if kinds[i] == CATEGORICAL},
             "every categorical column must be one-hot or embedded")

    scaling_state = None
    if scaled:
        scaling_state = NumericScaling.from_arrays(scaling, arrays, len(scaled))
    else:
        _require(not arrays, "arrays given without scaled columns")

    pre = cls(numeric_scaling=scaling, max_onehot=max_onehot)
    pre._reset()
    pre.n_features_in_ = n
    if feature_names:
        pre.feature_names_in_ = np.asarray(columns, dtype=object)
    pre.columns_ = columns
    pre._kinds = dict(zip(columns, kinds))
    pre._dtypes = {e["name"]: e["dtype"] for e in entries}
    pre.numeric_columns_ = [columns[i] for i in numeric]
    pre.categorical_columns_ = [columns[i] for i in range(n) if kinds[i] == CATEGORICAL]
    pre.scaled_columns_ = [columns[i] for i in scaled]
    pre.missing_indicator_columns_ = [columns[i] for i in missing]
    pre.categories_ = {columns[i]: categories[i] for i in sorted(categories)}
    pre.onehot_columns_ = [columns[i] for i in onehot_columns]
    pre.embedded_columns_ = [columns[i] for i in embedded_columns]
    pre._infrequent_positions = {columns[i]: infrequent[i] for i in onehot_columns}
    pre.infrequent_categories_ = {columns[i]: [categories[i][k] for k in p] for i, p in infrequent.items() if p}
    pre.embedding_cardinalities_ = [len(categories[i]) + 1 for i in embedded_columns]
    pre.n_samples_seen_ = n_rows
    pre._scaling = scaling_state
    pre._fitted_params = pre.get_params()
    pre.layout_ = pre._layout()
    return pre

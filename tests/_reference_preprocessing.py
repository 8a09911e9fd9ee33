"""The preprocessing as it was before its statistics became plain arrays (scikit-learn transformers
inside): the reference tests/test_preprocessing.py checks the current one against, bit for bit, on
tables that worked with it. Not used by sknoise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    QuantileTransformer,
    RobustScaler,
    StandardScaler,
)

__all__ = ["ReferencePreprocessor"]

NUMERIC_SCALINGS = ("robust", "quantile", "standard")
#: Rows the transformers see at a time when a table is turned into features.
_BLOCK_ROWS = 1 << 16
_MISSING = "__missing__"


@dataclass(frozen=True)
class FeatureLayout:
    """What each column of the network's input holds.

    Attributes
    ----------
    numeric : tuple of int
        Columns of scaled numbers (what a numeric embedding embeds).
    other : tuple of int
        Other dense features (missing indicators, one-hot categories).
    codes : tuple of int
        Integer codes of embedded categorical columns (0: unseen in ``fit``).
    cardinalities : tuple of int
        Number of codes of each code column.
    """

    numeric: tuple[int, ...]
    other: tuple[int, ...] = ()
    codes: tuple[int, ...] = ()
    cardinalities: tuple[int, ...] = ()

    @classmethod
    def all_numeric(cls, n_features: int) -> FeatureLayout:
        """Every column a number (the network's input without the built-in preprocessing)."""
        return cls(tuple(range(n_features)))

    @property
    def dense(self) -> tuple[int, ...]:
        """Every column that is not a code, in order."""
        return tuple(sorted(self.numeric + self.other))


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


def embedding_width(n_categories: int) -> int:
    """Width of a categorical column's embedding: grows slowly with its cardinality, at most 16."""
    return int(min(16, max(4, round(1.6 * n_categories**0.56))))


def _scaler(numeric_scaling: str):
    if numeric_scaling == "robust":
        # The clip overwrites the scaler's output, a new array of its own.
        clip = FunctionTransformer(smooth_clip, kw_args={"in_place": True})
        return make_pipeline(RobustScaler(unit_variance=True), clip)
    if numeric_scaling == "quantile":
        return QuantileTransformer(output_distribution="normal", subsample=100_000, random_state=0)
    return StandardScaler()


def _float_array(X) -> np.ndarray:
    """``X`` as a floating array: float32 stays float32 (no copy), anything else becomes float64."""
    X = np.asarray(X)
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float64)


def _numeric_values(frame: pd.DataFrame, columns: list) -> np.ndarray:
    """The numeric columns as one array for the finiteness checks: float32 if every one is
    (a view of a float32 table, not a float64 copy of it), float64 otherwise."""
    float32 = all(frame[c].dtype == np.float32 for c in columns)
    return frame[columns].to_numpy(dtype=np.float32 if float32 else np.float64)


def _select(frame: pd.DataFrame, columns: list) -> pd.DataFrame:
    """``frame``'s ``columns``; the frame itself (no copy) when they are all of its columns."""
    return frame if list(frame.columns) == list(columns) else frame[columns]


def _fit_scaling(pipeline, X: pd.DataFrame) -> None:
    """Fit the numeric pipeline (a scaler, then steps that learn nothing from the values).

    Only the scaler learns from every row; the steps after it (the smooth clip, the
    constant fill) are fitted on its output for the first block of rows, which spares
    a scaled copy of the whole table.
    """
    scaler, *rest = (step for _, step in pipeline.steps)
    scaler.fit(X)
    head = scaler.transform(X.iloc[:_BLOCK_ROWS])
    for step in rest:
        head = step.fit_transform(head)


def _is_categorical(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def _as_category_strings(frame: pd.DataFrame) -> np.ndarray:
    """Categorical columns as strings, missing values as a category of their own."""
    out = frame.astype(object).where(frame.notna(), _MISSING)
    return out.astype(str).to_numpy()


class ReferencePreprocessor(TransformerMixin, BaseEstimator):
    """Turn a table into network features (see the module docstring).

    Parameters
    ----------
    numeric_scaling : {'robust', 'quantile', 'standard'}, default='robust'
    max_onehot : int or None, default=9
        Columns with at most this many categories are one-hot encoded, the others
        become embedding codes; None one-hot encodes every column (at most 32
        columns each, rarer categories grouped as infrequent).

    Attributes
    ----------
    numeric_columns_, categorical_columns_ : list
        Columns (names for a DataFrame, positions for an array) of each kind.
    scaled_columns_ : list
        The numeric columns with an observed value in ``fit`` (the scaled features).
    embedding_cardinalities_ : list of int
        For each embedded column, the number of codes (categories plus the reserved 0).
    layout_ : FeatureLayout
        Which output columns are scaled numbers, other dense features and embedding codes.
    """

    def __init__(self, numeric_scaling: str = "robust", max_onehot: int | None = 9) -> None:
        self.numeric_scaling = numeric_scaling
        self.max_onehot = max_onehot

    def fit(self, X, y=None):
        self._fit(X)
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        # The input checks of fit and transform are made once.
        return self._features(self._fit(X))

    def _fit(self, X) -> pd.DataFrame:
        """Fit, and return ``X`` as the (checked) table that ``_features`` transforms."""
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(_float_array(X), copy=False)
        self.columns_ = list(frame.columns)
        categorical = [c for c in frame.columns if _is_categorical(frame[c])]
        numeric = [c for c in frame.columns if c not in categorical]
        values = _numeric_values(frame, numeric) if numeric else np.empty((len(frame), 0))
        infinite = np.isinf(values).any(axis=0)
        if infinite.any():
            raise ValueError(
                f"Input X holds infinity in column(s) {[numeric[i] for i in np.flatnonzero(infinite)]}; "
                "replace it with a finite value or NaN (missing)."
            )
        cardinality = {c: frame[c].nunique(dropna=False) for c in categorical}
        onehot = [c for c in categorical if self.max_onehot is None or cardinality[c] <= self.max_onehot]
        embedded = [c for c in categorical if c not in onehot]
        steps = []
        missing = np.isnan(values)
        observed = [c for c, empty in zip(numeric, missing.all(axis=0) if len(values) else []) if not empty]
        if observed:
            # The scalers skip NaN in fit and keep it in transform; 0 is then the column's centre.
            # In place (copy=False): its input is the scaler's own new output.
            fill_centre = SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True, copy=False)
            steps.append(("numeric", make_pipeline(_scaler(self.numeric_scaling), fill_centre), observed))
        if missing.any():
            steps.append(("missing", MissingIndicator(features="missing-only", error_on_new=False), numeric))
        if onehot:
            encoder = OneHotEncoder(
                handle_unknown="infrequent_if_exist" if self.max_onehot is None else "ignore",
                max_categories=32 if self.max_onehot is None else None,
                sparse_output=False,
                dtype=np.float32,
            )
            steps.append(("onehot", make_pipeline(FunctionTransformer(_as_category_strings), encoder), onehot))
        if embedded:
            encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=np.float64)
            steps.append(("codes", make_pipeline(FunctionTransformer(_as_category_strings), encoder), embedded))
        self.numeric_columns_, self.categorical_columns_ = numeric, categorical
        self.scaled_columns_ = observed
        del values, missing
        self.steps_ = []
        for name, transformer, columns in steps:
            if name == "numeric":
                _fit_scaling(transformer, _select(frame, columns))
            else:
                transformer.fit(_select(frame, columns))
            width = transformer.transform(_select(frame.iloc[:1], columns)).shape[1]
            self.steps_.append((name, transformer, columns, width))
        self.embedding_cardinalities_ = (
            [len(c) + 1 for c in self.steps_[-1][1][-1].categories_] if embedded else []
        )
        self.layout_ = self._layout()
        return frame

    def _layout(self) -> FeatureLayout:
        columns = {"numeric": [], "other": [], "codes": []}
        start = 0
        for name, _, _, width in self.steps_:
            part = "numeric" if name == "numeric" else "codes" if name == "codes" else "other"
            columns[part] += range(start, start + width)
            start += width
        return FeatureLayout(*(tuple(columns[k]) for k in ("numeric", "other", "codes")),
                             tuple(self.embedding_cardinalities_))

    def _features(self, frame: pd.DataFrame) -> np.ndarray:
        """The network features of a validated table, written block by block of rows.

        Each transformer sees :data:`_BLOCK_ROWS` rows at a time, so its temporaries
        (column copies, scaled values, masks) stay the size of a block: the float32
        output is the one table-sized array made.
        """
        widths = [width for *_, width in self.steps_]
        out = np.empty((len(frame), sum(widths)), dtype=np.float32)
        offsets = np.concatenate([[0], np.cumsum(widths)])
        for begin in range(0, len(frame), _BLOCK_ROWS):
            block = frame.iloc[begin:begin + _BLOCK_ROWS]
            for (_, transformer, columns, _), left, right in zip(self.steps_, offsets[:-1], offsets[1:]):
                out[begin:begin + len(block), left:right] = transformer.transform(_select(block, columns))
        if self.layout_.codes:
            # Codes 1..n for the categories seen in fit, 0 for any other (float32 holds them exactly).
            out[:, list(self.layout_.codes)] += 1
        return out

    def transform(self, X) -> np.ndarray:
        # An array after a DataFrame fit: its columns are the fitted ones, in order.
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(_float_array(X), columns=self.columns_, copy=False)
        numeric = _numeric_values(frame, self.numeric_columns_) if self.numeric_columns_ else None
        if numeric is not None and np.isinf(numeric).any():
            bad = [self.numeric_columns_[i] for i in np.flatnonzero(np.isinf(numeric).any(axis=0))]
            raise ValueError(f"Input X holds infinity in column(s) {bad}; replace it with a finite value or NaN.")
        return self._features(frame)

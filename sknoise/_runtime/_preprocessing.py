"""The preprocessing inside the estimators: a DataFrame (or array) in, network features out.

- numeric columns: ``numeric_scaling``, fitted on the observed values (``_scaling``):
  ``'robust'`` (centred on the median, scaled by the interquartile range so that a
  normal column gets unit variance, then softly clipped by ``z / sqrt(1 + (z / 3)^2)``),
  ``'quantile'`` (a normal-output quantile transform) or ``'standard'`` (mean and
  standard deviation); then a missing value becomes 0, the column's centre on that
  scale (its median, or its mean for ``'standard'``), and every column that had
  missing values in ``fit`` gets a missing-indicator. Scaling first and filling a
  constant after spares a median imputation. A column with no observed value in
  ``fit`` keeps only its indicator;
- categorical columns (pandas ``category``, ``object``, ``string`` and ``bool``
  dtypes; polars' and pyarrow's strings, categoricals and booleans): a missing value is
  a category of its own, and categories are matched by value (``_columns``); up to
  ``max_onehot`` categories are one-hot encoded, columns with more become integer codes
  for a learned embedding (code 0 is reserved for categories never seen in ``fit``).
  Unknown categories at prediction time are all-zero one-hot rows or code 0, never an
  error.

The output is one float32 table, the network's input; its :class:`FeatureLayout`
(``layout_``) says which columns hold the scaled numbers, which other dense features
(indicators, one-hot) and which the embedding codes, so that the network's embeddings
never assume an order.

The fitted statistics are plain arrays and lists, applied here: a fitted preprocessor
is rebuilt without pickle from :meth:`TablePreprocessor._get_state`. ``partial_fit``
fits over chunks (``_summary``: categories and counts exact, quantiles from a uniform
sample); ``fit`` on a dask DataFrame does the same with dask's reductions (``_dask``).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from ._columns import (
    CATEGORICAL,
    NUMERIC,
    CategoryLookup,
    column_kind,
    has_observed_value,
    kind_label,
    numbers_in_object_column,
    ordered_categories,
)
from ._frames import is_dask_frame
from ._scaling import NUMERIC_SCALINGS, NumericScaling, smooth_clip
from ._summary import TableSummary, numeric_values
from ._validation import PreprocessingWarning, find_stacklevel, validate_table, warn_nearly_unique_column

__all__ = ["NUMERIC_SCALINGS", "FeatureLayout", "TablePreprocessor", "smooth_clip", "embedding_width"]

#: Rows transformed at a time: the temporaries stay the size of a block.
_BLOCK_ROWS = 1 << 16
#: With ``max_onehot=None``: one-hot columns per categorical column, the rarest categories grouped beyond.
_MAX_CATEGORIES = 32


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


def embedding_width(n_categories: int) -> int:
    """Width of a categorical column's embedding: grows slowly with its cardinality, at most 16."""
    return int(min(16, max(4, round(1.6 * n_categories**0.56))))


def _infrequent(counts: list[int]) -> list[int]:
    """Positions of the categories grouped as infrequent: all but the ``_MAX_CATEGORIES - 1`` most
    frequent when there are ``_MAX_CATEGORIES`` or more (ties: the earlier category counts as rarer),
    as scikit-learn's ``OneHotEncoder(max_categories=32)``."""
    if len(counts) + 1 <= _MAX_CATEGORIES:
        return []
    rarest_first = np.argsort(np.asarray(counts), kind="mergesort")
    return sorted(int(i) for i in rarest_first[: -(_MAX_CATEGORIES - 1)])


class TablePreprocessor(TransformerMixin, BaseEstimator):
    """Turn a table into the network's input: numbers scaled, categories encoded, missing values kept.

    The estimators fit one on the training table (``preprocessing='auto'``) and keep
    it as ``preprocessor_``. Fitted on its own, over all the data, and handed to an
    estimator as ``preprocessing=`` it makes out-of-core training see every category
    and column: :meth:`partial_fit` over chunks, or :meth:`fit` on a dask DataFrame
    (statistics reduced on the cluster). See the module docstring for what each
    column becomes; ``print(preprocessor)`` shows it for a fitted one.

    Parameters
    ----------
    numeric_scaling : {'robust', 'quantile', 'standard'}, default='robust'
        How numeric columns are scaled (see the estimators' parameter of that name).
    max_onehot : int or None, default=9
        Columns with at most this many categories (a missing value counting as one)
        are one-hot encoded, the others become embedding codes; None one-hot encodes
        every column (at most 32 columns each, rarer categories grouped as infrequent),
        as the EBM needs.

    Attributes
    ----------
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Their names, when X was a DataFrame with string column names.
    columns_ : list
        The columns: names for a DataFrame, positions for an array.
    numeric_columns_, categorical_columns_ : list
        Columns of each kind.
    scaled_columns_ : list
        The numeric columns with an observed value in ``fit`` (the scaled features).
    missing_indicator_columns_ : list
        The numeric columns with a missing value in ``fit`` (each gets an indicator).
    onehot_columns_, embedded_columns_ : list
        The categorical columns one-hot encoded and embedded.
    categories_ : dict
        Each categorical column's categories in output order; ``None`` is the missing one.
    infrequent_categories_ : dict
        With ``max_onehot=None``: each one-hot column's categories grouped as infrequent.
    embedding_cardinalities_ : list of int
        For each embedded column, the number of codes (categories plus the reserved 0).
    n_samples_seen_ : int
        Rows the statistics come from.
    layout_ : FeatureLayout
        Which output columns are scaled numbers, other dense features and embedding codes.

    Notes
    -----
    ``fit`` on a table computes the statistics from all of it. ``partial_fit`` merges
    the statistics of each chunk: categories, counts and missing values exactly; means
    and variances (``'standard'``) exactly up to rounding; medians, quartiles and
    quantiles (``'robust'``, ``'quantile'``) from a uniform random sample of 100,000
    observed values per column, so they are exact while a column has at most that many
    values, and otherwise off by about ``0.004`` standard deviations for the median
    (the quantile transform of ``fit`` samples 100,000 rows too).

    Examples
    --------
    >>> import pandas as pd
    >>> from sknoise import TablePreprocessor
    >>> chunks = [pd.DataFrame({"x": [1.0, 2.0, None], "city": ["Oslo", "Lima", "Oslo"]}),
    ...           pd.DataFrame({"x": [4.0, 5.0, 6.0], "city": ["Pune", "Oslo", None]})]
    >>> pre = TablePreprocessor()
    >>> for chunk in chunks:
    ...     pre = pre.partial_fit(chunk)
    >>> print(pre)
    TablePreprocessor(): 2 columns -> 6 features, fitted on 6 rows
      'x'     numeric (float64)  scaled (robust), missing indicator
      'city'  categorical (str)  one-hot (4 categories, missing one of them)
    >>> pre.transform(chunks[1]).shape
    (3, 6)
    """

    _parameter_constraints: dict = {
        "numeric_scaling": [StrOptions(set(NUMERIC_SCALINGS))],
        "max_onehot": [Interval(Integral, 0, None, closed="left"), None],
    }

    def __init__(self, numeric_scaling: str = "robust", max_onehot: int | None = 9) -> None:
        self.numeric_scaling = numeric_scaling
        self.max_onehot = max_onehot

    # ------------------------------------------------------------------ public API
    def fit(self, X, y=None):
        """Fit the statistics on a table (a dask DataFrame: reduced over its partitions on the cluster).

        Parameters
        ----------
        X : DataFrame (pandas, polars, pyarrow, dask, ...) or array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self
        """
        self._validate_params()
        if is_dask_frame(X):
            from ._dask import summarize_dask_frame

            self._reset()
            self._check_input(X._meta, reset=True, allow_empty=True)
            self._finalize(summarize_dask_frame(X), keep_summary=True)
            return self
        self._fit_table(self._check_input(X, reset=True), keep_summary=True)
        return self

    def partial_fit(self, X, y=None):
        """Merge a chunk of rows into the statistics (the first call starts them).

        Categories first seen in a later chunk, and numeric columns first observed
        there, are part of the fit; the chunks must share their columns and each
        column its kind.

        Parameters
        ----------
        X : DataFrame (pandas, polars, pyarrow, ...) or array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self
        """
        first = not hasattr(self, "layout_")
        if not first and getattr(self, "_summary", None) is None:
            raise ValueError(
                "This TablePreprocessor was fitted without the statistics partial_fit merges into (an estimator's "
                "preprocessor_, or one rebuilt from its state); fit a new TablePreprocessor with partial_fit."
            )
        if not first and self._fitted_params != self.get_params():
            raise ValueError(
                f"partial_fit goes on with the parameters of the first call ({self._fitted_params}); they changed "
                f"to {self.get_params()}: call fit, or partial_fit on a new TablePreprocessor."
            )
        self._validate_params()
        if first:
            self._reset()
        frame = self._table(self._check_input(X, reset=first))
        if not first:
            frame = self._aligned(frame, allow_new_kinds=True)
        self._check_finite(frame, self._numeric_candidates(frame))
        chunk = TableSummary.of(frame, chunk=0 if first else self._summary.n_chunks)
        self._finalize(chunk if first else self._summary.merge(chunk), keep_summary=True)
        return self

    def fit_transform(self, X, y=None) -> np.ndarray:
        """Fit on ``X`` and return its features (the input checks are made once)."""
        self._validate_params()
        frame = self._fit_table(self._check_input(X, reset=True), keep_summary=True)
        return self._features(frame)

    def transform(self, X) -> np.ndarray:
        """The network's input for ``X``: a float32 array of shape (n_samples, n_features_out).

        Parameters
        ----------
        X : DataFrame (pandas, polars, pyarrow, ...) or array-like of shape (n_samples, n_features_in_)
            With the columns of ``fit``, each of the same kind (a column of no value at
            all may have any dtype).

        Returns
        -------
        ndarray of shape (n_samples, n_features_out), float32
        """
        check_is_fitted(self)
        return self._transform_table(self._check_input(X, reset=False))

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns, scikit-learn style.

        A scaled column keeps its name, its missing indicator is
        ``missingindicator_<name>``, a one-hot column ``<name>_<category>`` (the missing
        category ``<name>_nan``, the infrequent ones ``<name>_infrequent_sklearn``), and
        an embedded column's codes keep the column's name.

        Parameters
        ----------
        input_features : array-like of str, optional
            The input columns' names (default: ``feature_names_in_``, or ``x0, x1, ...``).

        Returns
        -------
        ndarray of str objects
        """
        check_is_fitted(self)
        names = dict(zip(self.columns_, _check_feature_names_in(self, input_features)))
        out = [names[c] for c in self.scaled_columns_]
        out += [f"missingindicator_{names[c]}" for c in self.missing_indicator_columns_]
        for column in self.onehot_columns_:
            infrequent = set(self._infrequent_positions[column])
            out += [f"{names[column]}_{'nan' if v is None else v}" for i, v in enumerate(self.categories_[column])
                    if i not in infrequent]
            if infrequent:
                out.append(f"{names[column]}_infrequent_sklearn")
        out += [names[c] for c in self.embedded_columns_]
        return np.asarray(out, dtype=object)

    def summary(self) -> str:
        """What the fitted preprocessing does with each input column, one line each."""
        check_is_fitted(self)
        params = repr(self)
        head = (f"{params}: {len(self.columns_)} columns -> {len(self.get_feature_names_out())} features, "
                f"fitted on {self.n_samples_seen_} rows")
        rows = [(repr(c), f"{self._kinds[c]} ({self._dtypes[c]})", self._role(c)) for c in self.columns_]
        widths = [max((len(r[i]) for r in rows), default=0) for i in range(2)]
        lines = [f"  {a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows]
        return "\n".join([head, *lines])

    def __str__(self) -> str:
        return self.summary() if hasattr(self, "layout_") else repr(self)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        # The output is the network's float32 input, whatever the input's precision.
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # ------------------------------------------------------------------ for the estimators
    def _fit_transform_table(self, X) -> np.ndarray:
        """Fit and transform a table the estimator validated (a DataFrame, or a numeric array);
        no statistics are kept for ``partial_fit``."""
        validate_data(self, X, reset=True, skip_check_array=True)
        return self._features(self._fit_table(X, keep_summary=False))

    def _transform_table(self, X) -> np.ndarray:
        """Transform a table whose columns were validated (by :meth:`transform` or an estimator)."""
        return self._features(self._aligned(self._table(X)))

    def _unseen(self, X) -> list[str]:
        """What in a validated table the fit never saw: categories, and values of columns never observed."""
        frame = self._aligned(self._table(X))
        found = []
        for column in self.onehot_columns_ + self.embedded_columns_:
            series = frame[column]
            unknown = self._lookup(column).positions(series) < 0
            missing = series.isna().to_numpy()
            if (unknown & ~missing).any():
                examples = pd.unique(series[unknown & ~missing])[:3]
                found.append(f"column {column!r}: categories {', '.join(repr(v) for v in examples)}")
            if (unknown & missing).any():
                found.append(f"column {column!r}: missing values (none in fit)")
        for column in self.numeric_columns_:
            if column not in self.scaled_columns_ and frame[column].notna().any():
                found.append(f"column {column!r}: values (it had none in fit)")
        return found

    def _fitted_copy(self) -> TablePreprocessor:
        """A copy of the fitted preprocessor without the statistics ``partial_fit`` merges into
        (an estimator keeps this: its pickle stays small, and later chunks cannot change it)."""
        shallow = copy.copy(self)
        shallow._summary = None
        return copy.deepcopy(shallow)

    # ------------------------------------------------------------------ state (no pickle)
    def _get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The fitted state: JSON-able metadata and named numpy arrays (the scaling's statistics).

        :meth:`_from_state` rebuilds a preprocessor whose ``transform`` gives the same
        output bit for bit. Column names must be strings or integers, categories
        strings, integers, floats or booleans (ValueError otherwise).
        """
        from ._preprocessing_state import get_state

        check_is_fitted(self)
        return get_state(self)

    @classmethod
    def _from_state(cls, meta: dict, arrays: dict) -> TablePreprocessor:
        """Rebuild a fitted preprocessor from :meth:`_get_state`'s output; ValueError on anything inconsistent."""
        from ._preprocessing_state import from_state

        return from_state(cls, meta, arrays)

    # ------------------------------------------------------------------ input
    def _check_input(self, X, reset: bool, allow_empty: bool = False):
        """A pandas DataFrame (any DataFrame is converted) or a float array, checked as scikit-learn checks."""
        return validate_table(self, X, reset, allow_empty)

    def _table(self, X) -> pd.DataFrame:
        """``X`` as a DataFrame: an array's columns are the fitted ones (positions before fit)."""
        if isinstance(X, pd.DataFrame):
            return X
        columns = getattr(self, "columns_", None)
        array = np.asarray(X)
        array = array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)
        return pd.DataFrame(array, columns=columns, copy=False)

    @staticmethod
    def _numeric_candidates(frame: pd.DataFrame) -> list:
        return [c for c in frame.columns if column_kind(frame[c]) == NUMERIC]

    @staticmethod
    def _check_finite(frame: pd.DataFrame, columns: list, values: np.ndarray | None = None) -> None:
        """Refuse infinity in the numeric ``columns`` (their ``values`` when already at hand), naming them."""
        if not columns:
            return
        for begin in range(0, len(frame), _BLOCK_ROWS):
            block = numeric_values(frame.iloc[begin:begin + _BLOCK_ROWS], columns) if values is None else values
            infinite = np.isinf(block).any(axis=0)
            if infinite.any():
                raise ValueError(
                    f"Input X holds infinity in column(s) {[columns[i] for i in np.flatnonzero(infinite)]}; "
                    "replace it with a finite value or NaN (missing)."
                )
            if values is not None:
                return

    def _aligned(self, frame: pd.DataFrame, allow_new_kinds: bool = False) -> pd.DataFrame:
        """The frame with the fitted column labels (by position, as validated) and each column of its fitted kind.

        A column of no observed value takes the fitted kind; an ``object`` column of
        numbers is read as numbers; any other change of kind is an error naming the
        column and both kinds (``allow_new_kinds``: a column never observed in fit
        may take a kind now, for ``partial_fit``).
        """
        labels = list(frame.columns)
        if labels != self.columns_:
            frame = frame.set_axis(self.columns_, axis=1)
        replaced = {}
        for label, column in zip(labels, self.columns_):
            series = frame[column]
            kind = column_kind(series)
            fitted = self._kinds[column]
            if kind == fitted:
                continue
            if allow_new_kinds and self._never_observed(column):
                continue
            if not has_observed_value(series):
                replaced[column] = pd.Series(np.nan, index=series.index) if fitted == NUMERIC else series
                continue
            if fitted == NUMERIC and numbers_in_object_column(series):
                replaced[column] = pd.to_numeric(series)
                continue
            raise ValueError(
                f"Column {label!r} was {fitted} ({self._dtypes[column]}) in fit but is {kind_label(series)} now; "
                "a column keeps its kind between fit and prediction (numbers stay numbers, categories stay "
                f"categories): give it the dtype it had in fit, e.g. X[{label!r}].astype({self._dtypes[column]!r})."
            )
        if replaced:
            frame = frame.copy(deep=False)
            for column, series in replaced.items():
                frame[column] = series
        return frame

    def _never_observed(self, column) -> bool:
        summary = getattr(self, "_summary", None)
        return summary is not None and summary.summaries[self.columns_.index(column)].kind is None

    # ------------------------------------------------------------------ fitting
    def _reset(self) -> None:
        """Forget the fit (the input's shape and names are validate_data's to set)."""
        kept = ("n_features_in_", "feature_names_in_")
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__") and k not in kept]:
            delattr(self, name)
        self._summary = None
        self._warned = set()
        self._lookups = {}

    def _fit_table(self, X, keep_summary: bool) -> pd.DataFrame:
        """Fit on a whole table (statistics computed from all of it); returns it as a DataFrame."""
        self._reset()
        frame = self._table(X)
        self._check_finite(frame, self._numeric_candidates(frame))
        self._finalize(TableSummary.of(frame, with_numbers=keep_summary), keep_summary=keep_summary, table=frame)
        return frame

    def _finalize(self, summary: TableSummary, keep_summary: bool, table: pd.DataFrame | None = None) -> None:
        """Set every fitted attribute from the summary of the rows (and, for a whole table, the table)."""
        columns = list(summary.columns)
        by_column = dict(zip(columns, summary.summaries))
        n_rows = summary.n_rows
        self.columns_ = columns
        self._kinds = {c: s.final_kind for c, s in by_column.items()}
        self._dtypes = {c: str(s.shown_dtype) for c, s in by_column.items()}
        self.numeric_columns_ = [c for c in columns if self._kinds[c] == NUMERIC]
        self.categorical_columns_ = [c for c in columns if self._kinds[c] == CATEGORICAL]
        self.scaled_columns_ = [c for c in self.numeric_columns_ if by_column[c].n_missing < n_rows]
        self.missing_indicator_columns_ = [c for c in self.numeric_columns_ if by_column[c].n_missing > 0]
        self.categories_ = {c: ordered_categories(by_column[c].counts, by_column[c].n_missing)
                            for c in self.categorical_columns_}
        self.onehot_columns_ = [c for c in self.categorical_columns_
                                if self.max_onehot is None or len(self.categories_[c]) <= self.max_onehot]
        self.embedded_columns_ = [c for c in self.categorical_columns_ if c not in self.onehot_columns_]
        self._infrequent_positions = {}
        for column in self.onehot_columns_:
            counts = by_column[column].counts
            counts = [by_column[column].n_missing if v is None else counts[v] for v in self.categories_[column]]
            self._infrequent_positions[column] = _infrequent(counts) if self.max_onehot is None else []
        self.infrequent_categories_ = {c: [self.categories_[c][i] for i in p]
                                       for c, p in self._infrequent_positions.items() if p}
        self.embedding_cardinalities_ = [len(self.categories_[c]) + 1 for c in self.embedded_columns_]
        self.n_samples_seen_ = n_rows
        self._scaling = self._fit_scaling(summary, by_column, table) if self.scaled_columns_ else None
        self._lookups = {}
        self._summary = summary if keep_summary else None
        self._fitted_params = self.get_params()
        self.layout_ = self._layout()
        for column in self.categorical_columns_:
            if column not in self._warned:
                s = by_column[column]
                if warn_nearly_unique_column(column, s.counts, n_rows - s.n_missing):
                    self._warned.add(column)

    def _fit_scaling(self, summary: TableSummary, by_column: dict, table) -> NumericScaling:
        if table is not None:
            return NumericScaling.fit_table(self.numeric_scaling, _select(table, self.scaled_columns_))
        types = [by_column[c].numeric_dtype for c in self.scaled_columns_]
        dtype = np.result_type(*types) if all(t is not None for t in types) else np.dtype(np.float64)
        dtype = np.float32 if dtype == np.float32 else np.float64
        return NumericScaling.fit_summary(self.numeric_scaling, [by_column[c].numbers for c in self.scaled_columns_],
                                          summary.n_rows, dtype)

    # ------------------------------------------------------------------ output
    def _onehot_widths(self) -> list[int]:
        return [len(self.categories_[c]) - len(p) + (1 if p else 0)
                for c, p in ((c, self._infrequent_positions[c]) for c in self.onehot_columns_)]

    def _layout(self) -> FeatureLayout:
        n_scaled, n_missing = len(self.scaled_columns_), len(self.missing_indicator_columns_)
        n_onehot, n_codes = sum(self._onehot_widths()), len(self.embedded_columns_)
        start = n_scaled + n_missing + n_onehot
        return FeatureLayout(tuple(range(n_scaled)), tuple(range(n_scaled, start)),
                             tuple(range(start, start + n_codes)), tuple(self.embedding_cardinalities_))

    def _lookup(self, column) -> CategoryLookup:
        lookup = self._lookups.get(column)
        if lookup is None:
            lookup = self._lookups[column] = CategoryLookup(self.categories_[column])
        return lookup

    def _onehot_index(self, column) -> tuple[np.ndarray, int]:
        """Output position (within the column's one-hot block) of each category, and of unknown ones (-1: none)."""
        infrequent = self._infrequent_positions[column]
        n = len(self.categories_[column])
        index = np.empty(n, dtype=np.int64)
        frequent = [i for i in range(n) if i not in set(infrequent)]
        index[frequent] = np.arange(len(frequent))
        index[infrequent] = len(frequent)
        return index, (len(frequent) if infrequent else -1)

    def _features(self, frame: pd.DataFrame) -> np.ndarray:
        """The network features of an aligned table, written block by block of rows into one float32 array."""
        n_scaled, n_missing = len(self.scaled_columns_), len(self.missing_indicator_columns_)
        widths = self._onehot_widths()
        out = np.empty((len(frame), n_scaled + n_missing + sum(widths) + len(self.embedded_columns_)),
                       dtype=np.float32)
        onehot_index = [self._onehot_index(c) for c in self.onehot_columns_]
        unscaled = [c for c in self.numeric_columns_ if c not in self.scaled_columns_]
        for begin in range(0, len(frame), _BLOCK_ROWS):
            block = frame.iloc[begin:begin + _BLOCK_ROWS]
            rows = np.arange(begin, begin + len(block))
            self._check_finite(block, unscaled)
            if n_scaled:
                values = numeric_values(block, self.scaled_columns_)
                self._check_finite(block, self.scaled_columns_, values)
                values = self._scaling.transform(values)
                values[np.isnan(values)] = 0.0  # missing: the centre of the scale
                out[rows[0]:rows[-1] + 1, :n_scaled] = values
            if n_missing:
                indicators = block[self.missing_indicator_columns_].isna().to_numpy()
                out[rows[0]:rows[-1] + 1, n_scaled:n_scaled + n_missing] = indicators
            left = n_scaled + n_missing
            for column, width, (index, unknown) in zip(self.onehot_columns_, widths, onehot_index):
                out[rows[0]:rows[-1] + 1, left:left + width] = 0.0
                positions = self._lookup(column).positions(block[column])
                found = positions >= 0
                target = np.where(found, index[np.maximum(positions, 0)], unknown)
                hit = target >= 0
                out[rows[hit], left + target[hit]] = 1.0
                left += width
            for column in self.embedded_columns_:
                # Codes 1..n for the categories seen in fit, 0 for any other (float32 holds them exactly).
                out[rows[0]:rows[-1] + 1, left] = self._lookup(column).positions(block[column]) + 1
                left += 1
        return out

    def _role(self, column) -> str:
        """What the preprocessing does with one column, in words."""
        if self._kinds[column] == NUMERIC:
            parts = [f"scaled ({self.numeric_scaling})" if column in self.scaled_columns_
                     else "dropped (never observed in fit)"]
            if column in self.missing_indicator_columns_:
                parts.append("missing indicator")
            return ", ".join(parts)
        categories = self.categories_[column]
        missing = ", missing one of them" if None in categories else ""
        if column in self.embedded_columns_:
            return f"embedded ({len(categories) + 1} codes: {len(categories)} categories{missing}, 0 for unseen ones)"
        infrequent = self._infrequent_positions[column]
        if infrequent:
            return (f"one-hot ({len(categories) - len(infrequent)} of {len(categories)} categories, the "
                    f"{len(infrequent)} rarest grouped as infrequent)")
        return f"one-hot ({len(categories)} categories{missing})"

    # ------------------------------------------------------------------ pickling
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ returns the live __dict__
        state.pop("_lookups", None)  # rebuilt on demand
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._lookups = {}


def _select(frame: pd.DataFrame, columns: list) -> pd.DataFrame:
    """``frame``'s ``columns``; the frame itself (no copy) when they are all of its columns."""
    return frame if list(frame.columns) == list(columns) else frame[columns]


def warn_unseen(found: list[str], fitted_on_first_call: bool) -> None:
    """The warning of an estimator's ``partial_fit`` that meets what its preprocessing never saw."""
    shown = "; ".join(found[:5]) + ("; ..." if len(found) > 5 else "")
    if fitted_on_first_call:
        advice = (
            "its preprocessing was fitted on the first partial_fit call's rows only, so these are encoded as "
            "unknown (or dropped) for good. Fit a TablePreprocessor over all the data first (partial_fit over the "
            "chunks, or fit on a dask DataFrame) and pass it as preprocessing=...: see the README, "
            "'Data larger than memory'"
        )
    else:
        advice = "they are encoded as unknown (or dropped): fit the preprocessing over all the data"
    warnings.warn(f"partial_fit met what the preprocessing never saw ({shown}); {advice}.", PreprocessingWarning,
                  stacklevel=find_stacklevel())

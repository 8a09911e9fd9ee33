"""Checks of data and hyperparameters that scikit-learn's own validation does not make."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from ._frames import check_dense_frame, temporal_columns, to_pandas
from ._net import is_skorch_callback

__all__ = [
    "FLOAT32_MAX",
    "PreprocessingWarning",
    "check_float32_range",
    "check_no_datetime_columns",
    "check_no_missing_targets",
    "text_in_array_hint",
    "validate_table",
    "warn_nearly_unique_column",
    "check_no_booleans_as_numbers",
    "check_optimizer",
    "check_device",
    "check_callbacks",
    "check_classes_argument",
    "column_names",
]

FLOAT32_MAX = float(np.finfo(np.float32).max)

#: A categorical column is "nearly unique" when it has at least this many distinct values ...
NEARLY_UNIQUE_MIN = 20
#: ... and more than this share of its observed rows.
NEARLY_UNIQUE_SHARE = 0.5


class PreprocessingWarning(UserWarning):
    """A column that the built-in preprocessing takes, but that will not help the model as it is.

    Raised for a categorical column with a different value in nearly every row (an
    identifier, or dates or numbers stored as text), and when ``partial_fit`` meets
    categories or columns its preprocessing never saw.
    """


def column_names(estimator, n_columns: int) -> list[str]:
    """How error messages name the columns: the DataFrame's names, or 'column i'."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and len(names) == n_columns:
        return [repr(str(n)) for n in names]
    return [f"column {i}" for i in range(n_columns)]


def check_float32_range(X: np.ndarray, names: list[str]) -> None:
    """Refuse values the float32 network cannot represent (they would become inf)."""
    if X.dtype == np.float32:
        return
    outside = np.abs(X) > FLOAT32_MAX
    if outside.any():
        columns = np.flatnonzero(outside.any(axis=0))
        shown = ", ".join(names[c] for c in columns[:5]) + (" ..." if len(columns) > 5 else "")
        worst = float(np.abs(X[:, columns[0]]).max())
        raise ValueError(
            f"Input X holds values outside the float32 range (|x| <= {FLOAT32_MAX:.3g}) that the network "
            f"computes in, in {shown} (largest |x| {worst:.3g}); rescale or clip these features."
        )


def check_no_datetime_columns(X) -> None:
    """Refuse DataFrame columns of dates, times or durations (pandas, polars, pyarrow, ...),
    which would silently become nanosecond counts."""
    for name, dtype in temporal_columns(X)[:1]:
        raise ValueError(
            f"Column {name!r} holds dates or durations ({dtype}); convert it to numbers that mean something "
            "for the task (e.g. days since a reference date, day of week) or drop it."
        )


def check_no_missing_targets(y) -> None:
    """Refuse missing labels or targets (None, NaN, pd.NA), saying it is ``y`` and how many rows."""
    if y is None:
        return
    values = y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
    if values.dtype.kind == "f":
        missing = np.isnan(values)
    elif values.dtype.kind == "O":
        missing = pd.isna(values)
    else:
        return
    if missing.ndim > 1:
        missing = missing.reshape(len(missing), -1).any(axis=1)
    n_missing = int(missing.sum())
    if n_missing:
        first = ", ".join(str(i) for i in np.flatnonzero(missing)[:5]) + (" ..." if n_missing > 5 else "")
        raise ValueError(
            f"y has missing values in {n_missing} of {len(missing)} rows (None or NaN; rows {first}); "
            "drop those rows from X and y (e.g. keep = pd.notna(y)) or fill them before fitting."
        )


def text_in_array_hint(error: ValueError, preprocessing) -> ValueError:
    """scikit-learn's 'could not convert string to float' error on an array, with what to do about it."""
    if "could not convert" not in str(error) and "string" not in str(error):
        return error
    advice = (
        "pass the table as a pandas (or polars, pyarrow) DataFrame: with preprocessing='auto' its text "
        "columns are encoded as categories"
    )
    if preprocessing is None:
        advice = "with preprocessing=None X must be numeric; " + advice
    return ValueError(f"{error}. X holds text; {advice}.")


#: Text that starts like a date: 2021-03-04, 2021/3/4, 04.03.2021, 3/4/21, optionally with a time.
def validate_table(estimator, X, reset: bool, allow_empty: bool = False):
    """The table the built-in preprocessing takes: any DataFrame as a pandas one (its columns of any
    dtype), anything else as a float array (NaN allowed); scikit-learn's checks of the columns
    (``n_features_in_``, ``feature_names_in_``) on ``estimator``, and clear errors for the rest."""
    frame = to_pandas(X)
    if frame is None:
        # float32 stays float32 (the preprocessing computes in it, half the memory); others become float64.
        try:
            return validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32],
                                 ensure_all_finite="allow-nan")
        except ValueError as error:
            raise text_in_array_hint(error, "auto") from error
    check_no_datetime_columns(frame)
    check_dense_frame(frame)
    validate_data(estimator, frame, reset=reset, skip_check_array=True)
    if frame.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={frame.shape}) while a minimum of 1 is required by "
            f"{type(estimator).__name__}."
        )
    if len(frame) == 0 and not allow_empty:
        raise ValueError(f"Found array with 0 sample(s) (shape={frame.shape}) while a minimum of 1 is required.")
    return frame


_DATE_LIKE = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T]\d{1,2}:\d{2}.*)?\s*$"
)


def _looks_like(values: list) -> str | None:
    """'dates' or 'numbers' when every one of these (text) values reads as one."""
    texts = [v for v in values if isinstance(v, str)]
    if not texts or len(texts) < len(values):
        return None
    if all(_DATE_LIKE.match(t) for t in texts):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(pd.Series(texts), errors="coerce", format="mixed")
        if parsed.notna().all():
            return "dates"
    if pd.to_numeric(pd.Series(texts), errors="coerce").notna().all():
        return "numbers"
    return None


def warn_nearly_unique_column(name, counts: dict, n_observed: int) -> bool:
    """Warn when a categorical column has a different value in nearly every row; True when it did.

    Nearly every row: at least :data:`NEARLY_UNIQUE_MIN` distinct values, and more than
    :data:`NEARLY_UNIQUE_SHARE` of the rows with a value. Such a column is encoded with
    one code (or one-hot column) per value, and rows at prediction time mostly bring
    values never seen in fit: it cannot help, and its noise can hurt.
    """
    n_distinct = len(counts)
    if n_distinct < NEARLY_UNIQUE_MIN or n_distinct <= NEARLY_UNIQUE_SHARE * n_observed:
        return False
    examples = list(counts)[:200]
    looks = _looks_like(examples)
    shown = ", ".join(repr(v) for v in examples[:3])
    if looks == "dates":
        advice = ("it holds dates stored as text: parse them with pd.to_datetime and convert them to numbers that "
                  "mean something for the task (e.g. days since a reference date, day of week), or drop it")
    elif looks == "numbers":
        advice = "it holds numbers stored as text: convert it with pd.to_numeric, or drop it"
    else:
        advice = "drop it if it is an identifier (names, ids, free text carry nothing a row at prediction time shares)"
    warnings.warn(
        f"Column {name!r} has {n_distinct} distinct values in {n_observed} rows ({shown}, ...): as categories "
        f"nearly every row gets one of its own, and rows at prediction time mostly get the code of an unseen "
        f"category, so the column cannot help and may hurt; {advice}.",
        PreprocessingWarning,
        stacklevel=find_stacklevel(),
    )
    return True


def find_stacklevel() -> int:
    """The stack level of the first frame outside sknoise (where a warning should point)."""
    import inspect

    frame, level = inspect.currentframe(), 0
    while frame is not None and frame.f_globals.get("__name__", "").startswith("sknoise"):
        frame, level = frame.f_back, level + 1
    return max(level, 1)


def check_no_booleans_as_numbers(estimator) -> None:
    """Refuse ``True``/``False`` where a number is expected (``isinstance(True, Real)`` holds in Python)."""
    for name, constraints in estimator._parameter_constraints.items():
        numeric = any(isinstance(c, Interval) for c in constraints)
        if numeric and "boolean" not in constraints and isinstance(getattr(estimator, name, None), bool):
            raise ValueError(f"{name} must be a number, not a boolean; got {getattr(estimator, name)!r}.")
    sizes = getattr(estimator, "hidden_layer_sizes", ())
    sizes = sizes if isinstance(sizes, (tuple, list)) else (sizes,)
    if any(isinstance(s, bool) for s in sizes):
        raise ValueError(f"hidden_layer_sizes must hold positive integers, not booleans; got {sizes!r}.")


def check_optimizer(optimizer) -> None:
    """A class given as ``optimizer`` must be a torch optimizer."""
    if isinstance(optimizer, type) and not issubclass(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer must be one of the names or a torch.optim.Optimizer subclass; got {optimizer!r}."
        )


def check_device(device) -> None:
    """The device must name a CPU or an available accelerator that sknoise supports."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device={device!r} is not a torch device; use 'cpu', 'cuda', 'cuda:N' or 'auto'.") from None
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device='mps' was requested but MPS is not available on this machine; use 'cpu'.")
    if parsed.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device={device!r} is not supported: sknoise trains on 'cpu', 'cuda' or 'mps'.")


def check_callbacks(callbacks) -> None:
    """Every entry must be a skorch callback (instance or class) or a ``(name, callback)`` pair."""
    for entry in callbacks or []:
        if not is_skorch_callback(entry):
            raise ValueError(
                "callbacks must hold skorch callbacks (skorch.callbacks.Callback instances) or "
                f"(name, callback) pairs; got {entry!r}."
            )


def check_classes_argument(classes) -> np.ndarray:
    """``partial_fit``'s ``classes``: a 1-D array-like of labels."""
    array = np.asarray(classes)
    if array.ndim != 1:
        raise ValueError(
            f"classes must be a 1-D array-like holding every label that will ever appear; got {classes!r}."
        )
    return array


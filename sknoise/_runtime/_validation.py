"""Checks of data and hyperparameters that scikit-learn's own validation does not make."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from ._net import is_skorch_callback

__all__ = [
    "FLOAT32_MAX",
    "check_float32_range",
    "check_no_datetime_columns",
    "check_no_booleans_as_numbers",
    "check_optimizer",
    "check_device",
    "check_callbacks",
    "check_classes_argument",
    "column_names",
]

FLOAT32_MAX = float(np.finfo(np.float32).max)


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
    """Refuse DataFrame columns of dates or durations, which would silently become nanosecond counts."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return
    for name, dtype in dtypes.items():
        if getattr(dtype, "kind", "") in "mM" or str(dtype).startswith("period"):
            raise ValueError(
                f"Column {name!r} holds dates or durations ({dtype}); convert it to numbers that mean something "
                "for the task (e.g. days since a reference date, day of week) or drop it."
            )


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


"""Robustness to corrupted inputs, for any scikit-learn classifier: tabular corruptions and accuracy curves."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

__all__ = ["available_corruptions", "corrupt", "robustness_curve", "plot_robustness"]


def _gaussian(X, severity, scale, rs):
    return X + severity * scale * rs.standard_normal(X.shape)


def _uniform(X, severity, scale, rs):
    # U(-sqrt 3, sqrt 3) has unit variance: severity is the standard deviation, as for 'gaussian'.
    return X + severity * scale * rs.uniform(-np.sqrt(3.0), np.sqrt(3.0), X.shape)


def _salt_pepper(X, severity, scale, rs):
    # Half the hit entries go to their column's maximum (salt), half to its minimum (pepper).
    low, high = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    u = rs.random_sample(X.shape)
    out = X.copy()
    salt, pepper = u < severity / 2, (u >= severity / 2) & (u < severity)
    out[salt] = np.broadcast_to(high, X.shape)[salt]
    out[pepper] = np.broadcast_to(low, X.shape)[pepper]
    return out


def _mask(X, severity, scale, rs):
    out = X.copy()
    out[rs.random_sample(X.shape) < severity] = np.nan
    return out


def _scale(X, severity, scale, rs):
    return X * (1.0 + severity)


def _shift(X, severity, scale, rs):
    return X + severity * scale


# name -> (function, whether severity is a fraction in [0, 1], description)
_CORRUPTIONS: dict[str, tuple[Callable, bool, str]] = {
    "gaussian": (_gaussian, False, "additive N(0, (severity * feature_scale)^2) noise"),
    "uniform": (_uniform, False, "additive uniform noise of standard deviation severity * feature_scale"),
    "salt_pepper": (_salt_pepper, True, "a fraction severity of entries set to their column's min or max"),
    "mask": (_mask, True, "a fraction severity of entries replaced by NaN (missing values)"),
    "scale": (_scale, False, "every feature multiplied by 1 + severity (a gain drift)"),
    "shift": (_shift, False, "every feature shifted by severity * feature_scale (an offset drift)"),
}


def available_corruptions() -> dict[str, str]:
    """Names of the tabular corruptions and what each does.

    Returns
    -------
    corruptions : dict of str to str
        Valid ``kind`` values of :func:`corrupt`, each with a one-line description.

    Examples
    --------
    >>> from sknoise import available_corruptions
    >>> sorted(available_corruptions())
    ['gaussian', 'mask', 'salt_pepper', 'scale', 'shift', 'uniform']
    """
    return {name: description for name, (_, _, description) in _CORRUPTIONS.items()}


def _feature_scale(X: np.ndarray, feature_scale) -> np.ndarray | float:
    if feature_scale is None:
        return 1.0
    if isinstance(feature_scale, str):
        if feature_scale != "std":
            raise ValueError(f"feature_scale must be None, 'std' or an array; got {feature_scale!r}.")
        std = np.nanstd(X, axis=0)
        # A constant column has no natural unit: use 1 rather than leave it uncorrupted.
        return np.where(std > 0, std, 1.0)
    scale = np.asarray(feature_scale, dtype=np.float64)
    if scale.ndim > 1 or (scale.ndim == 1 and scale.shape[0] != X.shape[1]):
        raise ValueError(f"feature_scale must be a scalar or hold one value per feature ({X.shape[1]}).")
    return scale


def _numeric_columns(frame) -> list:
    """The columns of a DataFrame that corruptions touch: numbers, not booleans or categories."""
    import pandas as pd

    return [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and not
            pd.api.types.is_bool_dtype(frame[c])]


def corrupt(
    X,
    kind: str,
    severity: float,
    *,
    random_state: int | np.random.RandomState | None = None,
    feature_scale: str | float | np.ndarray | None = "std",
):
    """Return a corrupted copy of a table.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or pandas DataFrame
        Numeric data (NaN allowed). A DataFrame keeps its columns, index and dtypes
        where it can: only its numeric columns are corrupted (categorical, string,
        boolean and other columns are returned unchanged), and a DataFrame comes back.
    kind : str
        One of :func:`available_corruptions`: ``'gaussian'`` and ``'uniform'``
        (additive noise of standard deviation ``severity``), ``'salt_pepper'`` (a
        fraction ``severity`` of entries set to their column's minimum or maximum),
        ``'mask'`` (a fraction ``severity`` of entries set to NaN: the model then needs
        to handle missing values, e.g. a pipeline starting with ``SimpleImputer``),
        ``'scale'`` (every feature times ``1 + severity``) and ``'shift'`` (every
        feature plus ``severity``); the last two are domain shifts.
    severity : float
        Non-negative; a fraction in ``[0, 1]`` for ``'salt_pepper'`` and ``'mask'``.
        0 leaves the data unchanged.
    random_state : int, RandomState instance or None, default=None
        Seeds the random corruptions.
    feature_scale : 'std', None, float or array of shape (n_features,), default='std'
        Unit in which ``severity`` is read by ``'gaussian'``, ``'uniform'`` and
        ``'shift'``: ``'std'`` for each column's standard deviation in ``X`` (so a
        severity means the same on every column, whatever its units), ``None`` for
        the units of ``X`` (e.g. standardized data), or explicit values (e.g.
        ``StandardScaler().scale_`` of the training data), one per corrupted column.

    Returns
    -------
    X_corrupted : ndarray of shape (n_samples, n_features), float64, or DataFrame

    Examples
    --------
    >>> import numpy as np
    >>> from sknoise import corrupt
    >>> X = np.random.default_rng(0).normal(0, 10, size=(1000, 3))
    >>> round(float((corrupt(X, "gaussian", 0.5, random_state=0) - X).std() / X.std()), 1)
    0.5
    >>> float(np.isnan(corrupt(X, "mask", 0.2, random_state=0)).mean()) < 0.25
    True
    """
    try:
        fn, is_fraction, _ = _CORRUPTIONS[kind]
    except KeyError:
        raise ValueError(f"Unknown corruption {kind!r}; valid kinds are {sorted(_CORRUPTIONS)}.") from None
    if not np.isfinite(severity) or severity < 0 or (is_fraction and severity > 1):
        bounds = "[0, 1]" if is_fraction else "[0, inf)"
        raise ValueError(f"severity of {kind!r} must lie in {bounds}; got {severity!r}.")
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        out = X.copy()
        columns = _numeric_columns(X)
        if columns:
            values = corrupt(X[columns].to_numpy(dtype=np.float64), kind, severity, random_state=random_state,
                             feature_scale=feature_scale)
            out[columns] = out[columns].astype(np.float64)
            out[columns] = values
        return out
    X = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan", copy=True)
    if severity == 0:
        return X
    return fn(X, float(severity), _feature_scale(X, feature_scale), check_random_state(random_state))


def robustness_curve(
    estimator,
    X,
    y,
    *,
    kinds: Sequence[str] | None = None,
    severities: Sequence[float] = (0.0, 0.1, 0.25, 0.5, 1.0),
    n_repeats: int = 1,
    random_state: int | np.random.RandomState | None = None,
    feature_scale: str | float | np.ndarray | None = "std",
    scoring: str | Callable | None = None,
):
    """Score a fitted classifier on corrupted copies of ``(X, y)``, for each kind and severity.

    Parameters
    ----------
    estimator : fitted scikit-learn classifier or pipeline
        Anything with ``predict`` (and whatever ``scoring`` needs). For ``'mask'`` it
        must accept NaN, e.g. a pipeline that starts with an imputer.
    X : array-like of shape (n_samples, n_features) or pandas DataFrame
        Clean evaluation data, in the estimator's input units; a DataFrame is
        corrupted in its numeric columns and handed to the estimator as a DataFrame
        (e.g. to a pipeline that selects columns by name).
    y : array-like of shape (n_samples,)
        True labels.
    kinds : sequence of str or None, default=None
        Corruptions to apply (:func:`available_corruptions`); ``None`` for all. Fraction
        kinds skip severities above 1.
    severities : sequence of float, default=(0.0, 0.1, 0.25, 0.5, 1.0)
        Severities to evaluate; 0 gives the clean score.
    n_repeats : int, default=1
        Independent corruptions per (kind, severity), averaged.
    random_state : int, RandomState instance or None, default=None
        Seeds the corruptions; the same seed gives every estimator the same corrupted data.
    feature_scale : 'std', None, float or array, default='std'
        See :func:`corrupt`.
    scoring : str, callable or None, default=None
        A scikit-learn scorer name or ``scorer(estimator, X, y)``; ``None`` is accuracy.

    Returns
    -------
    curve : pandas.DataFrame
        One row per (kind, severity) with columns ``kind``, ``severity``, ``score``
        (mean over repeats) and ``score_std``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sknoise import robustness_curve
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=500).fit(X, y)
    >>> df = robustness_curve(clf, X, y, kinds=["gaussian"], severities=[0, 1], random_state=0)
    >>> df.columns.tolist()
    ['kind', 'severity', 'score', 'score_std']
    >>> bool(df.score.iloc[0] >= df.score.iloc[1])
    True
    """
    pd = _require("pandas", "robustness_curve")
    from sklearn.metrics import check_scoring

    scorer = check_scoring(estimator, scoring=scoring) if scoring is not None else None
    kinds = list(_CORRUPTIONS) if kinds is None else list(kinds)
    unknown = [k for k in kinds if k not in _CORRUPTIONS]
    if unknown:
        raise ValueError(f"Unknown corruptions {unknown}; valid kinds are {sorted(_CORRUPTIONS)}.")
    if not hasattr(X, "columns"):
        X = check_array(X, dtype=np.float64, ensure_all_finite="allow-nan")
    y = np.asarray(y)
    rs = check_random_state(random_state)
    rows = []
    for kind in kinds:
        for severity in severities:
            if _CORRUPTIONS[kind][1] and severity > 1:
                continue
            scores = []
            for _ in range(n_repeats):
                X_bad = corrupt(X, kind, severity, random_state=rs.randint(np.iinfo(np.int32).max),
                                feature_scale=feature_scale)
                scores.append(scorer(estimator, X_bad, y) if scorer else np.mean(estimator.predict(X_bad) == y))
            rows.append({"kind": kind, "severity": float(severity), "score": float(np.mean(scores)),
                         "score_std": float(np.std(scores))})
    return pd.DataFrame(rows, columns=["kind", "severity", "score", "score_std"])


def plot_robustness(curve, axes=None, *, label: str | None = None):
    """Draw score against severity: one panel per corruption kind, one line per estimator.

    Parameters
    ----------
    curve : pandas.DataFrame
        The output of :func:`robustness_curve`, possibly several concatenated with an
        ``estimator`` column naming each model.
    axes : matplotlib Axes, sequence of Axes or None, default=None
        Where to draw, one Axes per kind (in the order the kinds first appear); a new
        figure with one panel per kind when ``None``.
    label : str or None, default=None
        Prefix of every line's legend entry.

    Returns
    -------
    axes : ndarray of matplotlib Axes
        One per kind.

    Examples
    --------
    >>> import pandas as pd
    >>> from sknoise import plot_robustness
    >>> df = pd.DataFrame({"kind": ["gaussian"] * 2 + ["shift"] * 2, "severity": [0.0, 0.5] * 2,
    ...                    "score": [0.9, 0.7, 0.9, 0.8], "score_std": [0.0, 0.01, 0.0, 0.02]})
    >>> axes = plot_robustness(df, label="mlp")
    >>> [ax.get_title() for ax in axes]
    ['gaussian', 'shift']
    """
    _require("matplotlib", "plot_robustness")
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(curve["kind"]))
    if axes is None:
        _, axes = plt.subplots(1, len(kinds), figsize=(4 * len(kinds), 3.5), squeeze=False, sharey=True)
    axes = np.ravel(np.asarray(axes, dtype=object))
    if len(axes) != len(kinds):
        raise ValueError(f"plot_robustness needs one Axes per corruption kind ({len(kinds)}); got {len(axes)}.")
    by_estimator = "estimator" in curve and curve["estimator"].nunique() > 1
    for ax, kind in zip(axes, kinds):
        part = curve[curve["kind"] == kind]
        groups = part.groupby("estimator", sort=False) if by_estimator else [(None, part)]
        for name, rows in groups:
            text = " ".join(str(t) for t in (label, name) if t is not None) or kind
            rows = rows.sort_values("severity")
            ax.errorbar(rows["severity"], rows["score"], yerr=rows["score_std"], marker="o", capsize=2, label=text)
        ax.set_title(kind)
        ax.set_xlabel("severity")
        ax.legend(fontsize="small")
    axes[0].set_ylabel("score")
    return axes


def _require(module: str, caller: str):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"{caller} needs {module}: pip install 'sknoise[plots]'.") from None

"""Uncertainty metrics for any scikit-learn classifier's ``predict_proba``.

Calibration (expected calibration error, reliability diagrams), proper scores (Brier
score, negative log-likelihood) and selective prediction (the risk–coverage curve and
the area under it: how well the confidence ranks the errors).

Every function takes the true labels and a ``(n_samples, n_classes)`` probability
matrix whose columns follow ``classes`` (default: the sorted labels of ``y_true``, as
scikit-learn's ``classes_`` are).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "expected_calibration_error",
    "brier_score",
    "negative_log_likelihood",
    "risk_coverage_curve",
    "area_under_risk_coverage",
    "plot_reliability_diagram",
    "plot_risk_coverage",
]


def _labels_and_proba(y_true, proba, classes):
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or len(proba) != len(y_true):
        raise ValueError(f"proba must have shape (n_samples, n_classes) with n_samples={len(y_true)}; "
                         f"got {proba.shape}.")
    classes = np.unique(y_true) if classes is None else np.asarray(classes)
    if proba.shape[1] != len(classes):
        raise ValueError(f"proba has {proba.shape[1]} columns but there are {len(classes)} classes; pass "
                         "classes= (e.g. the estimator's classes_) when y_true lacks some of them.")
    index = np.searchsorted(classes, y_true)
    index = np.clip(index, 0, len(classes) - 1)
    if np.any(classes[index] != y_true):
        raise ValueError(f"y_true holds labels outside classes {classes.tolist()}.")
    return index, proba


def expected_calibration_error(y_true, proba, *, n_bins: int = 15, classes=None) -> float:
    """Expected calibration error of the predicted class (top-label ECE).

    The rows are binned by their confidence (the largest probability) into
    ``n_bins`` equal-width bins; the ECE is the row-weighted mean over bins of
    ``|accuracy - mean confidence|``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : array-like of shape (n_samples, n_classes)
    n_bins : int, default=15
    classes : array-like, optional
        The labels of the columns of ``proba``.

    Returns
    -------
    float
        In [0, 1]; 0 is perfectly calibrated.

    Examples
    --------
    >>> from sknoise.metrics import expected_calibration_error
    >>> # One row per bin: |1 - 0.9|, |1 - 0.8|, |1 - 0.6| and |0 - 0.7|, averaged.
    >>> round(expected_calibration_error([0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]]), 4)
    0.35
    """
    y, proba = _labels_and_proba(y_true, proba, classes)
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        members = bins == b
        ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)


def brier_score(y_true, proba, *, classes=None) -> float:
    """Multiclass Brier score: the mean over rows of ``sum_k (p_k - [y = k])^2`` (0 is perfect, 2 the worst).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : array-like of shape (n_samples, n_classes)
    classes : array-like, optional

    Returns
    -------
    float

    Examples
    --------
    >>> from sknoise.metrics import brier_score
    >>> round(brier_score([0, 1], [[0.8, 0.2], [0.5, 0.5]]), 4)
    0.29
    """
    y, proba = _labels_and_proba(y_true, proba, classes)
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(y)), y] = 1.0
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def negative_log_likelihood(y_true, proba, *, classes=None, eps: float = 1e-15) -> float:
    """Mean negative log-probability of the true class (the log loss), probabilities clipped at ``eps``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : array-like of shape (n_samples, n_classes)
    classes : array-like, optional
    eps : float, default=1e-15

    Returns
    -------
    float
    """
    y, proba = _labels_and_proba(y_true, proba, classes)
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], eps, 1.0))))


def risk_coverage_curve(y_true, proba, *, classes=None, confidence=None) -> tuple[np.ndarray, np.ndarray]:
    """Selective prediction: the error rate among the most confident rows, for every coverage.

    The rows are sorted by decreasing confidence (the largest probability, or
    ``confidence`` if given, e.g. a negative predictive spread); keeping the first
    ``i`` rows covers ``i / n`` of them with a risk of their error rate.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : array-like of shape (n_samples, n_classes)
    classes : array-like, optional
    confidence : array-like of shape (n_samples,), optional
        Scores to rank by (higher: more confident); default ``proba.max(axis=1)``.

    Returns
    -------
    coverage, risk : ndarray of shape (n_samples,)
    """
    y, proba = _labels_and_proba(y_true, proba, classes)
    score = proba.max(axis=1) if confidence is None else np.asarray(confidence, dtype=np.float64)
    order = np.argsort(-score, kind="stable")
    errors = (proba.argmax(axis=1) != y)[order]
    kept = np.arange(1, len(y) + 1)
    return kept / len(y), np.cumsum(errors) / kept


def area_under_risk_coverage(y_true, proba, *, classes=None, confidence=None) -> float:
    """Area under the risk–coverage curve (AURC; lower is better): the mean risk over all coverages.

    A confidence that ranks every error last reaches the minimum for the model's
    error rate; one that ranks at random gives about the error rate itself.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : array-like of shape (n_samples, n_classes)
    classes : array-like, optional
    confidence : array-like of shape (n_samples,), optional

    Returns
    -------
    float

    Examples
    --------
    >>> from sknoise.metrics import area_under_risk_coverage
    >>> # The one error is the least confident row: risks 0, 0, 1/3 at coverages 1/3, 2/3, 1.
    >>> round(area_under_risk_coverage([0, 0, 1], [[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]]), 4)
    0.1111
    """
    _, risk = risk_coverage_curve(y_true, proba, classes=classes, confidence=confidence)
    return float(risk.mean())


def plot_reliability_diagram(y_true, proba, *, n_bins: int = 15, classes=None, ax=None, label: str | None = None):
    """Accuracy against confidence per bin (a reliability diagram), with the diagonal.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : array-like of shape (n_samples, n_classes)
    n_bins : int, default=15
    classes : array-like, optional
    ax : matplotlib Axes, optional
    label : str, optional
        Legend entry (the ECE is appended).

    Returns
    -------
    ax : matplotlib Axes
    """
    import matplotlib.pyplot as plt

    y, proba = _labels_and_proba(y_true, proba, classes)
    ax = plt.figure().add_subplot() if ax is None else ax
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    used = np.unique(bins)
    conf = [confidence[bins == b].mean() for b in used]
    acc = [correct[bins == b].mean() for b in used]
    ece = expected_calibration_error(y, proba, n_bins=n_bins, classes=np.arange(proba.shape[1]))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.plot(conf, acc, marker="o", label=f"{label or 'model'} (ECE {ece:.3f})")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize="small")
    return ax


def plot_risk_coverage(y_true, proba, *, classes=None, confidence=None, ax=None, label: str | None = None):
    """The risk–coverage curve of :func:`risk_coverage_curve`.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    proba : array-like of shape (n_samples, n_classes)
    classes : array-like, optional
    confidence : array-like of shape (n_samples,), optional
    ax : matplotlib Axes, optional
    label : str, optional
        Legend entry (the AURC is appended).

    Returns
    -------
    ax : matplotlib Axes
    """
    import matplotlib.pyplot as plt

    coverage, risk = risk_coverage_curve(y_true, proba, classes=classes, confidence=confidence)
    ax = plt.figure().add_subplot() if ax is None else ax
    ax.plot(coverage, risk, label=f"{label or 'model'} (AURC {risk.mean():.3f})")
    ax.set_xlabel("coverage")
    ax.set_ylabel("risk (error rate)")
    ax.legend(fontsize="small")
    return ax

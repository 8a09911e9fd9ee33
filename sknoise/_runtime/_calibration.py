"""Post-hoc temperature scaling: one scalar fitted on labelled (held-out) rows.

Both kinds of classifier use it: the logit networks divide every pass's logits by ``T``
(``calibration='temperature'``), the EBM divides its energies by ``τ`` in
``softmax(-E/τ + log π)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize_scalar

__all__ = ["fit_temperature", "SMALL_SAMPLE"]

#: Below this many calibration rows the temperature errs towards the class shares.
SMALL_SAMPLE = 500


def fit_temperature(
    log_proba_at: Callable[[float], np.ndarray],
    y: np.ndarray,
    spread: float,
    weights: np.ndarray | None = None,
    prior: float | None = None,
) -> float:
    """The temperature for labelled rows, from ``log_proba_at(t) -> (rows, K)`` log-probabilities.

    The (sample-weighted) log loss is evaluated on a grid of ``log t`` (three decades
    either side of ``spread``, the scale of the scores), with the targets smoothed
    towards uniform by ``ε = 1/(K n + 1)`` for ``n`` rows and ``K`` classes, so that a
    sample the model happens to separate perfectly does not send ``t`` to 0. On fewer
    than :data:`SMALL_SAMPLE` rows, of the temperatures whose mean loss lies within one
    standard error of the best (the one-standard-error rule: on a small sample the
    minimum is noisy) the one closest to ``prior`` is taken, or without a prior the
    largest, which errs towards the class shares rather than towards overconfidence.
    On more rows, the minimum.

    Parameters
    ----------
    log_proba_at : callable
        Log-probabilities of the rows at a temperature.
    y : ndarray of shape (rows,)
        Encoded labels.
    spread : float
        Scale of the scores (e.g. their standard deviation); the grid is centred on it.
    weights : ndarray of shape (rows,), optional
        Sample weights.
    prior : float, optional
        The temperature to keep unless the sample says otherwise (1 for a network whose
        training already fitted its probabilities: early stopping on the log loss).

    Returns
    -------
    float
    """
    spread = spread if math.isfinite(spread) and spread > 0 else 1.0
    taus = spread * np.logspace(-3, 3, 121)
    w = np.ones(len(y)) if weights is None else weights / weights.mean()
    rows = np.arange(len(y))
    losses = []
    for tau in taus:
        log_p = log_proba_at(float(tau))
        eps = 1.0 / (log_p.shape[1] * len(y) + 1)
        losses.append(-((1 - eps) * log_p[rows, y] + eps * log_p.mean(axis=1)))
    losses = np.asarray(losses)
    mean = (losses * w).mean(axis=1)
    best = int(np.argmin(mean))
    standard_error = ((losses - losses[best]) * w).std(axis=1) / math.sqrt(len(y))
    if len(y) >= SMALL_SAMPLE:
        # Refine the grid's best point (a 12% step) with a bounded scalar search.
        lo, hi = math.log(taus[max(best - 1, 0)]), math.log(taus[min(best + 1, len(taus) - 1)])

        def loss(log_t: float) -> float:
            log_p = log_proba_at(math.exp(log_t))
            eps = 1.0 / (log_p.shape[1] * len(y) + 1)
            return float((-((1 - eps) * log_p[rows, y] + eps * log_p.mean(axis=1)) * w).mean())

        return float(math.exp(minimize_scalar(loss, bounds=(lo, hi), method="bounded").x))
    within = np.flatnonzero(mean <= mean[best] + standard_error)
    if prior is None:
        return float(taus[within.max()])
    if taus[within.min()] <= prior <= taus[within.max()]:
        return float(prior)  # the prior itself when it lies inside the band (the grid only comes near it)
    return float(taus[within[np.argmin(np.abs(np.log(taus[within] / prior)))]])

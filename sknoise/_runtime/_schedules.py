"""Noise schedules: the training noise scale as a function of the epoch."""

from __future__ import annotations

import math
from collections.abc import Callable

from skorch.callbacks import Callback

__all__ = ["NOISE_SCHEDULES", "NoiseScheduler", "noise_schedule_factor"]

NOISE_SCHEDULES = ("constant", "linear", "exponential", "cosine")

# An exponential decay cannot reach 0; a requested end of 0 stops here instead.
_EXPONENTIAL_FLOOR = 1e-3


def noise_schedule_factor(schedule: str | Callable, epoch: int, n_epochs: int, end: float = 0.0) -> float:
    """The factor that multiplies every training noise scale at ``epoch``.

    Every built-in schedule starts at 1 on epoch 0 and reaches ``end`` on the last
    epoch ``n_epochs - 1`` (and stays there if training goes on, e.g. with partial_fit).

    Parameters
    ----------
    schedule : {'constant', 'linear', 'exponential', 'cosine'} or callable
        ``'constant'``: always 1. ``'linear'``: ``1 + (end - 1) r``. ``'exponential'``:
        ``end ** r`` (geometric; an ``end`` of 0 is replaced by 1e-3). ``'cosine'``:
        ``end + (1 - end) (1 + cos(π r)) / 2``; where ``r = epoch / (n_epochs - 1)``.
        A callable is called as ``schedule(epoch, n_epochs)`` and returns the factor.
    epoch : int
        Zero-based epoch index.
    n_epochs : int
        Length of the schedule (the estimator's ``max_epochs``).
    end : float, default=0.0
        The factor reached on the last epoch.

    Returns
    -------
    float
        A non-negative factor.

    Examples
    --------
    >>> from sknoise import noise_schedule_factor
    >>> [round(noise_schedule_factor("linear", e, 5), 2) for e in range(5)]
    [1.0, 0.75, 0.5, 0.25, 0.0]
    """
    if callable(schedule):
        factor = float(schedule(epoch, n_epochs))
        if not (math.isfinite(factor) and factor >= 0):
            raise ValueError(f"The noise schedule callable returned {factor!r}; it must return a finite factor >= 0.")
        return factor
    r = min(epoch / max(n_epochs - 1, 1), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 + (end - 1.0) * r
    if schedule == "exponential":
        return max(end, _EXPONENTIAL_FLOOR) ** r
    if schedule == "cosine":
        return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * r))
    raise ValueError(f"Unknown noise schedule {schedule!r}; valid names are {list(NOISE_SCHEDULES)} or a callable.")


class NoiseScheduler(Callback):
    """Set the training noise scale factor at the start of every epoch and record it.

    The factor lives on the module's :class:`~sknoise.NoiseRNG` (``train_scale_factor``),
    which every noise source of the network reads. The history gets
    ``noise_scale_factor`` and ``noise_scale`` (the base scale times the factor).

    Parameters
    ----------
    schedule : str or callable
        See :func:`noise_schedule_factor`.
    n_epochs : int
        Length of the schedule.
    end : float
        Factor reached on the last epoch.
    base_scale : float or None
        The estimator's ``noise_scale``, for the history (None: the estimator has no
        noise layers, only noise sources with constants of their own).
    """

    def __init__(self, schedule, n_epochs: int, end: float, base_scale: float | None) -> None:
        self.schedule = schedule
        self.n_epochs = n_epochs
        self.end = end
        self.base_scale = base_scale

    def on_epoch_begin(self, net, **kwargs) -> None:
        epoch = len(net.history) - 1  # skorch has already opened this epoch's row
        factor = noise_schedule_factor(self.schedule, epoch, self.n_epochs, self.end)
        net.module_.noise_rng.train_scale_factor = factor
        net.history.record("noise_scale_factor", factor)
        if self.base_scale is not None:
            net.history.record("noise_scale", self.base_scale * factor)

"""Noise schedules: the training noise scale as a function of the epoch."""

from __future__ import annotations

import math
from collections.abc import Callable

from skorch.callbacks import Callback

__all__ = [
    "NOISE_SCHEDULES", "NoiseScheduler", "noise_schedule_factor", "LR_SCHEDULES", "LRScheduler", "lr_schedule_factor",
]

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

    The module hands the factor to its noise sources that follow a schedule
    (:meth:`~sknoise.NoisyModule.set_schedule_factor`). The history gets
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
        net.module_.set_schedule_factor(factor)
        net.history.record("noise_scale_factor", factor)
        if self.base_scale is not None:
            net.history.record("noise_scale", self.base_scale * factor)


LR_SCHEDULES = ("constant", "cosine", "flat_cosine")


def lr_schedule_factor(schedule: str, progress: float) -> float:
    """The factor of the learning rate at ``progress`` in [0, 1] of a fit's step budget.

    ``'constant'``: 1. ``'cosine'``: ``(1 + cos(π p)) / 2``, from 1 down to 0.
    ``'flat_cosine'``: 1 for the first half, then a cosine down to 0 over the second.
    """
    p = min(max(progress, 0.0), 1.0)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    if schedule == "flat_cosine":
        return 1.0 if p < 0.5 else 0.5 * (1.0 + math.cos(math.pi * (2 * p - 1)))
    return 1.0


class LRScheduler(Callback):
    """Set the learning rate of every step of ``fit`` from its position in the step budget.

    The budget is ``max_epochs`` epochs of the fit's mini-batches; early stopping may end
    the fit before the schedule does (the best epoch is kept either way). ``partial_fit``
    trains at the constant ``lr`` (it has no budget): :attr:`steps` is None then.

    Parameters
    ----------
    schedule : {'constant', 'cosine', 'flat_cosine'}
    lr : float
        The peak learning rate.
    """

    def __init__(self, schedule: str, lr: float) -> None:
        self.schedule = schedule
        self.lr = lr
        self.steps: int | None = None

    def on_train_begin(self, net, **kwargs) -> None:
        self.step_ = 0

    def on_batch_begin(self, net, batch=None, training=None, **kwargs) -> None:
        if not training or self.steps is None:
            return
        lr = self.lr * lr_schedule_factor(self.schedule, self.step_ / max(self.steps - 1, 1))
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
        self.step_ += 1

"""The NINR architecture: Noise Injection Node Regularization.

N. Levi, I. M. Bloch, M. Freytsis, T. Volansky, "Noise Injection Node Regularization for
Robust Learning", 2022, arXiv:2210.15764; the training phases are from their "Noise
Injection as a Probe of Deep Learning Dynamics", 2022, arXiv:2210.13599.
"""

from __future__ import annotations

import math

import numpy as np
from skorch.callbacks import Callback

from .._runtime._architecture import Architecture, network_arguments
from ..nn._layers import NoiseRNG
from ..nn._networks import NINRNet, niw_norms
from ..nn._noise import MULTIPLICATIVE_NOISES

__all__ = ["NINRArchitecture", "NINRAttributes", "NIWNormRecorder", "ninr_phase", "NINR_PHASES"]

NINR_PHASES = ("decoupled", "decay", "catapult", "divergent")


def _total_norm(norms: list[float]) -> float:
    return math.sqrt(sum(n * n for n in norms))


class NIWNormRecorder(Callback):
    """Write the noise-injection weight norms into the skorch history, once per epoch.

    Keys of each epoch's row: ``niw_norm_start`` and ``niw_norm`` (the overall L2 norm
    of all NIWs at the start and at the end of the epoch), ``niw_norm_max`` (its
    largest value after any training step of the epoch, so that a catapult within one
    epoch is not missed) and ``niw_norm_per_layer`` (the end-of-epoch norm of each
    node, first layer first).
    """

    def on_epoch_begin(self, net, **kwargs) -> None:
        norm = _total_norm(niw_norms(net.module_))
        self.max_ = norm
        net.history.record("niw_norm_start", norm)

    def on_batch_end(self, net, batch=None, training=None, **kwargs) -> None:
        if training:
            self.max_ = max(self.max_, _total_norm(niw_norms(net.module_)))

    def on_epoch_end(self, net, **kwargs) -> None:
        norms = niw_norms(net.module_)
        net.history.record("niw_norm", _total_norm(norms))
        net.history.record("niw_norm_max", self.max_)
        net.history.record("niw_norm_per_layer", norms)


def ninr_phase(history, *, rise: float = 1.5, fall: float = 0.5, decay_to: float = 0.5, blow_up: float = 10.0) -> str:
    """Name the training phase of a NINR run from its NIW-norm trajectory.

    The poster's SGD dynamics, ``W_NI ← (1 - ½ησ²H) W_NI - ησ/√B g``, give an
    exponential factor and a random walk. While ``|1 - ½ησ²H| < 1`` the factor shrinks
    the NIWs: slowly for small noise (they hardly move within the training budget),
    fast for larger noise. Past ``|1 - ησ²H| ≥ 1`` the NIWs first grow (the network
    learns on noise) and then either de-noise or fail. With ``n_0`` the norm at the
    start of training, ``n_max`` the largest norm after any step and ``n_end`` the
    final norm, the phase is, checked in this order:

    - ``'divergent'``: a training loss or a norm is not finite, or ``n_end ≥ blow_up·n_0``,
      or the norm rose (``n_max ≥ rise·n_0``) and did not come back down
      (``n_end > fall·n_max``): the run failed to de-noise;
    - ``'catapult'``: the norm rose (``n_max ≥ rise·n_0``) and then fell to at most
      ``fall·n_max``;
    - ``'decay'``: no such rise, and the norm decayed to ``n_end ≤ decay_to·n_0``;
    - ``'decoupled'``: otherwise: the NIWs barely moved, so noise and learning stayed
      decoupled for the whole run.

    A fit whose loss turns non-finite stops with
    :class:`sknoise.TrainingDivergedError` and leaves no history: a study should
    count it as ``'divergent'`` too.

    The defaults (a 50 % rise, a fall to half the peak, a decay to half the initial
    norm, a tenfold blow-up) are ours: the poster gives no numbers. They are
    keyword arguments so that a study can state its own.

    Parameters
    ----------
    history : skorch History, list of dict, or fitted NINRClassifier
        A history whose rows hold the keys written by :class:`NIWNormRecorder`.
    rise, fall, decay_to, blow_up : float
        Thresholds of the criterion above.

    Returns
    -------
    phase : {'decoupled', 'decay', 'catapult', 'divergent'}

    Examples
    --------
    >>> from sknoise import ninr_phase
    >>> rows = [{"niw_norm_start": 10.0, "niw_norm_max": 10.0, "niw_norm": 4.0, "train_loss": 0.3},
    ...         {"niw_norm_start": 4.0, "niw_norm_max": 4.0, "niw_norm": 1.0, "train_loss": 0.2}]
    >>> ninr_phase(rows)
    'decay'
    """
    if hasattr(history, "history_"):
        history = history.history_
    rows = list(history)
    if not rows or "niw_norm" not in rows[0]:
        raise ValueError("ninr_phase needs a history recorded by NIWNormRecorder (the history_ of a NINRClassifier).")
    start = rows[0]["niw_norm_start"]
    peak = max(max(r["niw_norm_max"] for r in rows), start)
    end = rows[-1]["niw_norm"]
    losses = [r.get("train_loss", 0.0) for r in rows]
    if not np.all(np.isfinite([start, peak, end, *losses])) or end >= blow_up * start:
        return "divergent"
    if peak >= rise * start:
        return "catapult" if end <= fall * peak else "divergent"
    return "decay" if end <= decay_to * start else "decoupled"


class NINRArchitecture(Architecture):
    """:class:`~sknoise.nn.NINRNet`: noise injection nodes at the first or every layer, their norms recorded."""

    name = "ninr"
    groups = ("embedding", "ninr")
    history_keys_not_printed = ("niw_norm_per_layer",)

    def build(self, est, n_features: int, n_outputs: int, rng: NoiseRNG) -> NINRNet:
        return NINRNet(n_features, n_outputs, nin_placement=est.nin_placement, niw_init_scale=est.niw_init_scale,
                       **network_arguments(est, rng))

    def check_params(self, est) -> None:
        for name in ("noise", "inference_noise"):
            value = getattr(est, name)
            if isinstance(value, str) and value in MULTIPLICATIVE_NOISES:
                raise ValueError(
                    f"{name}={value!r} is multiplicative, but a noise injection node carries additive noise "
                    "(a mask of a zero signal is zero); choose an additive kind such as 'gaussian'."
                )

    def settings(self, est) -> str:
        return f"nin_placement={est.nin_placement!r}, niw_init_scale={est.niw_init_scale!r}"

    def callbacks(self, est) -> list:
        return [("niw_norm", NIWNormRecorder())]


class NINRAttributes:
    """Mixin of the NINR estimators: their read-only fitted attributes, read from the history."""

    @property
    def niw_norm_curve_(self) -> list[float]:
        """Overall L2 norm of the noise-injection weights at the end of each epoch."""
        return self.history_[:, "niw_norm"]

    @property
    def phase_(self) -> str:
        """The training phase named by :func:`ninr_phase` with its default thresholds."""
        return ninr_phase(self.history_)

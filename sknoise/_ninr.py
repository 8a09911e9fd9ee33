"""NINRClassifier and NINRRegressor: Noise Injection Node Regularization.

N. Levi, I. M. Bloch, M. Freytsis, T. Volansky, "Noise Injection Node Regularization for
Robust Learning", 2022, arXiv:2210.15764; the training phases are from their "Noise
Injection as a Probe of Deep Learning Dynamics", 2022, arXiv:2210.13599.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from optuna.distributions import CategoricalDistribution, FloatDistribution
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.callbacks import Callback
from torch import nn

from ._runtime._docs import (
    CLASSIFIER_ATTRIBUTES_DOC,
    CLASSIFIER_PARAMETERS_DOC,
    COMMON_ATTRIBUTES_DOC,
    EMBEDDING_PARAMETERS_DOC,
    LABEL_SMOOTHING_DOC,
    REGRESSOR_ATTRIBUTES_DOC,
    REGRESSOR_PARAMETERS_DOC,
    parameters_doc,
)
from ._runtime._estimator import store_init_params
from ._runtime._tasks import LogitNetClassifier, NoisyNetRegressor
from .nn._layers import NoiseRNG, NoiseSpec
from .nn._networks import NINRNet, niw_norms
from .nn._noise import MULTIPLICATIVE_NOISES

__all__ = ["NINRClassifier", "NINRRegressor", "NIWNormRecorder", "ninr_phase", "NINR_PHASES", "NIN_PLACEMENTS"]

NIN_PLACEMENTS = ("input", "all")
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
    :class:`~sknoise._net.TrainingDivergedError` and leaves no history: a study should
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


class _NINRNetwork:
    """What both NINR estimators share: the network with its nodes, their parameters and callbacks."""

    _network_constraints: dict = {
        "max_onehot": [Interval(Integral, 0, None, closed="left")],
        "numeric_embedding": [StrOptions({"periodic"}), None],
        "nin_placement": [StrOptions(set(NIN_PLACEMENTS))],
        "niw_init_scale": [Interval(Real, 0, None, closed="left")],
    }

    _search_space_extra = {
        "optuna": {
            "nin_placement": CategoricalDistribution(NIN_PLACEMENTS),
            "niw_init_scale": FloatDistribution(0.1, 3.0, log=True),
            # σ_ε spans the phases: decay at small noise, catapult and divergence at large.
            "noise_scale": FloatDistribution(0.05, 10.0, log=True),
        },
        "grid": {"nin_placement": ["input", "all"], "noise_scale": [0.1, 0.5, 1.0, 2.0]},
    }

    _history_keys_not_printed = ("niw_norm_per_layer",)

    def _numeric_embedding(self) -> str | None:
        return self.numeric_embedding

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("noise", "inference_noise"):
            value = getattr(self, name)
            if isinstance(value, str) and value in MULTIPLICATIVE_NOISES:
                raise ValueError(
                    f"{name}={value!r} is multiplicative, but a noise injection node carries additive noise "
                    "(a mask of a zero signal is zero); choose an additive kind such as 'gaussian'."
                )

    def _build_module(self, n_features: int, n_outputs: int, rng: NoiseRNG) -> nn.Module:
        return NINRNet(
            n_features,
            n_outputs,
            self._hidden_sizes,
            self._activation_factory(rng),
            NoiseSpec.make(self.noise, self.noise_scale),
            self.nin_placement,
            self.niw_init_scale,
            rng,
            n_members=self.n_members,
        )

    def _divergence_settings(self) -> str:
        return (f"{super()._divergence_settings()}, nin_placement={self.nin_placement!r}, "
                f"niw_init_scale={self.niw_init_scale!r}")

    def _extra_callbacks(self) -> list:
        return [("niw_norm", NIWNormRecorder())]

    @property
    def niw_norm_curve_(self) -> list[float]:
        """Overall L2 norm of the noise-injection weights at the end of each epoch."""
        return self.net_.history[:, "niw_norm"]

    @property
    def phase_(self) -> str:
        """The training phase named by :func:`ninr_phase` with its default thresholds."""
        return ninr_phase(self.net_.history)




class NINRClassifier(_NINRNetwork, LogitNetClassifier):
    _parameter_constraints: dict = {
        **LogitNetClassifier._parameter_constraints,
        **_NINRNetwork._network_constraints,
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        *,
        preprocessing="auto",
        numeric_scaling="robust",
        max_onehot=9,
        numeric_embedding=None,
        activation="relu",
        nin_placement="input",
        noise="gaussian",
        noise_scale=1.0,
        niw_init_scale=1.0,
        inference_noise=None,
        inference_noise_scale=None,
        n_inference_samples=32,
        inference_memory_mb=None,
        noise_schedule="constant",
        noise_schedule_end=0.0,
        noise_schedule_epochs=None,
        activation_mixing=None,
        activation_noise_constant=None,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        momentum=0.9,
        beta2=0.999,
        lr_schedule="constant",
        batch_size="auto",
        max_epochs=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        label_smoothing=0.0,
        calibration=None,
        class_weight=None,
        device="cpu",
        n_members=1,
        random_state=None,
        verbose=0,
        callbacks=None,
        on_divergence="raise",
        n_threads=None,
        precision="float32",
    ) -> None:
        store_init_params(self, locals())


class NINRRegressor(_NINRNetwork, NoisyNetRegressor):
    _parameter_constraints: dict = {
        **NoisyNetRegressor._parameter_constraints,
        **_NINRNetwork._network_constraints,
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        *,
        preprocessing="auto",
        numeric_scaling="robust",
        max_onehot=9,
        numeric_embedding=None,
        activation="relu",
        nin_placement="input",
        noise="gaussian",
        noise_scale=1.0,
        niw_init_scale=1.0,
        inference_noise=None,
        inference_noise_scale=None,
        n_inference_samples=32,
        inference_memory_mb=None,
        noise_schedule="constant",
        noise_schedule_end=0.0,
        noise_schedule_epochs=None,
        activation_mixing=None,
        activation_noise_constant=None,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        momentum=0.9,
        beta2=0.999,
        lr_schedule="constant",
        batch_size="auto",
        max_epochs=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        loss="squared_error",
        huber_delta=1.0,
        device="cpu",
        n_members=1,
        random_state=None,
        verbose=0,
        callbacks=None,
        on_divergence="raise",
        n_threads=None,
        precision="float32",
    ) -> None:
        store_init_params(self, locals())


def _docstring(task: str, task_parameters: str, task_attributes: str, examples: str) -> str:
    return f"""{task.capitalize()} trained with Noise Injection Node Regularization (NINR).

    A fully connected network in which a noise injection node (NIN), one scalar noise
    ``ε`` per example, feeds every unit of a layer through trainable noise-injection
    weights (NIW): each connected layer computes ``f(W h + b + σ_ε ε w_NI)``. With
    ``nin_placement='input'`` (in-NINR) the node connects to the first layer only; with
    ``'all'`` (full-NINR) one independent node connects to every layer. The NIWs start
    large (``niw_init_scale``) so that noise dominates early training; the network then
    learns to shrink them, which regularizes the local Hessian
    (``L ≈ L(θ) + ½σ_ε² w_NIᵀ H w_NI``) and buys robustness to corrupted inputs. How
    the NIWs evolve depends on the noise scale: see :func:`ninr_phase`.

    At prediction time the node is off by default (``ε = 0``); with ``inference_noise``
    set, predictions average ``n_inference_samples`` passes with the node on.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Width of each hidden layer.
    activation : str or callable, default='relu'
        See :func:`sknoise.available_activations`.
    nin_placement : {{'input', 'all'}}, default='input'
        ``'input'``: in-NINR, a node at the first layer. ``'all'``: full-NINR, a node
        at every layer including the output layer.
{parameters_doc(
    noise="gaussian", noise_scale=1.0, inference_noise=None, n_inference_samples=32, lr=1e-3,
    weight_decay=0.0, max_epochs=200, early_stopping=True, n_iter_no_change=10)}
        Here ``noise_scale`` is ``σ_ε``, the scale of the node's noise, and ``noise``
        must be an additive kind.
    niw_init_scale : float, default=1.0
        Standard deviation of the Gaussian initialization of each NIW entry. On
        standardized inputs a first-layer pre-activation has a standard deviation
        near 0.6 at initialization, so ``σ_ε · niw_init_scale`` well above that makes
        noise dominate at the start, as NINR intends.
{EMBEDDING_PARAMETERS_DOC.format(numeric_embedding=None, numeric_embedding_why="")}
{task_parameters}

    Attributes
    ----------
{task_attributes}
{COMMON_ATTRIBUTES_DOC}
    niw_norm_curve_ : list of float
        NIW norm at the end of each epoch. ``history_`` holds more, written by
        :class:`NIWNormRecorder`: ``niw_norm_start``, ``niw_norm_max`` and
        ``niw_norm_per_layer``.
    phase_ : str
        The training phase, from :func:`ninr_phase`.

    See Also
    --------
    ninr_phase : Names the phase of a run from its NIW-norm trajectory.
    NoisyMLP{task.capitalize()} : Noise at fixed placements (input noise is corrupted-data training).

    References
    ----------
    N. Levi, I. M. Bloch, M. Freytsis, T. Volansky, "Noise Injection Node
    Regularization for Robust Learning", 2022, arXiv:2210.15764.

    N. Levi, I. M. Bloch, M. Freytsis, T. Volansky, "Noise Injection as a Probe of Deep
    Learning Dynamics", 2022, arXiv:2210.13599 (the training phases).

    Examples
    --------
{examples}
    """


NINRClassifier.__doc__ = _docstring(
    "classifier",
    LABEL_SMOOTHING_DOC + "\n" + CLASSIFIER_PARAMETERS_DOC.format(calibration=None),
    CLASSIFIER_ATTRIBUTES_DOC,
    """\
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sknoise import NINRClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = NINRClassifier((32,), noise_scale=0.5, max_epochs=30, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    >>> len(clf.niw_norm_curve_) == clf.n_iter_
    True
    >>> clf.phase_ in ("decoupled", "decay", "catapult", "divergent")
    True""",
)

NINRRegressor.__doc__ = _docstring(
    "regressor",
    REGRESSOR_PARAMETERS_DOC,
    REGRESSOR_ATTRIBUTES_DOC,
    """\
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sknoise import NINRRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = NINRRegressor((32,), noise_scale=0.5, max_epochs=30, random_state=0)
    >>> reg.fit(StandardScaler().fit_transform(X), y).predict(X[:2]).shape
    (2,)
    >>> reg.phase_ in ("decoupled", "decay", "catapult", "divergent")
    True""",
)

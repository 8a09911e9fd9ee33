"""The five estimators: a task layer, an architecture and an explicit signature each.

Their parameters, constraints, defaults and parameter documentation come from the
parameter table (``_runtime/_params.py``); a test checks every signature against it.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._architectures import EBMArchitecture, MLPArchitecture, NINRArchitecture
from ._architectures._ninr import NINRAttributes
from ._runtime._docs import CLASSIFIER_ATTRIBUTES_DOC, REGRESSOR_ATTRIBUTES_DOC, estimator_docstring
from ._runtime._estimator import store_init_params
from ._runtime._tasks import NoisyNetClassifier, NoisyNetRegressor

__all__ = ["NoisyMLPClassifier", "NoisyMLPRegressor", "NINRClassifier", "NINRRegressor", "NoisyEBMClassifier"]


class NoisyMLPClassifier(NoisyNetClassifier):
    _architecture = MLPArchitecture()

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        *,
        preprocessing="auto",
        numeric_scaling="robust",
        max_onehot=9,
        numeric_embedding=None,
        activation="relu",
        noise="auto",
        noise_scale=0.4,
        noise_placement="post_activation",
        dropout=0.0,
        batch_norm=None,
        max_norm=None,
        inference_dropout=False,
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
        weight_decay=1e-4,
        momentum=0.9,
        beta2=0.999,
        lr_schedule="constant",
        batch_size="auto",
        max_epochs=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        tol=1e-4,
        label_smoothing=0.0,
        calibration=None,
        class_weight=None,
        decision="balanced",
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


class NoisyMLPRegressor(NoisyNetRegressor):
    _architecture = MLPArchitecture()

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        *,
        preprocessing="auto",
        numeric_scaling="robust",
        max_onehot=9,
        numeric_embedding="periodic",
        activation="relu",
        noise="auto",
        noise_scale=0.2,
        noise_placement="post_activation",
        dropout=0.0,
        batch_norm=None,
        max_norm=None,
        inference_dropout=False,
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
        weight_decay=1e-4,
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


class NINRClassifier(NINRAttributes, NoisyNetClassifier):
    _architecture = NINRArchitecture()

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
        decision="argmax",
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


class NINRRegressor(NINRAttributes, NoisyNetRegressor):
    _architecture = NINRArchitecture()

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


class NoisyEBMClassifier(NoisyNetClassifier):
    _architecture = EBMArchitecture()

    def __init__(
        self,
        hidden_layer_sizes=(64,),
        *,
        preprocessing="auto",
        numeric_scaling="robust",
        activation="relu",
        noise="gaussian",
        noise_scale=0.5,
        inference_noise=None,
        inference_noise_scale=None,
        n_inference_samples=32,
        energy_aggregate="mean",
        objective="joint",
        discriminative_weight=1.0,
        inference_memory_mb=None,
        noise_schedule="constant",
        noise_schedule_end=0.0,
        noise_schedule_epochs=None,
        activation_mixing=None,
        activation_noise_constant=None,
        optimizer="adam",
        lr=1e-2,
        weight_decay=0.0,
        momentum=0.9,
        beta2=0.999,
        lr_schedule="constant",
        batch_size="auto",
        batching="rows",
        max_epochs=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        calibration="temperature",
        class_weight=None,
        decision="argmax",
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

    def energy(self, X) -> np.ndarray:
        """Aggregated energy of every row under every class model (lower: more typical).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        energies : ndarray of shape (n_samples, n_classes)
            Mean squared reconstruction errors; with inference noise on, the
            ``energy_aggregate`` of those of the ``n_inference_samples`` noisy passes.
            Columns follow ``classes_``; ``predict`` is the row-wise argmax of
            ``-E / τ + log π``, the argmin of the energies when the classes are balanced.
        """
        check_is_fitted(self)
        return self._head.energies(self, self._validate_X(X, reset=False))

    @property
    def temperature_(self) -> float:
        """Temperature ``τ`` of the posterior ``softmax(-E/τ + log π)``."""
        check_is_fitted(self)
        return float(self.net_.module_.temperature)



# ----------------------------------------------------------------------------- docstrings
_MLP_REFERENCES = """\
    C. M. Bishop, "Training with noise is equivalent to Tikhonov regularization",
    Neural Computation 7(1), 1995.

    N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov, "Dropout: a
    simple way to prevent neural networks from overfitting", JMLR 15, 2014.

    S. Ioffe, C. Szegedy, "Batch normalization: accelerating deep network training by
    reducing internal covariate shift", 2015, arXiv:1502.03167.

    C. Gulcehre, M. Moczulski, M. Denil, Y. Bengio, "Noisy activation functions", ICML
    2016, arXiv:1603.00391 (the ``'nan_*'``, ``'nah_*'``, ``'nani_*'`` and ``'nanis_*'``
    activations)."""


def _mlp_body(task: str) -> str:
    return f"""\
    A scikit-learn {task} over a PyTorch MLP trained through skorch. Noise goes
    where practitioners put it: on the inputs, before or after each activation (the
    activation noise ``t = f(Wx + b) + α z``), as dropout-style multiplicative noise,
    around batch normalization. By default the noise is used in training only; with
    ``inference_noise`` set, predictions average ``n_inference_samples`` noisy passes.

    The defaults (Gaussian activation noise of scale 0.2 after every ReLU, weight
    decay 1e-4, early stopping with patience 20) were chosen by cross-validation on
    scikit-learn's built-in and synthetic tabular data (benchmarks/results/defaults.md)
    and held on the real tables of the tabular suite, where none of the alternatives
    tried did better on average (benchmarks/results/recipe_round1_*.md, recipe_round2_*.md)."""


NoisyMLPClassifier.__doc__ = estimator_docstring(
    NoisyMLPClassifier,
    "Multilayer perceptron classifier trained with noise injection.",
    _mlp_body("classifier"),
    CLASSIFIER_ATTRIBUTES_DOC,
    see_also="    sklearn.neural_network.MLPClassifier : The noise-free scikit-learn MLP.",
    references=_MLP_REFERENCES,
    examples="""\
    >>> from sklearn.datasets import load_iris
    >>> from sknoise import NoisyMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NoisyMLPClassifier((32,), noise_scale=0.2, max_epochs=30, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    >>> proba, std = clf.set_params(inference_noise="same").predict_proba(X[:2], return_std=True)
    >>> proba.shape, std.shape
    ((2, 3), (2, 3))""",
)

NoisyMLPRegressor.__doc__ = estimator_docstring(
    NoisyMLPRegressor,
    "Multilayer perceptron regressor trained with noise injection.",
    _mlp_body("regressor"),
    REGRESSOR_ATTRIBUTES_DOC,
    see_also="    sklearn.neural_network.MLPRegressor : The noise-free scikit-learn MLP.",
    references=_MLP_REFERENCES,
    examples="""\
    >>> from sklearn.datasets import load_diabetes
    >>> from sknoise import NoisyMLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = NoisyMLPRegressor((32,), max_epochs=30, random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    >>> mean, std = reg.set_params(inference_noise="same").predict(X[:2], return_std=True)
    >>> bool((std > 0).all())
    True""",
)

_NINR_BODY = """\
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
    set, predictions average ``n_inference_samples`` passes with the node on."""

_NINR_ATTRIBUTES = """\
    niw_norm_curve_ : list of float
        NIW norm at the end of each epoch. ``history_`` holds more, written by
        :class:`NIWNormRecorder`: ``niw_norm_start``, ``niw_norm_max`` and
        ``niw_norm_per_layer``.
    phase_ : str
        The training phase, from :func:`ninr_phase`."""

_NINR_REFERENCES = """\
    N. Levi, I. M. Bloch, M. Freytsis, T. Volansky, "Noise Injection Node
    Regularization for Robust Learning", 2022, arXiv:2210.15764.

    N. Levi, I. M. Bloch, M. Freytsis, T. Volansky, "Noise Injection as a Probe of Deep
    Learning Dynamics", 2022, arXiv:2210.13599 (the training phases)."""


def _ninr_see_also(task: str) -> str:
    return f"""\
    ninr_phase : Names the phase of a run from its NIW-norm trajectory.
    NoisyMLP{task.capitalize()} : Noise at fixed placements (input noise is corrupted-data training)."""


NINRClassifier.__doc__ = estimator_docstring(
    NINRClassifier,
    "Classifier trained with Noise Injection Node Regularization (NINR).",
    _NINR_BODY,
    CLASSIFIER_ATTRIBUTES_DOC,
    extra_attributes=_NINR_ATTRIBUTES,
    see_also=_ninr_see_also("classifier"),
    references=_NINR_REFERENCES,
    examples="""\
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

NINRRegressor.__doc__ = estimator_docstring(
    NINRRegressor,
    "Regressor trained with Noise Injection Node Regularization (NINR).",
    _NINR_BODY,
    REGRESSOR_ATTRIBUTES_DOC,
    extra_attributes=_NINR_ATTRIBUTES,
    see_also=_ninr_see_also("regressor"),
    references=_NINR_REFERENCES,
    examples="""\
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

NoisyEBMClassifier.__doc__ = estimator_docstring(
    NoisyEBMClassifier,
    "Generative energy-based classifier with activation noise.",
    """\
    One autoencoder per class, all ``K`` of them trained at once in one batched torch
    module. With the paper's generative objective each training row trains only its
    own class's autoencoder; the default joint objective adds a discriminative term
    on the energies (see ``objective``). The energy of
    class ``k`` is the reconstruction error of ``x`` by the ``k``-th autoencoder,
    whose hidden neurons carry activation noise ``t = f(a) + α z`` (Eq. 1 of the
    activation-noise paper). The posterior is that of a generative classifier,
    ``softmax(-E / τ + log π)``, with ``π`` the class shares of the training rows and a
    temperature ``τ`` fitted on the rows early stopping holds out; prediction is its
    argmax. The training losses in ``history_`` are the objective's mean over rows
    (the own-class energy, plus the discriminative term of the joint objective).

    The method is generative classification, so there is no regressor counterpart: for
    continuous targets use :class:`NoisyMLPRegressor` or :class:`NINRRegressor`.

    By default the noise is used in training only and prediction is deterministic.
    With ``inference_noise='same'`` (or another distribution) prediction samples the
    network as the paper does: ``n_inference_samples`` noisy passes whose energies are
    aggregated per class. On our benchmarks (``benchmarks/results/ebm_claims.md``)
    training noise raised accuracy on all five data sets, while inference noise on
    top lowered it slightly at every ``T`` tried; hence the defaults.

    Reconstruction energies compare squared errors across features, so the features
    must share a scale: the built-in preprocessing (``preprocessing='auto'``) scales
    them; with ``preprocessing=None`` standardize them yourself.""",
    CLASSIFIER_ATTRIBUTES_DOC,
    see_also="    NoisyMLPClassifier : A discriminative network trained with noise.",
    notes="""\
    With ``noise='dropout'`` the activation noise is the signal-dependent
    ``z = (m / (1 - p) - 1) f(a)``: this is dropout, the multiplicative special case
    of activation noise.

    The training passes compute each row's own-class energy only, so a skorch
    ``EpochScoring(..., on_train=True)`` callback needs ``use_caching=False`` (it then
    scores fresh predictions); validation scoring works as for any skorch net.""",
    references="""\
    "Activation Noise for EBM Classification", anonymous submission to ICLR 2023
    (OpenReview id XHiC52N24ox); its authors, and an arXiv version, are not given in
    the sources we have.""",
    examples="""\
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sknoise import NoisyEBMClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> ebm = NoisyEBMClassifier((16,), max_epochs=30, random_state=0)
    >>> clf = make_pipeline(StandardScaler(), ebm).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> ebm.energy(StandardScaler().fit(X).transform(X[:2])).shape
    (2, 3)""",
)

"""NoisyEBMClassifier: generative energy-based classification with activation noise."""

from __future__ import annotations

from numbers import Real

import numpy as np
import torch
from scipy.special import log_softmax
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback
from torch import nn

from ._runtime._data import Rows
from ._runtime._docs import CLASSIFIER_ATTRIBUTES_DOC, CLASSIFIER_PARAMETERS_DOC, COMMON_ATTRIBUTES_DOC, parameters_doc
from ._runtime._estimator import store_init_params
from ._runtime._tasks import NoisyNetClassifier
from .nn._layers import NoiseRNG, NoiseSpec
from .nn._networks import BatchedAutoencoderEnergy, JointEnergyLoss, OwnClassEnergy

__all__ = ["NoisyEBMClassifier"]

ENERGY_AGGREGATES = ("mean", "logmeanexp")


class _ShareTargets(Callback):
    """Hand each training batch's labels to the module for its own-class path.

    Validation batches go through all K class models, so that skorch's scoring
    callbacks see every class's energy; the validation loss reads the own column.
    """

    def on_batch_begin(self, net, batch=None, training=None, **kwargs) -> None:
        net.module_.targets = batch[1] if training else None

    def on_batch_end(self, net, batch=None, training=None, **kwargs) -> None:
        net.module_.targets = None


class NoisyEBMClassifier(NoisyNetClassifier):
    _parameter_constraints: dict = {
        **NoisyNetClassifier._parameter_constraints,
        "energy_aggregate": [StrOptions(set(ENERGY_AGGREGATES))],
        "objective": [StrOptions({"generative", "joint"})],
        "discriminative_weight": [Interval(Real, 0, None, closed="left")],
        "batching": [StrOptions({"rows", "per_class"})],
    }

    # Reconstructing learned embeddings would let the autoencoders shrink them: every
    # category is one-hot encoded instead.
    _embeds_categories = False

    # energy_aggregate acts only under Monte-Carlo inference, which the default spaces leave off.
    _search_space_extra = {"optuna": {}, "grid": {}}

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

    def _layer_widths(self, n_features: int, n_classes: int) -> list[int]:
        # Per input row the K class models together hold K times each width.
        return [n_features, *(n_classes * h for h in self._hidden_sizes), n_classes * n_features, n_classes]

    def _check_params(self) -> None:
        super()._check_params()
        if not self._hidden_sizes:
            raise ValueError(
                "hidden_layer_sizes must hold at least one positive integer (the autoencoder "
                f"needs a hidden layer to carry the activation noise); got {self.hidden_layer_sizes!r}."
            )

    def _build_module(self, n_features: int, n_classes: int, rng: NoiseRNG) -> nn.Module:
        return BatchedAutoencoderEnergy(
            n_features,
            n_classes,
            self._hidden_sizes,
            self._activation_factory(rng),
            NoiseSpec.make(self.noise, self.noise_scale),
            rng,
            n_members=self.n_members,
        )

    def _criterion(self) -> nn.Module:
        if self.objective == "joint":
            return JointEnergyLoss(self.discriminative_weight)
        return OwnClassEnergy()

    def _extra_callbacks(self) -> list:
        # The generative objective needs each row's own class only: the module packs the
        # rows by class. The joint objective needs every class's energy of every row.
        return [("share_targets", _ShareTargets())] if self.objective == "generative" else []

    def _net_arguments(self, module: nn.Module) -> dict:
        # skorch's own predict_proba (and its scoring callbacks) get the calibrated posterior.
        return {**super()._net_arguments(module), "predict_nonlinearity": _Posterior(module),
                "per_class_batches": self.batching == "per_class"}

    # --------------------------------------------------------------- inference
    def _energy_statistics(self) -> tuple[str, dict[str, str]]:
        # Monte-Carlo free energy: -log mean_t exp(-E_t), accumulated as a log-mean-exp of -E.
        return ("energy", {"energy": "mean"}) if self.energy_aggregate == "mean" else (
            "neg_energy", {"neg_energy": "logmeanexp"})

    def _per_pass(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        name, _ = self._energy_statistics()
        return {name: out if name == "energy" else -out, "proba": self.net_.module_.posterior(out)}

    def _pass_kinds(self) -> dict[str, str]:
        return {**self._energy_statistics()[1], "proba": "mean_std"}

    def _aggregated_energies(self, outputs: dict) -> np.ndarray:
        return outputs["energy"] if "energy" in outputs else -outputs["neg_energy"]

    def _probabilities(self, outputs: dict) -> tuple[np.ndarray, np.ndarray]:
        # float64 so that the probabilities sum to one to float64 precision.
        energies = torch.from_numpy(self._aggregated_energies(outputs))
        return self.net_.module_.posterior(energies).numpy(), outputs["proba_std"]

    def _energies(self, X: torch.Tensor, check_finite: bool = True) -> np.ndarray:
        """Aggregated energies ``(rows, K)`` through the base's Monte-Carlo machinery."""
        name, kinds = self._energy_statistics()
        outputs = self._passes(
            X, per_pass=lambda out: {name: out if name == "energy" else -out}, kinds=kinds, check_finite=check_finite
        )
        return self._aggregated_energies(outputs)

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
        return self._energies(self._validate_X(X, reset=False))

    # --------------------------------------------------------------- calibration
    @property
    def temperature_(self) -> float:
        """Temperature ``τ`` of the posterior ``softmax(-E/τ + log π)``."""
        check_is_fitted(self)
        return float(self.net_.module_.temperature)

    @property
    def class_prior_(self) -> np.ndarray:
        """Class shares ``π`` of the rows fit was given, the prior of the posterior."""
        check_is_fitted(self)
        return self.net_.module_.log_prior.double().exp().numpy()

    def _temperature_problem(self, X: torch.Tensor, check_finite: bool):
        energies = self._energies(X, check_finite=check_finite)
        log_prior = self.net_.module_.log_prior.double().numpy()

        def log_proba_at(tau: float, rows=slice(None)) -> np.ndarray:
            return log_softmax(-energies[rows] / tau + log_prior, axis=1)

        return energies, log_proba_at

    def _set_temperature(self, tau: float) -> None:
        self.net_.module_.temperature.fill_(tau)

    def _after_training(self, train: Rows, valid: Rows | None) -> None:
        module = self.net_.module_
        module.targets = None  # in case training stopped inside a batch
        # The prior counts every row fit was given (held-out rows too, with their weights),
        # across partial_fit calls.
        counts = torch.zeros(len(self.classes_), dtype=torch.float64)
        for part in (train, valid):
            if part is not None:
                weights = None if part.w is None else part.w.double()
                counts += torch.bincount(part.y, weights=weights, minlength=len(self.classes_)).double()
        self._class_counts_ = counts + getattr(self, "_class_counts_", 0.0)
        # A class announced to partial_fit but not seen yet gets one pseudo-row.
        counts = self._class_counts_ + (self._class_counts_ == 0)
        module.log_prior.copy_((counts / counts.sum()).log())
        super()._after_training(train, valid)


class _Posterior:
    """skorch's ``predict_nonlinearity`` for the EBM's net: energies to the module's calibrated posterior."""

    def __init__(self, module: BatchedAutoencoderEnergy) -> None:
        self.module = module

    def __call__(self, energies: torch.Tensor) -> torch.Tensor:
        proba = self.module.posterior(energies)
        return proba if proba.dim() == 2 else proba.mean(dim=1)  # members: (N, members, K)


NoisyEBMClassifier.__doc__ = f"""Generative energy-based classifier with activation noise.

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
    them; with ``preprocessing=None`` standardize them yourself.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(64,)
        Hidden widths of every class's autoencoder ``d -> h_1 -> ... -> d``.
    activation : str or callable, default='relu'
        Activation ``f`` of the hidden neurons; see :func:`sknoise.available_activations`.
        ReLU matched or beat the sigmoid in our benchmarks and is exact, so a row's
        prediction does not depend on the batch it comes in; approximated functions
        such as the sigmoid round a lone row differently in the last bit.
{parameters_doc(
    noise="gaussian", noise_scale=0.5, inference_noise=None, n_inference_samples=32, lr=1e-2,
    weight_decay=0.0, max_epochs=200, early_stopping=True, n_iter_no_change=10,
    why={"lr": "Ten times the others' 1e-3, because each small autoencoder sees only its own "
               "class's rows, and the claims benchmark (benchmarks/results/ebm_claims.md) was run "
               "with 1e-2."})}
    energy_aggregate : {{'mean', 'logmeanexp'}}, default='mean'
        How the energies of the ``T`` passes combine: their mean, or the Monte-Carlo
        free energy ``-log mean_t exp(-E_t)``. Read at prediction time.
    objective : {{'generative', 'joint'}}, default='joint'
        ``'generative'``: the paper's one-class training, each class model learns to
        reconstruct its own rows only. ``'joint'``: that plus a discriminative term,
        the cross-entropy of ``softmax(-E / τ_train)`` (``τ_train`` learned), so that
        each class model also learns to reconstruct the other classes' rows badly
        (every row goes through all K models: K times the work per step). The default
        since the tabular suite (``benchmarks/results/recipe_round2_classification.md``,
        16 tasks): balanced accuracy 0.568 against 0.521, log loss 0.618 against 0.697.
    discriminative_weight : float, default=1.0
        Weight of the discriminative term of the joint objective.
    batching : {{'rows', 'per_class'}}, default='rows'
        ``'rows'``: each training step takes ``batch_size`` rows of the shuffled
        table, whatever their classes. ``'per_class'``: each step takes ``batch_size``
        rows of every class, so an epoch makes as many steps as the largest class
        needs (K times fewer), each class model seeing its rows as a separately
        trained one would (``benchmarks/bench_ebm_speed.py`` times both against K
        separate models; ``benchmarks/ebm_claims.py`` compares their accuracy).
        Fewer, larger steps may need more epochs.
{CLASSIFIER_PARAMETERS_DOC.format(calibration='temperature')}
        Class and sample weights weigh each row's energy in the training loss, the
        prior and the temperature's calibration.

    Attributes
    ----------
{CLASSIFIER_ATTRIBUTES_DOC}
{COMMON_ATTRIBUTES_DOC}
    class_prior_ : ndarray of shape (n_classes,)
        The prior ``π``: class shares of every row ``fit`` (and ``partial_fit``) was given.

    See Also
    --------
    NoisyMLPClassifier : A discriminative network trained with noise.

    Notes
    -----
    With ``noise='dropout'`` the activation noise is the signal-dependent
    ``z = (m / (1 - p) - 1) f(a)``: this is dropout, the multiplicative special case
    of activation noise.

    The training passes compute each row's own-class energy only, so a skorch
    ``EpochScoring(..., on_train=True)`` callback needs ``use_caching=False`` (it then
    scores fresh predictions); validation scoring works as for any skorch net.

    References
    ----------
    "Activation Noise for EBM Classification", anonymous submission to ICLR 2023
    (OpenReview id XHiC52N24ox); its authors, and an arXiv version, are not given in
    the sources we have.

    Examples
    --------
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
    (2, 3)
    """

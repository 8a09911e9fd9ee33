"""The EBM architecture: one noisy autoencoder per class, energies as class scores.

Its classifier head turns energies into the posterior ``softmax(-E / τ + log π)`` with
the class shares ``π`` of the training rows and a fitted temperature ``τ``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import log_softmax
from torch import nn

from .._runtime._architecture import Architecture, ClassifierHead, hidden_sizes, network_arguments
from .._runtime._data import Rows
from ..nn._layers import NoiseRNG
from ..nn._networks import BatchedAutoencoderEnergy, JointEnergyLoss, OwnClassEnergy

__all__ = ["EBMArchitecture", "EnergyHead"]


class _Posterior:
    """skorch's ``predict_nonlinearity`` for the EBM's net: energies to the module's calibrated posterior."""

    def __init__(self, module: BatchedAutoencoderEnergy) -> None:
        self.module = module

    def __call__(self, energies: torch.Tensor) -> torch.Tensor:
        proba = self.module.posterior(energies)
        return proba if proba.dim() == 2 else proba.mean(dim=1)  # members: (N, members, K)


class EnergyHead(ClassifierHead):
    """Energies ``(rows, K)`` to probabilities: the posterior of a generative classifier."""

    # The temperature of a small calibration sample errs towards the class shares.
    temperature_prior = None

    def criterion(self, est) -> nn.Module:
        if est.objective == "joint":
            return JointEnergyLoss(est.discriminative_weight)
        return OwnClassEnergy()

    def net_arguments(self, est, module: nn.Module) -> dict:
        # skorch's own predict_proba (and its scoring callbacks) get the calibrated posterior.
        # The generative objective needs each row's own class only: the training steps
        # hand the module the batch's labels, and it packs the rows by class. The joint
        # objective needs every class's energy of every row.
        return {"predict_nonlinearity": _Posterior(module), "targets_in_forward": est.objective == "generative"}

    @staticmethod
    def energy_statistics(est) -> tuple[str, dict[str, str]]:
        """The name and reduction of the energies' statistic over the passes (``energy_aggregate``)."""
        # Monte-Carlo free energy: -log mean_t exp(-E_t), accumulated as a log-mean-exp of -E.
        return ("energy", {"energy": "mean"}) if est.energy_aggregate == "mean" else (
            "neg_energy", {"neg_energy": "logmeanexp"})

    @staticmethod
    def _aggregated(outputs: dict) -> np.ndarray:
        return outputs["energy"] if "energy" in outputs else -outputs["neg_energy"]

    def per_pass(self, est, out: torch.Tensor) -> dict[str, torch.Tensor]:
        name, _ = self.energy_statistics(est)
        return {name: out if name == "energy" else -out, "proba": est.net_.module_.posterior(out)}

    def pass_kinds(self, est) -> dict[str, str]:
        return {**self.energy_statistics(est)[1], "proba": "mean_std"}

    def probabilities(self, est, outputs: dict) -> tuple[np.ndarray, np.ndarray]:
        # float64 so that the probabilities sum to one to float64 precision.
        energies = torch.from_numpy(self._aggregated(outputs))
        return est.net_.module_.posterior(energies).numpy(), outputs["proba_std"]

    def energies(self, est, X: torch.Tensor, check_finite: bool = True) -> np.ndarray:
        """Aggregated energies ``(rows, K)`` of validated rows, through the estimator's Monte-Carlo machinery."""
        name, kinds = self.energy_statistics(est)
        outputs = est._passes(
            X, per_pass=lambda out: {name: out if name == "energy" else -out}, kinds=kinds, check_finite=check_finite
        )
        return self._aggregated(outputs)

    def temperature_problem(self, est, X: torch.Tensor, check_finite: bool):
        energies = self.energies(est, X, check_finite=check_finite)
        log_prior = est.net_.module_.log_prior.double().cpu().numpy()

        def log_proba_at(tau: float, rows=slice(None)) -> np.ndarray:
            return log_softmax(-energies[rows] / tau + log_prior, axis=1)

        return energies, log_proba_at

    def set_temperature(self, est, tau: float) -> None:
        est.net_.module_.temperature.fill_(tau)

    def after_training(self, est, train: Rows, valid: Rows | None) -> None:
        # The posterior's prior: the class shares of every row fit was given.
        est.net_.module_.log_prior.copy_(torch.from_numpy(np.log(est.class_prior_)))


class EBMArchitecture(Architecture):
    """:class:`~sknoise.nn.BatchedAutoencoderEnergy`: K class models in one batched module (classification only)."""

    name = "ebm"
    groups = ("ebm",)
    # Reconstructing learned embeddings would let the autoencoders shrink them: every
    # category is one-hot encoded instead.
    embeds_inputs = False
    classifier_head = EnergyHead()

    def build(self, est, n_features: int, n_classes: int, rng: NoiseRNG) -> BatchedAutoencoderEnergy:
        return BatchedAutoencoderEnergy(n_features, n_classes, **network_arguments(est, rng))

    def layer_widths(self, est, n_features: int, n_classes: int) -> list[int]:
        # Per input row the K class models together hold K times each width.
        return [n_features, *(n_classes * h for h in hidden_sizes(est)), n_classes * n_features, n_classes]

    def check_params(self, est) -> None:
        if not hidden_sizes(est):
            raise ValueError(
                "hidden_layer_sizes must hold at least one positive integer (the autoencoder "
                f"needs a hidden layer to carry the activation noise); got {est.hidden_layer_sizes!r}."
            )

    def net_arguments(self, est) -> dict:
        return {"per_class_batches": est.batching == "per_class"}

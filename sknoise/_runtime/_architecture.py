"""The network of an estimator as a component: :class:`Architecture` and :class:`ClassifierHead`.

An estimator is a task layer (classification or regression, in ``_tasks``) over the
task-independent base, plus an architecture: an object that builds the network and
knows what the network needs (its parameter checks, callbacks, memory per row, what
the divergence message quotes). A classifier also needs to know how the network's
outputs become probabilities: the architecture's :class:`ClassifierHead` (logits for
the MLP and NINR networks, energies for the EBM).

Architectures and heads hold no state: every method takes the estimator, whose
parameters (and fitted attributes) it reads.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from numbers import Integral
from typing import ClassVar

import numpy as np
import torch
from scipy.special import logsumexp
from torch import nn

from ..nn._activations import make_activation
from ..nn._layers import NoiseRNG, NoiseSpec, NoisyModule
from ..nn._networks import log_mean_probability

__all__ = ["Architecture", "ClassifierHead", "LogitHead", "MemberAverage", "hidden_sizes", "activation_of",
           "network_arguments"]


def hidden_sizes(est) -> tuple[int, ...]:
    """The estimator's ``hidden_layer_sizes`` as a tuple (an int is one layer)."""
    sizes = est.hidden_layer_sizes
    return (sizes,) if isinstance(sizes, Integral) else tuple(sizes)


def activation_of(est, rng: NoiseRNG) -> Callable[[int], nn.Module]:
    """``factory(width)`` building the estimator's ``activation`` for a layer of that width."""
    return partial(make_activation, est.activation, rng=rng, mixing=est.activation_mixing,
                   noise_constant=est.activation_noise_constant)


def network_arguments(est, rng: NoiseRNG) -> dict:
    """The arguments every network takes from the estimator: its layers, activation, noise, stream and members."""
    return {"hidden_layer_sizes": hidden_sizes(est), "activation": activation_of(est, rng),
            "noise": NoiseSpec.make(*est._training_noise()), "rng": rng, "n_members": est.n_members}


class MemberAverage:
    """skorch's ``predict_nonlinearity`` with ensemble members: ``fn`` of each member's output, averaged.

    The net's output is ``(N, n_members, ...)``; its own ``predict`` / ``predict_proba``
    then return the members' mean, as the estimator does.
    """

    def __init__(self, fn=None) -> None:
        self.fn = fn

    def __call__(self, out: torch.Tensor) -> torch.Tensor:
        return (out if self.fn is None else self.fn(out)).mean(dim=1)


def _softmax(out: torch.Tensor) -> torch.Tensor:
    return torch.softmax(out, dim=-1)


class ClassifierHead(ABC):
    """How a classifier's network outputs become the loss, the probabilities and the temperature."""

    #: Parameter groups of the table (``_params``) this head adds to a classifier.
    groups: ClassVar[tuple[str, ...]] = ()
    #: The temperature a small calibration sample keeps unless it says otherwise (None:
    #: the largest its noise allows; see ``fit_temperature``).
    temperature_prior: ClassVar[float | None] = None

    @abstractmethod
    def criterion(self, est) -> nn.Module:
        """The training loss, one value per row (``reduction='none'``)."""

    def combine_members(self) -> Callable | None:
        """How the validation loss combines ensemble members' outputs (None: the members' mean loss)."""
        return None

    def net_arguments(self, est, module: nn.Module) -> dict:
        """Arguments of the skorch net (e.g. its ``predict_nonlinearity``)."""
        return {}

    @abstractmethod
    def per_pass(self, est, out: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named values of each Monte-Carlo pass, from the ``(passes, rows, ...)`` output."""

    @abstractmethod
    def pass_kinds(self, est) -> dict[str, str]:
        """How :meth:`per_pass`'s values reduce over the passes (see ``PassStatistics``)."""

    @abstractmethod
    def probabilities(self, est, outputs: dict) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities and their spread over the passes, from the reduced outputs."""

    @abstractmethod
    def temperature_problem(self, est, X: torch.Tensor, check_finite: bool):
        """The scores of rows and ``log_proba_at(t, rows)``, their log-probabilities at temperature ``t``."""

    @abstractmethod
    def set_temperature(self, est, t: float) -> None:
        """Use temperature ``t`` from now on."""

    def after_training(self, est, train, valid) -> None:
        """Fitted statistics of the head, after each training call and before calibration (none by default)."""
        return None


class LogitHead(ClassifierHead):
    """A network that outputs logits: cross-entropy, softmax of every pass, averaged as probabilities."""

    groups = ("logit",)
    # Early stopping on the log loss already fitted the probabilities: on few rows,
    # temperature scaling keeps them unless the rows clearly ask for another temperature.
    temperature_prior = 1.0

    def criterion(self, est) -> nn.Module:
        return nn.CrossEntropyLoss(reduction="none", label_smoothing=est.label_smoothing)

    def combine_members(self) -> Callable:
        # Early stopping watches the ensemble's log loss, not its members'.
        return log_mean_probability

    def net_arguments(self, est, module: nn.Module) -> dict:
        return {} if est.n_members == 1 else {"predict_nonlinearity": MemberAverage(_softmax)}

    def per_pass(self, est, out: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"proba": torch.softmax(out / est.temperature_, dim=-1)}

    def pass_kinds(self, est) -> dict[str, str]:
        return {"proba": "mean_std"}

    def probabilities(self, est, outputs: dict) -> tuple[np.ndarray, np.ndarray]:
        return outputs["proba"], outputs["proba_std"]

    def temperature_problem(self, est, X: torch.Tensor, check_finite: bool):
        # Every pass's logits (one pass for a deterministic network): the prediction
        # averages the passes' softmax(z / T).
        logits = est._passes(X, per_pass=lambda out: {"logits": out}, kinds={"logits": "passes"},
                             check_finite=check_finite)["logits"]  # (rows, passes, K)

        def log_proba_at(t: float, rows=slice(None)) -> np.ndarray:
            z = logits[rows] / t
            log_p = z - logsumexp(z, axis=-1, keepdims=True)
            return logsumexp(log_p, axis=1) - math.log(z.shape[1])

        return logits, log_proba_at

    def set_temperature(self, est, t: float) -> None:
        est.temperature_ = t


class Architecture(ABC):
    """What an estimator's network is: how it is built and what it needs from training.

    Subclasses name themselves (``name``, the key of per-architecture defaults in the
    parameter table), list their parameter groups and build their
    :class:`~sknoise.nn.NoisyModule`; everything else has a default.
    """

    #: Key of the architecture in the parameter table (per-architecture defaults, notes, search ranges).
    name: ClassVar[str]
    #: Parameter groups of the table this architecture adds to an estimator.
    groups: ClassVar[tuple[str, ...]] = ()
    #: Whether the inputs may be embedded (``max_onehot``'s categorical embeddings,
    #: ``numeric_embedding``); otherwise every category is one-hot encoded.
    embeds_inputs: ClassVar[bool] = True
    #: How a classifier's outputs become probabilities.
    classifier_head: ClassVar[ClassifierHead] = LogitHead()
    #: History keys left out of the printed epoch table (lists print badly).
    history_keys_not_printed: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def build(self, est, n_features: int, n_outputs: int, rng: NoiseRNG) -> NoisyModule:
        """The network for ``n_features`` inputs and ``n_outputs`` outputs, built around ``rng``."""

    def layer_widths(self, est, n_features: int, n_outputs: int) -> list[int]:
        """Per-row widths of the input, hidden and output tensors (one member), for memory planning."""
        return [n_features, *hidden_sizes(est), n_outputs]

    def check_params(self, est) -> None:
        """Checks of the architecture's parameters that the constraint table cannot express (none by default)."""
        return None

    def check_batches(self, est, n_train_rows: int, batch_size: int) -> None:
        """Checks of the mini-batches the network can take (none by default)."""
        return None

    def callbacks(self, est) -> list:
        """The architecture's own ``(name, callback)`` pairs, run before the shared ones."""
        return []

    def settings(self, est) -> str:
        """The architecture's settings quoted when training diverges (after the noise and optimizer)."""
        return ""

    def inference_dropout(self, est) -> bool:
        """Whether the dropout layers stay on at prediction time (Monte-Carlo dropout)."""
        return False

    def net_arguments(self, est) -> dict:
        """Arguments of the skorch net that the architecture sets (e.g. per-class batches)."""
        return {}

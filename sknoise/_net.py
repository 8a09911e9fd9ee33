"""The skorch net underneath every estimator, customized through skorch's extension points."""

from __future__ import annotations

import math
import warnings

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from torch import nn

from ._data import TensorBatches

__all__ = [
    "TensorNet",
    "MaxNormConstraint",
    "LastGoodEpoch",
    "TrainingDivergedError",
    "TrainingDivergedWarning",
]


class TensorNet(NeuralNet):
    """A skorch ``NeuralNet`` whose mini-batches are slices of in-memory tensors.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`.
    shuffle_seed : int, default=0
        Seed of the CPU generator that shuffles the training rows each epoch.
    """

    # The module is passed as an instance, so `module` holds the same CUDA tensors as
    # `module_`, and callbacks may hold weights too (EarlyStopping's best weights):
    # route them through skorch's device-mapping unpickler, or a model fitted on CUDA
    # cannot be loaded on a machine without CUDA.
    cuda_dependent_attributes_ = [*NeuralNet.cuda_dependent_attributes_, "module", "callbacks"]

    def __init__(self, *args, shuffle_seed: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shuffle_seed = shuffle_seed

    def initialize(self):
        super().initialize()
        # Kept on the net so that successive partial_fit calls continue one stream.
        self.shuffle_generator_ = torch.Generator().manual_seed(int(self.shuffle_seed))
        return self

    def get_iterator(self, dataset, training: bool = False) -> TensorBatches:
        batch_size = len(dataset) if self.batch_size == -1 else self.batch_size
        return TensorBatches(dataset, batch_size, shuffle=training, generator=self.shuffle_generator_)


class MaxNormConstraint(Callback):
    """Rescale each unit's incoming weight vector to an L2 norm of at most ``max_norm``.

    Applied after every optimizer step to the layers that the module lists in
    ``max_norm_layers()`` (all its ``nn.Linear`` layers if it has no such method);
    this is Keras' ``max_norm`` constraint, the usual companion of dropout.

    Parameters
    ----------
    max_norm : float
        The largest allowed norm.
    """

    def __init__(self, max_norm: float) -> None:
        self.max_norm = max_norm

    def on_batch_end(self, net, batch=None, training=None, **kwargs) -> None:
        if not training:
            return
        module = net.module_
        layers = module.max_norm_layers() if hasattr(module, "max_norm_layers") else [
            m for m in module.modules() if isinstance(m, nn.Linear)
        ]
        with torch.no_grad():
            for layer in layers:
                # renorm over dim 0 bounds the norm of each output unit's row of weights.
                layer.weight.copy_(torch.renorm(layer.weight, p=2, dim=0, maxnorm=self.max_norm))


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite loss (NaN or inf): the network has diverged.

    Heavy-tailed noise (Cauchy) or a large noise scale or learning rate are the usual
    causes; the message names the settings in force.
    """


class TrainingDivergedWarning(RuntimeWarning):
    """Training diverged and was stopped; the weights of the last finished epoch were kept."""


class LastGoodEpoch(Callback):
    """Keep the network at its last good, finished epoch.

    The weights of the last finished epoch are copied at its end (far cheaper than
    the epoch itself). Training that stops mid-epoch, on Ctrl-C (skorch catches
    ``KeyboardInterrupt``) or on divergence, gets those weights back and loses the
    half-finished history row, so the model is always one that completed whole epochs.

    Divergence is a non-finite batch loss (training or validation), or non-finite
    weights at the end of an epoch (a step can blow the weights up after a finite
    loss). It raises :class:`TrainingDivergedError`, or with ``on_divergence='warn'``
    warns with :class:`TrainingDivergedWarning` and stops, keeping the last good epoch.

    Parameters
    ----------
    settings : str
        The estimator's noise and optimizer settings, quoted in the message.
    on_divergence : {'raise', 'warn'}, default='raise'
    """

    def __init__(self, settings: str, on_divergence: str = "raise") -> None:
        self.settings = settings
        self.on_divergence = on_divergence

    def _snapshot(self, net) -> None:
        self.state_ = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}

    def on_train_begin(self, net, **kwargs) -> None:
        self.diverged_ = False
        self._snapshot(net)

    def on_batch_end(self, net, batch=None, training=None, **kwargs) -> None:
        key = "train_loss" if training else "valid_loss"
        # skorch already turned the loss into a float for the history: no extra device sync.
        loss = net.history[-1, "batches", -1, key]
        if not math.isfinite(loss):
            self._diverged(net, f"the {key.replace('_', ' ')} became {loss}")
        if training:
            self._last_inputs = batch[0]

    def on_epoch_end(self, net, **kwargs) -> None:
        # The losses were computed before each step: the last step may still have blown
        # the weights up. One deterministic forward pass over the last batch tells.
        inputs = self.__dict__.pop("_last_inputs", None)
        module = net.module_
        was_training = module.training
        module.eval()
        with torch.no_grad():
            finite = inputs is None or bool(torch.isfinite(module(inputs)).all())
        module.train(was_training)
        if not finite:
            self._diverged(net, "the network's outputs became non-finite after the last step")
        self._snapshot(net)

    def _diverged(self, net, what: str) -> None:
        message = (
            f"Training diverged at epoch {len(net.history)}: {what}. Settings: {self.settings}. "
            "Lower the noise scale or the learning rate, or use a lighter-tailed noise distribution."
        )
        if self.on_divergence == "raise":
            raise TrainingDivergedError(message)
        self.diverged_ = True
        warnings.warn(
            f"{message} Training was stopped and the weights of the last finished epoch "
            f"({len(net.history) - 1}) were kept.",
            TrainingDivergedWarning,
            stacklevel=2,
        )
        raise KeyboardInterrupt  # skorch's way to end the training loop early

    def on_train_end(self, net, **kwargs) -> None:
        unfinished = len(net.history) and "train_loss" not in net.history[-1]
        if self.diverged_ or unfinished:
            net.module_.load_state_dict(self.state_)
            if len(net.history):
                del net.history[-1]
        del self.state_  # a copy of the weights is not worth keeping (or pickling) after training

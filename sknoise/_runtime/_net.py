"""The skorch nets underneath every estimator, and the callbacks of the training loop.

The nets are skorch's own ``NeuralNetClassifier`` / ``NeuralNetRegressor`` with two
extension points overridden (``get_iterator``: mini-batches are slices of in-memory
tensors; ``run_single_epoch``, ``train_step_single`` and ``validation_step``: the batch
losses are read back from the device once per epoch, and the modules' train/eval mode
is set when it changes, not on every batch), so skorch's callbacks
(``EpochScoring('accuracy')``, ``'roc_auc'``, ...) and ``net.predict_proba`` work on
them as skorch documents.
"""

from __future__ import annotations

import copy
import math
import re
import warnings

import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, PrintLog
from skorch.dataset import get_len, unpack_data
from skorch.utils import TeeGenerator

from ..nn._inference import autocast
from ._data import TensorBatches, features_of, weights_of

__all__ = [
    "TransientState",
    "RecordValues",
    "TensorNetClassifier",
    "TensorNetRegressor",
    "MaxNormConstraint",
    "LastGoodEpoch",
    "BestEpoch",
    "TrainingDivergedError",
    "TrainingDivergedWarning",
    "print_plain",
    "set_verbose",
    "is_skorch_callback",
    "snapshot_training_state",
    "restore_training_state",
]


class _LossBuffer:
    """The batch losses of one epoch, copied into one device tensor as they come.

    Keeping one small tensor per batch until the epoch's end fragmented the CPU heap
    (a large fit's memory grew with every batch: benchmarks/results/scale.md); the copy
    into a preallocated slot does not synchronize with a GPU.
    """

    def __init__(self, expected: int) -> None:
        self._buffer: torch.Tensor | None = None
        self._expected, self._count = max(int(expected), 1), 0

    def append(self, loss: torch.Tensor) -> None:
        loss = loss.detach()
        if self._buffer is None or self._count == len(self._buffer):
            grown = torch.empty(max(self._expected, 2 * self._count), dtype=torch.float32, device=loss.device)
            if self._buffer is not None:
                grown[: self._count] = self._buffer
            self._buffer = grown
        self._buffer[self._count] = loss
        self._count += 1

    def values(self) -> list[float]:
        """The losses as floats: one read-back from the device."""
        return [] if self._buffer is None else self._buffer[: self._count].tolist()


class _TensorDataPath:
    """Mixin for a skorch net whose mini-batches are slices of in-memory tensors.

    Parameters
    ----------
    shuffle_seed : int, default=0
        Seed of the CPU generator that shuffles the training rows each epoch.
    precision : {'float32', 'bfloat16'}, default='float32'
        Arithmetic of the forward passes (:func:`sknoise.nn.autocast`); the module's
        outputs reach the loss and the predictions as float32.
    per_class_batches : bool, default=False
        Training batches take ``batch_size`` rows of each class (:class:`TensorBatches`).
    targets_in_forward : bool, default=False
        Training steps call the module with the batch's targets, ``module(X, targets=y)``
        (the EBM's generative objective sends each row through its own class's model).
    """

    # The module is passed as an instance, so `module` holds the same CUDA tensors as
    # `module_`, callbacks may hold weights too, and a predict_nonlinearity may refer to
    # the module: route them all through skorch's device-mapping unpickler (one
    # torch.save, so shared objects stay shared), or a model fitted on CUDA cannot be
    # loaded without CUDA.
    cuda_dependent_attributes_ = ["module_", "optimizer_", "criterion_", "module", "callbacks", "predict_nonlinearity"]

    def __init__(self, *args, shuffle_seed: int = 0, precision: str = "float32", per_class_batches: bool = False,
                 targets_in_forward: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shuffle_seed = shuffle_seed
        self.precision = precision
        self.per_class_batches = per_class_batches
        self.targets_in_forward = targets_in_forward

    def initialize(self):
        super().initialize()
        # Kept on the net so that successive partial_fit calls continue one stream.
        self.shuffle_generator_ = torch.Generator().manual_seed(int(self.shuffle_seed))
        return self

    def get_iterator(self, dataset, training: bool = False) -> TensorBatches:
        batch_size = len(dataset) if self.batch_size == -1 else self.batch_size
        return TensorBatches(dataset, batch_size, shuffle=training, generator=self.shuffle_generator_,
                             per_class=training and self.per_class_batches)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch, with the batch losses read back from the device once, at its end.

        skorch turns every batch's loss into a float (``loss.item()``), a synchronisation
        that drains a GPU's queue after each step. Here the losses stay on the device and
        are written into the history's batch rows when the epoch ends (also when it is
        interrupted), before any ``on_epoch_end`` callback reads them. During the epoch a
        callback sees a batch's loss as the ``loss`` tensor passed to ``on_batch_end``.
        """
        if iterator is None:
            return
        rows, losses = [], _LossBuffer(len(iterator) if hasattr(iterator, "__len__") else 0)
        try:
            for batch in iterator:
                self.notify("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                rows.append(self.history[-1]["batches"][-1])  # the row on_batch_begin opened
                losses.append(step["loss"])
                self.history.record_batch(prefix + "_batch_size", get_len(batch[0]))
                self.notify("on_batch_end", batch=batch, training=training, **step)
        finally:
            for row, value in zip(rows, losses.values()):
                row[prefix + "_loss"] = value
        self.history.record(prefix + "_batch_count", len(rows))

    def _set_mode(self, training: bool) -> None:
        # skorch sets the mode on every batch, a walk over every submodule (a few percent
        # of a CPU fit: benchmarks/results/mlp_speed.md); it only changes between the
        # training and validation loops, or when a callback changes it.
        if self.module_.training != training or self.criterion_.training != training:
            self._set_training(training)

    def train_step_single(self, batch, **fit_params):
        """skorch's training step (forward, loss, backward, ``on_grad_computed``); the mode set only if it changed."""
        self._set_mode(True)
        Xi, yi = unpack_data(batch)
        if self.targets_in_forward:
            fit_params = {**fit_params, "targets": yi}
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        self.notify("on_grad_computed", named_parameters=TeeGenerator(self.get_all_learnable_params()), batch=batch)
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        """skorch's validation step, setting the mode only if it changed."""
        self._set_mode(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=False)
        return {"loss": loss, "y_pred": y_pred}

    def infer(self, x, **fit_params):
        # Sample weights travel with the features; they weigh the loss, the module never sees them.
        with autocast(self.device, self.precision):
            out = super().infer(features_of(x), **fit_params)
        return out.float() if self.precision != "float32" else out

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The (sample-weighted) mean of the criterion's per-row losses.

        The criteria return one loss per row (``reduction='none'``; several outputs are
        averaged per row); with sample weights ``w`` the batch loss is
        ``sum(w * loss) / sum(w)``, so integer weights act as repeated rows.
        """
        losses = self.criterion_(y_pred, y_true)
        if losses.dim() > 1:
            losses = losses.flatten(1).mean(dim=1)
        weights = weights_of(X)
        if weights is None:
            return losses.mean()
        # A batch of zero-weight rows contributes nothing (and no 0/0).
        return (losses * weights).sum() / weights.sum().clamp_min(torch.finfo(losses.dtype).tiny)


class TensorNetClassifier(_TensorDataPath, NeuralNetClassifier):
    """skorch's ``NeuralNetClassifier`` on the tensor-slicing data path (labels encoded 0..K-1)."""


class TensorNetRegressor(_TensorDataPath, NeuralNetRegressor):
    """skorch's ``NeuralNetRegressor`` on the tensor-slicing data path."""


class TransientState(Callback):
    """A callback that holds state one training call needs only (weight copies, a batch).

    Subclasses name those attributes in :attr:`transient`: the estimator calls
    :meth:`release` after every training call, and they never pickle, so nothing of the
    training data or of a call's working copies stays with the model.
    """

    #: Attributes dropped by :meth:`release` and left out of pickles.
    transient: tuple[str, ...] = ()

    def release(self) -> None:
        """Drop the transient attributes."""
        for name in self.transient:
            self.__dict__.pop(name, None)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in self.transient:
            state.pop(name, None)
        return state


class RecordValues(Callback):
    """Record the same values (e.g. the training noise in force) in every epoch's history row.

    Parameters
    ----------
    **values
        History keys and their values.
    """

    def __init__(self, **values) -> None:
        self.values = values

    def on_epoch_begin(self, net, **kwargs) -> None:
        for key, value in self.values.items():
            net.history.record(key, value)


class MaxNormConstraint(Callback):
    """Rescale each unit's incoming weight vector to an L2 norm of at most ``max_norm``.

    Applied after every optimizer step to the layers the module lists in
    ``max_norm_layers()``; this is Keras' ``max_norm`` constraint, the usual companion
    of dropout.

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
        with torch.no_grad():
            for layer in net.module_.max_norm_layers():
                weight = layer.weight
                if weight.dim() == 3:  # BatchedLinear (members, in, out): a unit's weights are weight[m, :, j]
                    units = weight.transpose(1, 2).reshape(-1, weight.shape[1])
                    units = torch.renorm(units, p=2, dim=0, maxnorm=self.max_norm)
                    weight.copy_(units.reshape(weight.shape[0], weight.shape[2], -1).transpose(1, 2))
                else:
                    # renorm over dim 0 bounds the norm of each output unit's row of weights.
                    weight.copy_(torch.renorm(weight, p=2, dim=0, maxnorm=self.max_norm))


class TrainingDivergedError(FloatingPointError):
    """Training produced a non-finite loss, weights or optimizer state: the network has diverged.

    Heavy-tailed noise (Cauchy), a large noise scale or learning rate, or unscaled
    inputs are the usual causes; the message names the settings in force.
    """


class TrainingDivergedWarning(RuntimeWarning):
    """Training diverged and was stopped; the weights of the last finished epoch were kept."""


def snapshot_training_state(net, streams: bool = False) -> dict:
    """A copy of what training changes: the weights (the criterion's learned ones too, such
    as the joint energy loss's temperature), the optimizer state and the history's length.

    With ``streams``, also where the random streams of training stand (the noise stream's
    call count and the shuffling generator), for undoing a whole training call: a failed
    ``partial_fit`` must not change what the next call draws.
    """
    state = {
        "module": {k: v.detach().clone() for k, v in net.module_.state_dict().items()},
        "criterion": {k: v.detach().clone() for k, v in net.criterion_.state_dict().items()},
        "optimizer": copy.deepcopy(net.optimizer_.state_dict()),
        "epochs": len(net.history),
    }
    if streams:
        state["noise_calls"] = net.module_.noise_rng.calls
        state["shuffle"] = net.shuffle_generator_.get_state()
    return state


def restore_training_state(net, state: dict) -> None:
    """Put the net back to a :func:`snapshot_training_state`."""
    net.module_.load_state_dict(state["module"])
    net.criterion_.load_state_dict(state["criterion"])
    net.optimizer_.load_state_dict(state["optimizer"])
    while len(net.history) > state["epochs"]:
        del net.history[-1]
    if "noise_calls" in state:
        net.module_.noise_rng.restore_call(state["noise_calls"])
        net.shuffle_generator_.set_state(state["shuffle"])


def _all_finite(tensors) -> bool:
    # One read-back per device: Adam keeps its step counts on the CPU when the weights are on a GPU.
    checks: dict = {}
    for t in tensors:
        if torch.is_tensor(t) and t.is_floating_point():
            checks.setdefault(t.device, []).append(torch.isfinite(t).all())
    return all(bool(torch.stack(found).all()) for found in checks.values())


def _optimizer_tensors(optimizer):
    for state in optimizer.state.values():
        yield from state.values()


#: Rows of the last training batch whose outputs the divergence check computes.
OUTPUT_CHECK_ROWS = 64


class LastGoodEpoch(TransientState):
    """Keep the network at its last good, finished epoch.

    The weights and optimizer state of the last finished epoch are copied at its end
    (far cheaper than the epoch itself). Training that stops mid-epoch, on Ctrl-C
    (skorch catches ``KeyboardInterrupt``) or on a warned divergence, gets them back
    and loses the half-finished history row, so the model is always one that completed
    whole epochs and can go on training.

    Divergence is, at the end of an epoch, a non-finite batch loss (training or
    validation; the losses are read from the device once per epoch), non-finite weights
    or optimizer state, or non-finite outputs on the first :data:`OUTPUT_CHECK_ROWS`
    rows of the last batch (a step can blow the weights up after a finite loss; inputs
    near 1e30 make Adam's second moments infinite while the loss stays finite). It raises
    :class:`TrainingDivergedError`, or with ``on_divergence='warn'`` warns with
    :class:`TrainingDivergedWarning` and stops, keeping the last good epoch.

    Parameters
    ----------
    settings : str
        The estimator's noise and optimizer settings, quoted in the message.
    on_divergence : {'raise', 'warn'}, default='raise'
    input_magnitude : float, default=0.0
        The largest absolute value in the training data, quoted when it is large.
    """

    transient = ("_last_inputs", "state_")

    def __init__(self, settings: str, on_divergence: str = "raise", input_magnitude: float = 0.0) -> None:
        self.settings = settings
        self.on_divergence = on_divergence
        self.input_magnitude = input_magnitude

    def on_train_begin(self, net, **kwargs) -> None:
        self.diverged_ = False
        self.state_ = snapshot_training_state(net)

    def on_batch_end(self, net, batch=None, training=None, **kwargs) -> None:
        if training:
            self._last_inputs = features_of(batch[0])

    def on_epoch_end(self, net, **kwargs) -> None:
        inputs, self._last_inputs = getattr(self, "_last_inputs", None), None
        for row in net.history[-1]["batches"]:
            for key in ("train_loss", "valid_loss"):
                if not math.isfinite(row.get(key, 0.0)):
                    self._diverged(net, f"the {key.replace('_', ' ')} became {row[key]}")
        module = net.module_
        if not _all_finite([*module.parameters(), *net.criterion_.parameters()]):
            self._diverged(net, "the weights became non-finite")
        if not _all_finite(_optimizer_tensors(net.optimizer_)):
            self._diverged(net, "the optimizer's state became non-finite")
        # The losses were computed before each step: the last step may still have blown
        # the outputs up. One deterministic forward pass over rows of the last batch tells
        # (a few of them: with large batches, or the EBM's K energies per row, the whole
        # batch cost as much as the epoch's training steps).
        if inputs is not None:
            inputs = inputs[:OUTPUT_CHECK_ROWS]
            was_training = module.training
            module.eval()
            with torch.no_grad(), autocast(net.device, net.precision):
                finite = bool(torch.isfinite(module(inputs)).all())
            module.train(was_training)
            if not finite:
                self._diverged(net, "the network's outputs became non-finite after the last step")
        self.state_ = snapshot_training_state(net)

    def _diverged(self, net, what: str) -> None:
        message = f"Training diverged at epoch {len(net.history)}: {what}. Settings: {self.settings}."
        if self.input_magnitude > 1e4:
            message += (
                f" The largest magnitude in the training data is {self.input_magnitude:.3g}: scale the inputs "
                "(e.g. StandardScaler)."
            )
        message += " Lower the noise scale or the learning rate, or use a lighter-tailed noise distribution."
        if self.on_divergence == "raise":
            self.release()
            raise TrainingDivergedError(message)
        self.diverged_ = True
        warnings.warn(
            f"{message} Training was stopped and the weights of the last finished epoch "
            f"({self.state_['epochs']}) were kept.",
            TrainingDivergedWarning,
            stacklevel=2,
        )
        raise KeyboardInterrupt  # skorch's way to end the training loop early

    def on_train_end(self, net, **kwargs) -> None:
        unfinished = len(net.history) and "train_loss" not in net.history[-1]
        if self.diverged_ or unfinished:
            restore_training_state(net, self.state_)
        self.release()


class BestEpoch(TransientState):
    """Early stopping on the validation loss, restoring the weights of the best epoch.

    An epoch improves when its validation loss is below ``best * (1 - tol)``. Training
    stops after ``patience`` epochs without improvement, but not before ``min_epochs``
    (so that a noise schedule reaches its end). At the end of training, Ctrl-C
    included, the best epoch's weights are put back. Epochs without a validation loss
    (``partial_fit``) are ignored.

    Parameters
    ----------
    patience : int
    tol : float
    min_epochs : int, default=0

    Attributes
    ----------
    best_epoch_ : int or None
        The (1-based) epoch restored, None without validation data.
    best_loss_ : float
        Its validation loss.
    """

    transient = ("best_state_",)

    def __init__(self, patience: int, tol: float, min_epochs: int = 0) -> None:
        self.patience = patience
        self.tol = tol
        self.min_epochs = min_epochs

    def on_train_begin(self, net, **kwargs) -> None:
        self.best_epoch_, self.best_loss_, self.misses_ = None, math.inf, 0
        self.best_state_ = None

    def on_epoch_end(self, net, **kwargs) -> None:
        row = net.history[-1]
        if "valid_loss" not in row:
            return
        loss = row["valid_loss"]
        if self.best_epoch_ is None or loss < self.best_loss_ * (1 - self.tol):
            self.best_epoch_, self.best_loss_, self.misses_ = len(net.history), loss, 0
            self.best_state_ = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
        else:
            self.misses_ += 1
        if self.misses_ >= self.patience and len(net.history) >= self.min_epochs:
            raise KeyboardInterrupt  # skorch's way to end the training loop early

    def on_train_end(self, net, **kwargs) -> None:
        if self.best_state_ is not None and self.best_epoch_ != len(net.history):
            net.module_.load_state_dict(self.best_state_)
        self.release()


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def print_plain(text: str) -> None:
    """Print skorch's epoch table without its ANSI colour codes (logs and notebooks show them raw)."""
    print(_ANSI.sub("", text))


def set_verbose(net, verbose: int, keys_ignored: list[str]) -> None:
    """Turn a built net's epoch table on or off (``verbose``), as a new net would have it.

    A silent net has no ``print_log`` callback at all (it would format a table per epoch
    and discard it); skorch keeps it last among the callbacks.
    """
    callbacks = [(name, callback) for name, callback in net.callbacks_ if name != "print_log"]
    if verbose:
        callbacks.append(("print_log", PrintLog(sink=print_plain, keys_ignored=keys_ignored).initialize()))
    net.callbacks_ = callbacks
    net.verbose = verbose


def is_skorch_callback(entry) -> bool:
    """Whether ``entry`` is a skorch callback or a ``(name, callback)`` pair."""
    if isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str):
        entry = entry[1]
    return isinstance(entry, Callback) or (isinstance(entry, type) and issubclass(entry, Callback))


"""Machinery shared by every sknoise estimator: validation, training and inference.

:class:`NoisyNetEstimator` knows nothing of the task. The task layers
(:class:`NoisyNetClassifier`, and :class:`LogitNetClassifier` for networks that output
logits) add target encoding, the loss, how the T passes reduce and ``score``; an
estimator adds its network module and its own callbacks.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from abc import abstractmethod
from collections.abc import Callable
from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from torch import nn
from torch.distributions import Distribution

from ._activations import available_activations, make_activation
from ._inference import plan_chunks, predict_passes
from ._layers import InferenceNoise, NoiseRNG, NoiseSpec
from ._net import (
    BestEpoch,
    LastGoodEpoch,
    TensorNetClassifier,
    print_plain,
    restore_training_state,
    snapshot_training_state,
)
from ._noise import MULTIPLICATIVE_NOISES, available_noises, get_noise
from ._schedules import NOISE_SCHEDULES, NoiseScheduler
from ._search import NOISE_SEARCH_SPACE, with_prefix
from ._validation import (
    check_callbacks,
    check_classes_argument,
    check_device,
    check_float32_range,
    check_no_booleans_as_numbers,
    check_no_datetime_columns,
    check_optimizer,
    column_names,
)

__all__ = [
    "NoisyNetEstimator",
    "NoisyNetClassifier",
    "LogitNetClassifier",
    "COMMON_ATTRIBUTES_DOC",
    "COMMON_PARAMETERS_DOC",
    "parameters_doc",
    "store_init_params",
]

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

_NOISE_CONSTRAINT = [StrOptions(set(available_noises())), callable, Distribution, None]

# Rows the checks after fit look at (collapse warning); evenly spaced, deterministic.
_CHECK_ROWS = 2000

COMMON_PARAMETERS_DOC = """\
    noise : str, callable or torch Distribution, default={noise!r}
        Distribution of the normalized noise ``z``; see :func:`sknoise.available_noises`
        (``'gaussian'``, ``'uniform'``, ``'laplace'``, ``'logistic'``, ``'cauchy'``,
        ``'gumbel'``, ``'rademacher'``, ``'none'``, and the multiplicative
        ``'dropout'`` and ``'gaussian_dropout'``). A callable
        ``fn(shape, generator=, device=, dtype=)`` or a scalar torch Distribution
        supplies custom noise (a fitted model pickles whenever it does).
    noise_scale : float, default={noise_scale!r}
        The noise scale ``α`` in ``t = s + α z``; for multiplicative kinds the drop
        rate, in ``[0, 1)``.
    inference_noise : None, 'same', str, callable or torch Distribution, default={inference_noise!r}
        Noise kept on at prediction time. ``None``: a deterministic network (noise
        replaced by its expectation). ``'same'``: the noise the model was trained with
        (changing ``noise`` or ``noise_scale`` after fit does not change it). Any other
        value: that distribution. With noise on, :meth:`predict_proba` averages
        ``n_inference_samples`` noisy passes. The passes use common random numbers:
        their draws are shared by all rows of a call, so a row's prediction depends on
        that row, the model and ``random_state`` only.
    inference_noise_scale : float or None, default=None
        Scale of the inference noise; ``None`` reuses the training scale.
    n_inference_samples : int, default={n_inference_samples!r}
        Number ``T`` of Monte-Carlo passes when inference noise is on.
    inference_memory_mb : float or None, default=None
        Memory budget of one vectorized chunk of Monte-Carlo passes, in MiB;
        ``None`` uses scikit-learn's ``working_memory`` setting (1024 by default).
        Chunks split the rows and, when one row's T passes exceed it, the passes.
        The inference parameters above are read at prediction time, so they can be
        changed on a fitted model with ``set_params``.
    noise_schedule : {{'constant', 'linear', 'exponential', 'cosine'}} or callable, default='constant'
        How every training noise scale (noise layers, noise injection nodes, the noisy
        activations' ``c``; not the ``dropout`` rate, a regularizer of its own) evolves
        over ``noise_schedule_epochs`` epochs: a factor going from 1 to
        ``noise_schedule_end``, or ``fn(epoch, n_epochs) -> factor``; see
        :func:`sknoise.noise_schedule_factor`. With early stopping, training never stops
        before the schedule's end. The history records ``noise_scale`` and
        ``noise_scale_factor`` per epoch.
    noise_schedule_end : float, default=0.0
        The factor reached on the last epoch by the built-in decaying schedules.
    noise_schedule_epochs : int or None, default=None
        Length of the schedule in epochs; ``None`` is ``max_epochs``.
    activation_mixing : float or None, default=None
        Mixing constant ``α`` of the noisy activations (``'nan_tanh'``, ...);
        ``None`` keeps the reference value of each variant.
    activation_noise_constant : float or None, default=None
        Noise constant ``c`` of the noisy activations; ``None`` keeps the reference value.
    optimizer : {{'adam', 'adamw', 'sgd', 'rmsprop'}} or torch optimizer class, default='adam'
        The optimizer: a name, or a ``torch.optim.Optimizer`` subclass called with
        ``lr`` and ``weight_decay``.
    lr : float, default={lr!r}
        Learning rate.{lr_why}
    weight_decay : float, default={weight_decay!r}
        L2 penalty passed to the optimizer.{weight_decay_why}
    momentum : float, default=0.9
        Momentum, used by ``'sgd'`` and ``'rmsprop'`` only.
    batch_size : int or 'auto', default='auto'
        Rows per mini-batch; ``'auto'`` is ``min(256, n_rows)`` for the rows of each
        ``fit`` or ``partial_fit`` call.
    max_epochs : int, default={max_epochs!r}
        Passes over the training data (an upper bound with early stopping).
    early_stopping : bool, default={early_stopping!r}
        In ``fit``: hold out ``validation_fraction`` of the training rows (stratified
        where the class counts allow), stop when the validation loss has not improved
        by ``tol`` (relative) for ``n_iter_no_change`` epochs, and restore the weights
        of the best epoch (``best_epoch_``), Ctrl-C included. ``partial_fit`` always
        trains one epoch on every row it is given.
    validation_fraction : float, default=0.1
        Share of the training rows held out for early stopping (and for the
        calibration that estimators make after training).
    n_iter_no_change : int, default={n_iter_no_change!r}
        Patience of early stopping: epochs without improvement before training stops.{n_iter_no_change_why}
    tol : float, default=1e-4
        Relative improvement of the validation loss that counts as one: below
        ``best * (1 - tol)``.
    device : {{'cpu', 'cuda', 'auto'}} or str, default='cpu'
        Torch device; ``'auto'`` picks CUDA when it is available.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling, the validation split and every
        noise draw (training and inference streams apart).
    verbose : int, default=0
        Print skorch's per-epoch table when positive.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (or ``(name, callback)`` tuples) for the training loop;
        skorch's own (``EpochScoring('roc_auc')``, ...) work on the net, whose labels
        are the encoded ``0..K-1``.
    on_divergence : {{'raise', 'warn'}}, default='raise'
        What to do when training diverges (a NaN or inf loss, weights or optimizer
        state; heavy-tailed noise, a large scale or learning rate, or unscaled inputs):
        ``'raise'`` a :class:`sknoise.TrainingDivergedError` naming the settings (a
        failed ``fit`` leaves the estimator unfitted, a failed ``partial_fit`` leaves
        the model it had), or ``'warn'`` (:class:`sknoise.TrainingDivergedWarning`),
        stop, and keep the weights and optimizer state of the last finished epoch."""


COMMON_ATTRIBUTES_DOC = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when X was a DataFrame with string column names.
    net_ : skorch.NeuralNetClassifier
        The trained skorch net; ``net_.module_`` is the torch module and
        ``net_.predict_proba`` works on arrays (without Monte-Carlo inference).
    history_ : skorch.History
        Per-epoch training record (train_loss, valid_loss, dur, ...).
    loss_curve_ : list of float
        Training loss per epoch.
    validation_loss_curve_ : list of float or None
        Validation loss per epoch (with early stopping).
    best_loss_ : float or None
        The lowest training loss of the fit; None with early stopping (as scikit-learn's MLP).
    best_validation_loss_ : float or None
        The validation loss of the restored epoch; None without early stopping.
    best_validation_score_ : float or None
        ``score`` of the final model on the held-out rows; None without early stopping.
    best_epoch_ : int
        The (1-based) epoch whose weights the model holds: the best validation epoch
        with early stopping, the last epoch otherwise.
    n_iter_ : int
        Number of epochs run.
    device_ : str
        Device of the fitted network."""


def parameters_doc(why: dict[str, str] | None = None, **defaults) -> str:
    """The shared parameter documentation with an estimator's defaults and, where its
    default differs from the other estimators', the reason (``why[name]``)."""
    why = why or {}
    notes = {
        f"{name}_why": ("\n" + textwrap.fill(why[name], 84, initial_indent=" " * 8, subsequent_indent=" " * 8))
        if name in why else ""
        for name in ("lr", "weight_decay", "n_iter_no_change")
    }
    return COMMON_PARAMETERS_DOC.format(**defaults, **notes)


def store_init_params(estimator: BaseEstimator, init_locals: dict) -> None:
    """Store an ``__init__``'s arguments (its ``locals()``) unchanged, as scikit-learn requires.

    Every estimator lists all its parameters in its own ``__init__`` signature (that
    is what ``get_params`` reads); this keeps the bodies from repeating them.
    """
    for name, value in init_locals.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class NoisyNetEstimator(BaseEstimator):
    """Base class of the sknoise estimators (not for direct use).

    Subclasses declare all their parameters in ``__init__`` (scikit-learn introspects
    it), store them with :func:`store_init_params`, and provide the network
    (:meth:`_build_module`, :meth:`_layer_widths`). A task layer provides the target
    handling, the loss and the reduction of the passes. Everything else lives here
    once: validation of data and parameters, seeding, the skorch training loop, early
    stopping, partial_fit, divergence handling and memory-bounded Monte-Carlo
    inference.

    Fitting is all or nothing: a ``fit`` that raises leaves the estimator unfitted, a
    ``partial_fit`` that raises leaves the model it had before the call.
    """

    _parameter_constraints: dict = {
        "noise": _NOISE_CONSTRAINT,
        "noise_scale": [Interval(Real, 0, None, closed="left")],
        "inference_noise": [StrOptions({"same"}), *_NOISE_CONSTRAINT],
        "inference_noise_scale": [Interval(Real, 0, None, closed="left"), None],
        "n_inference_samples": [Interval(Integral, 1, None, closed="left")],
        "inference_memory_mb": [Interval(Real, 0, None, closed="neither"), None],
        # Every estimator has an architecture of hidden layers with an activation.
        "hidden_layer_sizes": [tuple, list, Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(available_activations())), callable],
        "noise_schedule": [StrOptions(set(NOISE_SCHEDULES)), callable],
        "noise_schedule_end": [Interval(Real, 0, None, closed="left")],
        "noise_schedule_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "activation_mixing": [Interval(Real, None, None, closed="neither"), None],
        "activation_noise_constant": [Interval(Real, 0, None, closed="left"), None],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
        "on_divergence": [StrOptions({"raise", "warn"})],
    }

    #: Training parameters a later ``partial_fit`` applies to the trained network.
    _PARTIAL_FIT_APPLIES = ("lr", "weight_decay", "momentum", "noise", "noise_scale", "batch_size", "on_divergence")
    #: Parameters partial_fit does not read (fit or prediction does), free to change between calls.
    _NOT_READ_BY_PARTIAL_FIT = (
        "max_epochs", "early_stopping", "validation_fraction", "n_iter_no_change", "tol",
        "inference_noise", "inference_noise_scale", "n_inference_samples", "inference_memory_mb", "energy_aggregate",
    )

    #: Estimator-specific additions to NOISE_SEARCH_SPACE, keyed "optuna" and "grid".
    _search_space_extra: dict = {"optuna": {}, "grid": {}}

    #: History keys left out of the printed epoch table (lists print badly).
    _history_keys_not_printed: tuple[str, ...] = ()

    @classmethod
    def search_space(cls, kind: str = "optuna", prefix: str = "") -> dict:
        """Default hyperparameter search space of this estimator.

        Every parameter it varies acts under every value of the others (no duplicate
        fits): Monte-Carlo inference is left out, because it is off by default and
        gained nothing in our benchmarks.

        Parameters
        ----------
        kind : {'optuna', 'grid'}, default='optuna'
            ``'optuna'``: optuna distributions (``FloatDistribution``,
            ``IntDistribution``, ``CategoricalDistribution`` with plain choices), for
            ``OptunaSearchCV`` or ``trial._suggest``. ``'grid'``: lists of values for
            ``GridSearchCV``, kept small enough for a laptop.
        prefix : str, default=''
            Prepended to every name, e.g. ``'clf__'`` for a Pipeline step ``'clf'``.

        Returns
        -------
        dict
            Parameter name to distribution (or list of values).

        Examples
        --------
        >>> from sknoise import NoisyMLPClassifier
        >>> grid = NoisyMLPClassifier.search_space("grid", prefix="clf__")
        >>> grid["clf__noise_scale"]
        [0.05, 0.1, 0.2, 0.4]
        """
        if kind not in NOISE_SEARCH_SPACE:
            raise ValueError(f"kind must be one of {sorted(NOISE_SEARCH_SPACE)}; got {kind!r}.")
        return with_prefix({**NOISE_SEARCH_SPACE[kind], **cls._search_space_extra[kind]}, prefix)

    # ----------------------------------------------------------------- network API
    @abstractmethod
    def _build_module(self, n_features: int, n_outputs: int, rng: NoiseRNG) -> nn.Module:
        """Return the network, a :class:`~sknoise.NoisyModule` built around ``rng``."""

    @abstractmethod
    def _layer_widths(self, n_features: int, n_outputs: int) -> list[int]:
        """Per-row widths of the input, hidden and output tensors, for inference memory planning."""

    def _extra_callbacks(self) -> list:
        """The estimator's own callbacks, run before the shared ones."""
        return []

    def _check_batches(self, n_train_rows: int, batch_size: int) -> None:
        """Checks of the mini-batches the network can take (batch norm needs two rows)."""

    # ----------------------------------------------------------------- task API
    @abstractmethod
    def _validate_targets(self, y) -> np.ndarray:
        """Check ``y`` for the task."""

    @abstractmethod
    def _set_targets(self, y: np.ndarray, classes=None) -> None:
        """Fitted target information (``classes_``), from the first call's ``y``."""

    @abstractmethod
    def _encode_targets(self, y: np.ndarray) -> torch.Tensor:
        """``y`` as the tensor the loss takes."""

    @abstractmethod
    def _n_outputs(self) -> int:
        """Width of the network's output."""

    @abstractmethod
    def _criterion(self) -> nn.Module:
        """The training loss, called as ``criterion(module_output, y)``."""

    @abstractmethod
    def _per_pass(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named values of each pass, from the ``(passes, rows, ...)`` output."""

    @abstractmethod
    def _pass_kinds(self) -> dict[str, str]:
        """How :meth:`_per_pass`'s values reduce over the passes (see PassStatistics)."""

    def _stratify(self, y: torch.Tensor) -> np.ndarray | None:
        """Labels to stratify the validation split by, or None."""
        return None

    def _net_arguments(self, module: nn.Module) -> dict:
        """Task- and estimator-specific arguments of the skorch net built around ``module``."""
        return {}

    def _after_training(self, train: tuple, valid: tuple | None) -> None:
        """Hook run after training, before the fit is checked (e.g. calibration)."""

    def _warn_if_collapsed(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """Warn when the fitted model is no better than a constant prediction."""

    def _score_tensors(self, X: torch.Tensor, y: torch.Tensor) -> float:
        """``score`` on already validated tensors."""
        raise NotImplementedError

    # ----------------------------------------------------------------- parameters
    @property
    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        return (sizes,) if isinstance(sizes, Integral) else tuple(sizes)

    def _check_params(self) -> None:
        """Checks the constraint table cannot express; subclasses extend it."""
        check_no_booleans_as_numbers(self)
        if any(not isinstance(s, Integral) or s < 1 for s in self._hidden_sizes):
            raise ValueError(f"hidden_layer_sizes must hold positive integers; got {self.hidden_layer_sizes!r}.")
        check_optimizer(self.optimizer)
        if str(self.device) != "auto":
            check_device(self.device)
        check_callbacks(self.callbacks)
        inference_scale = self.noise_scale if self.inference_noise_scale is None else self.inference_noise_scale
        for name, scale in (("noise", self.noise_scale), ("inference_noise", inference_scale)):
            value = getattr(self, name)
            if isinstance(value, str) and value == "same":
                value = self.noise
            if isinstance(value, str) and value in MULTIPLICATIVE_NOISES:
                if not 0 <= scale < 1:
                    raise ValueError(
                        f"With {name}={value!r} the noise scale is a drop rate and must lie in [0, 1); got {scale!r}."
                    )

    def _validate_hyperparameters(self) -> None:
        self._validate_params()  # scikit-learn's check of _parameter_constraints
        self._check_params()

    def _check_unchanged_network(self) -> None:
        """A later partial_fit goes on with the trained network: its defining parameters must not change."""
        free = {*self._PARTIAL_FIT_APPLIES, *self._NOT_READ_BY_PARTIAL_FIT}
        changed = [
            name
            for name, value in self.get_params(deep=False).items()
            if name not in free and not (value is self._fit_params_[name] or _equal(value, self._fit_params_[name]))
        ]
        if changed:
            raise ValueError(
                f"partial_fit continues the trained network, but {', '.join(changed)} changed since it was built; "
                "call fit to train a new one (partial_fit applies new values of "
                f"{', '.join(self._PARTIAL_FIT_APPLIES)})."
            )

    # ----------------------------------------------------------------- validation
    def _validate_X(self, X, reset: bool) -> torch.Tensor:
        check_no_datetime_columns(X)
        X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
        return self._to_float32(X)

    def _validate_X_y(self, X, y, reset: bool) -> tuple[torch.Tensor, np.ndarray]:
        check_no_datetime_columns(X)
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float32, np.float64])
        return self._to_float32(X), self._validate_targets(y)

    def _to_float32(self, X: np.ndarray) -> torch.Tensor:
        check_float32_range(X, column_names(self, X.shape[1]))
        array = np.ascontiguousarray(X, dtype=np.float32)
        if not array.flags.writeable:
            array = array.copy()
        return torch.from_numpy(array)

    # ----------------------------------------------------------------- training
    def _activation_factory(self, rng: NoiseRNG) -> Callable[[int], nn.Module]:
        """``factory(width)`` builds the ``activation`` of a layer of that width."""
        return partial(
            make_activation,
            self.activation,
            rng=rng,
            mixing=self.activation_mixing,
            noise_constant=self.activation_noise_constant,
        )

    def _resolve_device(self) -> str:
        device = str(self.device)
        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if device.startswith("cuda") and torch.cuda._is_in_bad_fork():
            raise RuntimeError(
                "CUDA was initialized in the parent of this forked worker process, and CUDA cannot be used "
                "after fork. Use joblib's default 'loky' backend or a 'spawn'/'forkserver' multiprocessing "
                "start method for parallel searches on GPUs (see the README, 'Several GPUs')."
            )
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={self.device!r} was requested but CUDA is not available; use 'cpu' or 'auto'.")
        return device

    def _optimizer_settings(self) -> dict:
        optimizer = _OPTIMIZERS.get(self.optimizer, self.optimizer)
        settings = {"optimizer": optimizer, "lr": self.lr, "optimizer__weight_decay": self.weight_decay}
        if optimizer in (torch.optim.SGD, torch.optim.RMSprop):
            settings["optimizer__momentum"] = self.momentum
        return settings

    def _divergence_settings(self) -> str:
        """The settings quoted when training diverges."""
        return f"noise={self.noise!r}, noise_scale={self.noise_scale!r}, optimizer={self.optimizer!r}, lr={self.lr!r}"

    def _schedule_epochs(self) -> int:
        return self.max_epochs if self.noise_schedule_epochs is None else self.noise_schedule_epochs

    def _callbacks(self, input_magnitude: float) -> list:
        callbacks = [*self._extra_callbacks()]
        callbacks.append(
            ("last_good_epoch", LastGoodEpoch(self._divergence_settings(), self.on_divergence, input_magnitude))
        )
        scheduled = self.noise_schedule != "constant"
        if scheduled:
            base_scale = None if self.noise in (None, "none") else self.noise_scale
            scheduler = NoiseScheduler(
                self.noise_schedule, self._schedule_epochs(), self.noise_schedule_end, base_scale
            )
            callbacks.append(("noise_schedule", scheduler))
        if self.early_stopping:
            min_epochs = self._schedule_epochs() if scheduled else 0
            callbacks.append(("best_epoch", BestEpoch(self.n_iter_no_change, self.tol, min_epochs)))
        return callbacks + list(self.callbacks or [])

    def _batch_size(self, n_rows: int) -> int:
        return min(256, n_rows) if self.batch_size == "auto" else self.batch_size

    def _split(self, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Training and validation rows of a fit (all rows and None without early stopping)."""
        rows = np.arange(len(y))
        if not self.early_stopping:
            return rows, None
        n_valid = math.ceil(self.validation_fraction * len(y))
        if len(y) < 2 or n_valid >= len(y):
            raise ValueError(
                f"early_stopping=True holds out validation_fraction={self.validation_fraction} of the rows, "
                f"which leaves no training rows out of {len(y)}; pass more rows or set early_stopping=False."
            )
        labels = self._stratify(y)
        if labels is not None:
            counts = np.unique(labels, return_counts=True)[1]
            if counts.min() < 2 or min(n_valid, len(y) - n_valid) < len(counts):
                labels = None  # too few rows of some class to stratify
        train, valid = train_test_split(rows, test_size=n_valid, stratify=labels, random_state=self._seeds_[4])
        return np.sort(train), np.sort(valid)

    def _initialize(self, X: torch.Tensor, n_train_rows: int) -> None:
        """Build the network and its skorch net (fitted attributes ``net_`` and co.)."""
        init_seed, shuffle_seed, train_seed, infer_seed, _ = self._seeds_
        rng = NoiseRNG(train_seed, infer_seed)
        n_outputs = self._n_outputs()
        # Weight initialization draws from torch's global RNG: fork it so that fitting
        # is reproducible without touching the user's own random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(init_seed))
            try:
                module = self._build_module(X.shape[1], n_outputs, rng)
            except (RuntimeError, MemoryError) as error:
                raise ValueError(
                    f"The network could not be built with hidden_layer_sizes={self.hidden_layer_sizes!r} "
                    f"for {X.shape[1]} features and {n_outputs} outputs: {error}"
                ) from error
        self._layer_widths_ = self._layer_widths(X.shape[1], n_outputs)
        print_log = (
            {"callbacks__print_log__sink": print_plain,
             "callbacks__print_log__keys_ignored": ["batches", *self._history_keys_not_printed]}
            if self.verbose
            # Silent runs skip the per-epoch table that skorch would format and discard.
            else {"callbacks__print_log": None}
        )
        self.net_ = self._net_class(
            module,
            criterion=self._criterion(),
            max_epochs=self.max_epochs,
            batch_size=self._batch_size(n_train_rows),
            train_split=None,  # set for each call's data in _train
            callbacks=self._callbacks(float(X.abs().max()) if len(X) else 0.0),
            device=self._resolve_device(),
            verbose=self.verbose,
            shuffle_seed=int(shuffle_seed),
            **print_log,
            **self._net_arguments(module),
            **self._optimizer_settings(),
        )
        self.net_.initialize()

    def _apply_training_parameters(self) -> None:
        """Give a trained network the current values of the parameters partial_fit applies."""
        net = self.net_
        net.lr = self.lr
        for group in net.optimizer_.param_groups:
            group["lr"] = self.lr
            group["weight_decay"] = self.weight_decay
            if "momentum" in group:
                group["momentum"] = self.momentum
        net.module_.set_train_noise(NoiseSpec.make(self.noise, self.noise_scale))
        last_good = dict(net.callbacks_)["last_good_epoch"]
        last_good.on_divergence = self.on_divergence
        last_good.settings = self._divergence_settings()

    def _train(self, X: torch.Tensor, y: torch.Tensor, valid: tuple | None, epochs: int | None) -> None:
        net = self.net_
        device = net.device
        net.batch_size = self._batch_size(len(y))
        self._check_batches(len(y), net.batch_size)
        if valid is not None:
            net.train_split = predefined_split(Dataset(valid[0].to(device), valid[1].to(device)))
        try:
            net.partial_fit(X.to(device), y.to(device), epochs=epochs)
        finally:
            # Nothing of the training data stays with the model (or its pickle).
            net.train_split = None
            for _, callback in net.callbacks_:
                if hasattr(callback, "release"):
                    callback.release()
            net.module_.eval()

    def _draw_seeds(self) -> None:
        rs = check_random_state(self.random_state)
        # init, shuffle, train noise, inference noise, validation split
        self._seeds_ = tuple(int(s) for s in rs.randint(np.iinfo(np.int32).max, size=5))

    def _discard_fitted_state(self) -> None:
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)

    def fit(self, X, y):
        """Train the network from scratch.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric training data (float, int or bool).
        y : array-like of shape (n_samples,)
            Targets (class labels of any type, strings too, for classifiers).

        Returns
        -------
        self

        Notes
        -----
        Interrupting ``fit`` (Ctrl-C) stops training cleanly: the estimator keeps the
        weights of its best validation epoch with early stopping, and of its last
        finished epoch without; ``partial_fit`` trains on from there. A ``fit`` that
        raises leaves the estimator unfitted.
        """
        try:
            self._validate_hyperparameters()
            X, y = self._validate_X_y(X, y, reset=True)
            self._set_targets(y)
            y_enc = self._encode_targets(y)
            self._draw_seeds()
            train, valid = self._split(y_enc)
            self._fit_params_ = self.get_params(deep=False)
            self._initialize(X, len(train))
            train_part = (X[train], y_enc[train])
            valid_part = None if valid is None else (X[valid], y_enc[valid])
            self._train(*train_part, valid_part, epochs=None)
            self._after_training(train_part, valid_part)
            self._record_best(valid_part)
            self._warn_if_collapsed(*train_part)
        except BaseException:
            self._discard_fitted_state()
            raise
        return self

    def partial_fit(self, X, y, classes=None):
        """Train for one epoch on every given row, starting from the current weights.

        The current values of the training parameters apply (``lr``, ``weight_decay``,
        ``momentum``, ``noise``, ``noise_scale``, ``batch_size``, ``on_divergence``);
        changing a parameter that defines the network needs ``fit``. No rows are held
        out: early stopping belongs to ``fit``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), optional
            Classifiers: every class that will ever appear; needed in the first call
            when that call's ``y`` does not contain them all, ignored afterwards.

        Returns
        -------
        self
        """
        if not hasattr(self, "net_"):
            try:
                self._validate_hyperparameters()
                X, y = self._validate_X_y(X, y, reset=True)
                self._set_targets(y, classes)
                y_enc = self._encode_targets(y)
                self._draw_seeds()
                self._fit_params_ = self.get_params(deep=False)
                self._initialize(X, len(y_enc))
                self._train(X, y_enc, None, epochs=1)
                self._after_training((X, y_enc), None)
                self._record_best(None)
            except BaseException:
                self._discard_fitted_state()
                raise
            return self
        self._validate_hyperparameters()
        self._check_unchanged_network()
        X, y = self._validate_X_y(X, y, reset=False)
        y_enc = self._encode_targets(y)
        saved_attributes = dict(vars(self))
        saved_training = snapshot_training_state(self.net_)
        try:
            self._apply_training_parameters()
            self._train(X, y_enc, None, epochs=1)
            self._after_training((X, y_enc), None)
            self._record_best(None)
        except BaseException:
            restore_training_state(self.net_, saved_training)
            vars(self).clear()
            vars(self).update(saved_attributes)
            raise
        return self

    def _record_best(self, valid: tuple | None) -> None:
        best = dict(self.net_.callbacks_).get("best_epoch")
        history = self.net_.history
        if valid is not None and best is not None and best.best_epoch_ is not None:
            self.best_epoch_ = best.best_epoch_
            self.best_validation_loss_ = best.best_loss_
            self.best_validation_score_ = self._score_tensors(*valid)
            self.best_loss_ = None
        else:
            self.best_epoch_ = len(history)
            self.best_validation_loss_ = None
            self.best_validation_score_ = None
            losses = [row["train_loss"] for row in history if "train_loss" in row]
            self.best_loss_ = min(losses) if losses else None

    # ----------------------------------------------------------------- inference
    def _monte_carlo_noise(self) -> InferenceNoise | None:
        """The Monte-Carlo noise asked for by the inference parameters; None when inference is deterministic.

        The noise may name no distribution at all (``'none'`` is deterministic, but the
        noisy activations carry noise of their own that Monte-Carlo mode turns on).
        """
        if self.inference_noise is None or (isinstance(self.inference_noise, str) and self.inference_noise == "none"):
            return None
        same = isinstance(self.inference_noise, str) and self.inference_noise == "same"
        return InferenceNoise(None if same else get_noise(self.inference_noise), self.inference_noise_scale)

    def _inference_budget_bytes(self) -> float:
        mb = get_config()["working_memory"] if self.inference_memory_mb is None else self.inference_memory_mb
        return mb * 2**20

    def _passes(
        self, X: torch.Tensor, per_pass: Callable | None = None, kinds: dict | None = None, check_finite: bool = True
    ) -> dict:
        """Run the Monte-Carlo passes over validated rows and reduce them (default: the task's reduction).

        Non-finite outputs are an error naming the likely cause, unless ``check_finite`` is False.
        """
        # The inference parameters may have changed with set_params since fit.
        self._validate_hyperparameters()
        module = self.net_.module_
        if module.training:
            module.eval()
        noise = self._monte_carlo_noise()
        noisy = noise is not None and module.draws_inference_noise(noise)
        n_passes = self.n_inference_samples if noisy else 1
        outputs = predict_passes(
            module,
            X,
            n_passes=n_passes,
            noise=noise if noisy else None,
            seed=module.noise_rng.seeds["inference"],
            plan=plan_chunks(n_passes, self._layer_widths_, self._inference_budget_bytes()),
            device=self.net_.device,
            per_pass=self._per_pass if per_pass is None else per_pass,
            kinds=self._pass_kinds() if kinds is None else kinds,
        )
        if check_finite:
            self._check_finite_outputs(outputs, X, noisy)
        return outputs

    def _check_finite_outputs(self, outputs: dict, X: torch.Tensor, noisy: bool) -> None:
        bad = np.zeros(len(X), dtype=bool)
        for value in outputs.values():
            bad |= ~np.isfinite(value.reshape(len(X), -1)).all(axis=1)
        if bad.any():
            causes = f"the inputs may be too large for the network (largest |x| {float(X.abs().max()):.3g})"
            if noisy:
                causes += (
                    f", or the inference noise too strong (inference_noise={self.inference_noise!r}, "
                    f"inference_noise_scale={self.inference_noise_scale!r})"
                )
            raise ValueError(
                f"The network produced non-finite outputs for {int(bad.sum())} of {len(X)} rows "
                f"(first: row {int(np.flatnonzero(bad)[0])}): {causes}."
            )

    # ----------------------------------------------------------------- fitted state
    def __sklearn_is_fitted__(self) -> bool:
        # Fitted means a trained network: a fit that raised leaves none.
        return hasattr(self, "net_")

    @property
    def history_(self):
        """skorch ``History``: one row per epoch (train_loss, valid_loss, dur, ...)."""
        check_is_fitted(self)
        return self.net_.history

    @property
    def loss_curve_(self) -> list[float]:
        """Training loss at the end of each epoch."""
        history = self.history_
        return history[:, "train_loss"] if len(history) else []

    @property
    def validation_loss_curve_(self) -> list[float] | None:
        """Validation loss of each epoch, or None without early stopping."""
        history = self.history_
        return history[:, "valid_loss"] if len(history) and "valid_loss" in history[-1] else None

    @property
    def n_iter_(self) -> int:
        """Number of epochs run."""
        return len(self.history_)

    @property
    def device_(self) -> str:
        """The torch device the fitted network lives on."""
        check_is_fitted(self)
        return str(self.net_.device)

    def __getattr__(self, name: str):
        # Only reached for attributes that do not exist (or whose property raised). A
        # fitted attribute read before fit is scikit-learn's NotFittedError (an AttributeError).
        if name.endswith("_") and not name.startswith("__") and name != "net_" and "net_" not in vars(self):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet ({name!r} exists after fit). "
                "Call 'fit' with appropriate arguments before using this estimator."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Monte-Carlo draws are seeded: predictions repeat, but depend on random_state.
        tags.non_deterministic = self.inference_noise not in (None, "none")
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


def _equal(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays, tensors: compared by identity above
        return False


class NoisyNetClassifier(ClassifierMixin, NoisyNetEstimator):
    """The classification layer: labels, probabilities, ``score`` (accuracy)."""

    _net_class = TensorNetClassifier

    def _validate_targets(self, y) -> np.ndarray:
        check_classification_targets(y)
        return y

    def _set_targets(self, y: np.ndarray, classes=None) -> None:
        classes_ = np.unique(y if classes is None else check_classes_argument(classes))
        if len(classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contains only 1 class: {classes_.tolist()}."
            )
        self.classes_ = classes_

    def _encode_targets(self, y: np.ndarray) -> torch.Tensor:
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unseen = self.classes_[index] != y
        if np.any(unseen):
            raise ValueError(
                f"y contains labels not seen when the model was first fitted: {np.unique(y[unseen]).tolist()}; "
                f"known classes are {self.classes_.tolist()}. Pass every class to the first partial_fit "
                "call through `classes`."
            )
        return torch.from_numpy(index.astype(np.int64))

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _stratify(self, y: torch.Tensor) -> np.ndarray:
        return y.numpy()

    def _net_arguments(self, module: nn.Module) -> dict:
        # The net sees encoded labels 0..K-1 (so does a skorch scoring callback); skorch's
        # default accuracy callback is left out (early stopping watches the loss).
        return {"classes": list(range(len(self.classes_))), "callbacks__valid_acc": None}

    @abstractmethod
    def _probabilities(self, outputs: dict) -> tuple[np.ndarray, np.ndarray]:
        """Class probabilities and their spread over the passes, from the reduced outputs."""

    def _proba_tensors(self, X: torch.Tensor, check_finite: bool = True) -> tuple[np.ndarray, np.ndarray]:
        proba, spread = self._probabilities(self._passes(X, check_finite=check_finite))
        # Sums of float32 probabilities are off by ~1e-7, which sklearn's log_loss warns about.
        proba /= proba.sum(axis=1, keepdims=True)
        return proba, spread

    def predict_proba(self, X, return_std: bool = False):
        """Class probabilities, averaged over the Monte-Carlo passes when inference noise is on.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the standard deviation of each class probability across the
            ``n_inference_samples`` passes, an uncertainty estimate (zeros for a
            deterministic network).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        std : ndarray of shape (n_samples, n_classes)
            Only with ``return_std=True``.
        """
        check_is_fitted(self)
        proba, spread = self._proba_tensors(self._validate_X(X, reset=False))
        return (proba, spread) if return_std else proba

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted class labels (from ``classes_``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def _score_tensors(self, X: torch.Tensor, y: torch.Tensor) -> float:
        proba, _ = self._proba_tensors(X)
        return float(np.mean(np.argmax(proba, axis=1) == y.numpy()))

    def _warn_if_collapsed(self, X: torch.Tensor, y: torch.Tensor) -> None:
        rows = np.unique(np.linspace(0, len(y) - 1, min(len(y), _CHECK_ROWS)).astype(int))
        X, y = X[rows], y[rows].numpy()
        with np.errstate(invalid="ignore"):
            proba, _ = self._proba_tensors(X, check_finite=False)
        finite = np.isfinite(proba).all(axis=1)
        if not finite.all():
            return  # training met inputs too large for the network; it said so already
        shares = np.bincount(y, minlength=len(self.classes_)) / len(y)
        eps = 1e-12
        model_loss = float(-np.mean(np.log(np.clip(proba[np.arange(len(y)), y], eps, 1))))
        prior_loss = float(-np.sum(shares * np.log(np.clip(shares, eps, 1))))
        if prior_loss > 0 and model_loss >= 0.99 * prior_loss:
            spread = X.abs().max(dim=0).values
            scale_hint = (
                f"the inputs look unscaled (largest feature magnitude {float(spread.max()):.3g}): standardize them, "
                "e.g. with StandardScaler in a pipeline; "
                if float(spread.max()) > 10
                else ""
            )
            warnings.warn(
                f"{type(self).__name__} did no better on its training rows than predicting the class "
                f"frequencies (log loss {model_loss:.4f} vs {prior_loss:.4f}): it collapsed to a constant "
                f"predictor. Likely causes: {scale_hint}a learning rate or noise scale too large "
                f"(lr={self.lr!r}, noise_scale={self.noise_scale!r}), or too few epochs.",
                ConvergenceWarning,
                stacklevel=3,
            )


class LogitNetClassifier(NoisyNetClassifier):
    """Base of the discriminative estimators: a network of hidden layers that outputs logits.

    Trained with cross-entropy; Monte-Carlo passes are averaged as probabilities
    (softmax of each pass), and their spread is the uncertainty.
    """

    def _layer_widths(self, n_features: int, n_outputs: int) -> list[int]:
        return [n_features, *self._hidden_sizes, n_outputs]

    def _criterion(self) -> nn.Module:
        return nn.CrossEntropyLoss()

    def _per_pass(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"proba": torch.softmax(out, dim=-1)}

    def _pass_kinds(self) -> dict[str, str]:
        return {"proba": "mean_std"}

    def _probabilities(self, outputs: dict) -> tuple[np.ndarray, np.ndarray]:
        return outputs["proba"], outputs["proba_std"]


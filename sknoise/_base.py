"""Machinery shared by every sknoise classifier: validation, training and inference."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit
from torch import nn
from torch.distributions import Distribution

from ._activations import available_activations, make_activation
from ._inference import monte_carlo_passes, rows_per_chunk
from ._layers import NoiseRNG, NoiseSpec, set_inference_noise
from ._net import LastGoodEpoch, MaxNormConstraint, TensorNet, TrainingDivergedError
from ._noise import MULTIPLICATIVE_NOISES, available_noises
from ._schedules import NOISE_SCHEDULES, NoiseScheduler
from ._search import NOISE_SEARCH_SPACE, with_prefix

__all__ = [
    "NoisyNetClassifier",
    "LogitNetClassifier",
    "COMMON_ATTRIBUTES_DOC",
    "COMMON_PARAMETERS_DOC",
    "store_init_params",
]

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

_NOISE_CONSTRAINT = [StrOptions(set(available_noises())), callable, Distribution, None]

COMMON_PARAMETERS_DOC = """\
    noise : str, callable or torch Distribution, default={noise!r}
        Distribution of the normalized noise ``z``; see :func:`sknoise.available_noises`
        (``'gaussian'``, ``'uniform'``, ``'laplace'``, ``'logistic'``, ``'cauchy'``,
        ``'gumbel'``, ``'rademacher'``, ``'none'``, and the multiplicative
        ``'dropout'`` and ``'gaussian_dropout'``). A callable
        ``fn(shape, generator=, device=, dtype=)`` or a scalar torch Distribution
        supplies custom noise.
    noise_scale : float, default={noise_scale!r}
        The noise scale ``α`` in ``t = s + α z``; for multiplicative kinds the drop
        rate, in ``[0, 1)``.
    inference_noise : None, 'same', str, callable or torch Distribution, default={inference_noise!r}
        Noise kept on at prediction time. ``None``: a deterministic network (noise
        replaced by its expectation). ``'same'``: the training distribution. Any other
        value: that distribution. With noise on, :meth:`predict_proba` averages
        ``n_inference_samples`` noisy passes.
    inference_noise_scale : float or None, default=None
        Scale of the inference noise; ``None`` reuses ``noise_scale``.
    n_inference_samples : int, default={n_inference_samples!r}
        Number ``T`` of Monte-Carlo passes when inference noise is on.
    inference_memory_mb : float or None, default=None
        Memory budget of one vectorized chunk of Monte-Carlo passes, in MiB;
        ``None`` uses scikit-learn's ``working_memory`` setting (1024 by default).
        The inference parameters above are read at prediction time, so they can be
        changed on a fitted model with ``set_params``.
    noise_schedule : {{'constant', 'linear', 'exponential', 'cosine'}} or callable, default='constant'
        How every training noise scale (noise layers, noise injection nodes, the noisy
        activations' ``c``) evolves over the ``max_epochs`` epochs: a factor going from
        1 to ``noise_schedule_end``, or ``fn(epoch, max_epochs) -> factor``; see
        :func:`sknoise.noise_schedule_factor`. The history records ``noise_scale``
        and ``noise_scale_factor`` per epoch.
    noise_schedule_end : float, default=0.0
        The factor reached on the last epoch by the built-in decaying schedules.
    activation_mixing : float or None, default=None
        Mixing constant ``α`` of the noisy activations (``'nan_tanh'``, ...);
        ``None`` keeps the reference value of each variant.
    activation_noise_constant : float or None, default=None
        Noise constant ``c`` of the noisy activations; ``None`` keeps the reference value.
    optimizer : {{'adam', 'adamw', 'sgd', 'rmsprop'}} or torch optimizer class, default='adam'
    lr : float, default={lr!r}
        Learning rate.
    weight_decay : float, default={weight_decay!r}
        L2 penalty passed to the optimizer.
    momentum : float, default=0.9
        Momentum, used by ``'sgd'`` and ``'rmsprop'`` only.
    batch_size : int or 'auto', default='auto'
        Rows per mini-batch; ``'auto'`` is ``min(256, n_samples)``.
    max_epochs : int, default={max_epochs!r}
        Passes over the training data (an upper bound with early stopping).
    early_stopping : bool, default={early_stopping!r}
        Hold out ``validation_fraction`` of the training rows (stratified where the
        class counts allow), stop when the validation loss has not improved by
        ``tol`` (relative) for ``n_iter_no_change`` epochs, and restore the best weights.
    validation_fraction : float, default=0.1
    n_iter_no_change : int, default={n_iter_no_change!r}
    tol : float, default=1e-4
    device : {{'cpu', 'cuda', 'auto'}} or str, default='cpu'
        Torch device; ``'auto'`` picks CUDA when it is available.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling, the validation split and every
        noise draw (training and inference streams apart).
    verbose : int, default=0
        Print skorch's per-epoch table when positive.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (or ``(name, callback)`` tuples) for the training loop.
    on_divergence : {{'raise', 'warn'}}, default='raise'
        What to do when the training loss turns NaN or inf (heavy-tailed noise, a large
        scale or learning rate): ``'raise'`` a :class:`sknoise.TrainingDivergedError`
        naming the noise settings and leave the estimator unfitted, or ``'warn'``
        (:class:`sknoise.TrainingDivergedWarning`), stop, and keep the weights of the
        last finished epoch."""


COMMON_ATTRIBUTES_DOC = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when X was a DataFrame with string column names.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module.
    history_ : skorch.History
        Per-epoch training record (train_loss, valid_loss, dur, ...).
    loss_curve_ : list of float
        Training loss per epoch.
    validation_loss_curve_ : list of float or None
        Validation loss per epoch (with early stopping).
    n_iter_ : int
        Number of epochs run.
    device_ : str
        Device of the fitted network."""


def store_init_params(estimator: BaseEstimator, init_locals: dict) -> None:
    """Store an ``__init__``'s arguments (its ``locals()``) unchanged, as scikit-learn requires.

    Every estimator lists all its parameters in its own ``__init__`` signature (that
    is what ``get_params`` reads); this keeps the bodies from repeating them.
    """
    for name, value in init_locals.items():
        if name != "self":
            setattr(estimator, name, value)


class NoisyNetClassifier(ClassifierMixin, BaseEstimator):
    """Base class of the sknoise classifiers (not for direct use).

    Subclasses declare all their parameters in ``__init__`` (scikit-learn introspects
    it), store them with :func:`store_init_params`, and provide the network
    (:meth:`_build_module`), its loss (:meth:`_criterion`) and the rule that turns T
    passes into probabilities (:meth:`_reduce_passes`).
    Everything else lives here once: validation of data and parameters, label
    encoding, seeding, the skorch training loop, early stopping, partial_fit and
    vectorized, memory-bounded Monte-Carlo inference.
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

    #: Estimator-specific additions to NOISE_SEARCH_SPACE, keyed "optuna" and "grid".
    _search_space_extra: dict = {"optuna": {}, "grid": {}}

    @classmethod
    def search_space(cls, kind: str = "optuna", prefix: str = "") -> dict:
        """Default hyperparameter search space of this estimator.

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

    # ----------------------------------------------------------------- subclass API
    @abstractmethod
    def _build_module(self, n_features: int, n_classes: int, rng: NoiseRNG) -> nn.Module:
        """Return the torch module; it must keep ``rng`` as ``module.noise_rng``."""

    @abstractmethod
    def _criterion(self) -> nn.Module:
        """Return the training loss, called as ``criterion(module_output, y)``."""

    @abstractmethod
    def _reduce_passes(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map a ``(T, rows, ...)`` output to class probabilities and their spread, both ``(rows, K)``."""

    @abstractmethod
    def _layer_widths(self, n_features: int, n_classes: int) -> list[int]:
        """Per-row widths of the input, hidden and output tensors, for inference memory planning."""

    @property
    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = self.hidden_layer_sizes
        return (sizes,) if isinstance(sizes, Integral) else tuple(sizes)

    def _check_params(self) -> None:
        """Checks the constraint table cannot express; subclasses extend it."""
        if any(not isinstance(s, Integral) or s < 1 for s in self._hidden_sizes):
            raise ValueError(f"hidden_layer_sizes must hold positive integers; got {self.hidden_layer_sizes!r}.")
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

    # ----------------------------------------------------------------- validation
    def _validate_X(self, X, reset: bool) -> torch.Tensor:
        X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
        return self._to_tensor(X, torch.float32)

    def _validate_X_y(self, X, y, reset: bool) -> tuple[torch.Tensor, np.ndarray]:
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float32, np.float64])
        check_classification_targets(y)
        return self._to_tensor(X, torch.float32), y

    @staticmethod
    def _to_tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
        array = np.ascontiguousarray(array, dtype=np.float32 if dtype == torch.float32 else None)
        if not array.flags.writeable:
            array = array.copy()
        return torch.from_numpy(array).to(dtype)

    def _encode_labels(self, y: np.ndarray) -> torch.Tensor:
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

    def _set_classes(self, y: np.ndarray, classes=None) -> None:
        classes_ = np.unique(y if classes is None else np.asarray(classes))
        if len(classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contains only 1 class: {classes_.tolist()}."
            )
        self.classes_ = classes_

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
                "start method for parallel searches on GPUs (see the README, 'Searching on several GPUs')."
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

    def _callbacks(self) -> list:
        callbacks = [("last_good_epoch", LastGoodEpoch(self._divergence_settings(), self.on_divergence))]
        if self.noise_schedule != "constant":
            base_scale = None if self.noise in (None, "none") else self.noise_scale
            scheduler = NoiseScheduler(self.noise_schedule, self.max_epochs, self.noise_schedule_end, base_scale)
            callbacks.append(("noise_schedule", scheduler))
        if getattr(self, "max_norm", None) is not None:
            callbacks.append(("max_norm", MaxNormConstraint(self.max_norm)))
        if self.early_stopping:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor="valid_loss",
                        patience=self.n_iter_no_change,
                        threshold=self.tol,
                        threshold_mode="rel",
                        load_best=True,
                    ),
                )
            )
        return callbacks + list(self.callbacks or [])

    def _check_enough_rows(self, n_rows: int) -> None:
        """Early stopping must leave training rows after holding out its validation rows."""
        if self.early_stopping and (n_rows < 2 or np.ceil(self.validation_fraction * n_rows) >= n_rows):
            raise ValueError(
                f"early_stopping=True holds out validation_fraction={self.validation_fraction} of the rows, "
                f"which leaves no training rows out of {n_rows}; pass more rows per call or set "
                "early_stopping=False (e.g. for partial_fit on small batches)."
            )

    def _train_split(self, y: np.ndarray):
        """The validation split for this call's rows (None without early stopping)."""
        if not self.early_stopping:
            return None
        n_valid = int(np.ceil(self.validation_fraction * len(y)))
        counts = np.unique(y, return_counts=True)[1]
        stratified = counts.min() >= 2 and min(n_valid, len(y) - n_valid) >= len(counts)
        return ValidSplit(self.validation_fraction, stratified=stratified, random_state=self._split_seed)

    def _validate_hyperparameters(self) -> None:
        self._validate_params()  # scikit-learn's check of _parameter_constraints
        self._check_params()

    def _initialize(self, n_features: int, n_classes: int, y: np.ndarray) -> None:
        rs = check_random_state(self.random_state)
        init_seed, shuffle_seed, train_seed, infer_seed, split_seed = rs.randint(np.iinfo(np.int32).max, size=5)
        rng = NoiseRNG(train_seed, infer_seed)
        # Weight initialization draws from torch's global RNG: fork it so that fitting
        # is reproducible without touching the user's own random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(init_seed))
            try:
                module = self._build_module(n_features, n_classes, rng)
            except (RuntimeError, MemoryError) as error:
                raise ValueError(
                    f"The network could not be built with hidden_layer_sizes={self.hidden_layer_sizes!r} "
                    f"for {n_features} features and {n_classes} classes: {error}"
                ) from error
        module.noise_rng = rng
        batch_size = min(256, len(y)) if self.batch_size == "auto" else self.batch_size
        self._split_seed = int(split_seed)
        self.net_ = TensorNet(
            module,
            criterion=self._criterion(),
            max_epochs=self.max_epochs,
            batch_size=batch_size,
            train_split=None,  # set for each call's data in _run_training
            callbacks=self._callbacks(),
            device=self._resolve_device(),
            verbose=self.verbose,
            # Silent runs skip the per-epoch table that skorch would format and discard.
            **({} if self.verbose else {"callbacks__print_log": None}),
            shuffle_seed=int(shuffle_seed),
            **self._optimizer_settings(),
        )
        self.net_.initialize()

    def _run_training(self, X: torch.Tensor, y: torch.Tensor, epochs: int | None) -> None:
        device = self.net_.device
        # Decided per call: partial_fit batches differ in size and class counts.
        self.net_.train_split = self._train_split(y.numpy())
        try:
            self.net_.partial_fit(X.to(device), y.to(device), epochs=epochs)
        except TrainingDivergedError:
            # A diverged network predicts garbage: leave the estimator unfitted instead.
            del self.net_
            raise
        self._after_training(X, y)

    def _after_training(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """Hook run after every fit or partial_fit (e.g. to calibrate)."""

    def fit(self, X, y):
        """Train the network from scratch.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric training data (float, int or bool).
        y : array-like of shape (n_samples,)
            Class labels of any type (strings too).

        Returns
        -------
        self

        Notes
        -----
        Interrupting ``fit`` (Ctrl-C) stops training cleanly: the estimator keeps the
        weights of the last finished epoch and is usable (``history_`` ends with that
        epoch); ``partial_fit`` trains on from there.
        """
        self._validate_hyperparameters()
        X, y = self._validate_X_y(X, y, reset=True)
        self._set_classes(y)
        y_enc = self._encode_labels(y)
        self._check_enough_rows(len(y))
        self._initialize(X.shape[1], len(self.classes_), y)
        self._run_training(X, y_enc, epochs=None)
        return self

    def partial_fit(self, X, y, classes=None):
        """Train for one epoch, starting from the current weights.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like, optional
            Every class that will ever appear; needed in the first call when that
            call's ``y`` does not contain them all, ignored afterwards.

        Returns
        -------
        self
        """
        first_call = not hasattr(self, "net_")
        if first_call:
            self._validate_hyperparameters()
        X, y = self._validate_X_y(X, y, reset=first_call)
        if first_call:
            self._set_classes(y, classes)
        y_enc = self._encode_labels(y)
        self._check_enough_rows(len(y))
        if first_call:
            self._initialize(X.shape[1], len(self.classes_), y)
        self._run_training(X, y_enc, epochs=1)
        return self

    # ----------------------------------------------------------------- inference
    def _inference_spec(self) -> NoiseSpec | None:
        """The eval-mode noise; None when Monte-Carlo inference is off.

        The spec may be inactive (``noise='none'``): noise sources with noise of their
        own (the noisy activations) still switch to Monte-Carlo mode.
        """
        if self.inference_noise is None or self.inference_noise == "none":
            return None
        noise = self.noise if self.inference_noise == "same" else self.inference_noise
        scale = self.noise_scale if self.inference_noise_scale is None else self.inference_noise_scale
        return NoiseSpec.make(noise, scale)

    def _inference_budget_bytes(self) -> float:
        mb = get_config()["working_memory"] if self.inference_memory_mb is None else self.inference_memory_mb
        return mb * 2**20

    def _forward_passes(self, X: torch.Tensor, reduce: Callable | None = None) -> tuple[np.ndarray, ...]:
        """Run the Monte-Carlo passes over every row of X and reduce them chunk by chunk.

        ``reduce`` maps a chunk's ``(T, rows, ...)`` output to a tuple of ``(rows, ...)``
        tensors (default: :meth:`_reduce_passes`, probabilities and their spread).
        """
        # The inference parameters may have changed with set_params since fit.
        self._validate_hyperparameters()
        module = self.net_.module_
        module.eval()
        noisy = set_inference_noise(module, self._inference_spec())
        n_passes = self.n_inference_samples if noisy else 1
        module.noise_rng.reseed("inference")
        widths = self._layer_widths(self.n_features_in_, len(self.classes_))
        chunk = rows_per_chunk(n_passes, widths, self._inference_budget_bytes())
        reduce = self._reduce_passes if reduce is None else reduce
        # Each chunk is written into arrays allocated once: collecting the chunks and
        # concatenating them made the peak memory grow with the number of chunks.
        outputs, start = None, 0
        for part in monte_carlo_passes(module, X, n_passes, chunk, self.net_.device, reduce):
            if outputs is None:
                outputs = tuple(np.empty((len(X), *t.shape[1:]), dtype=np.float64) for t in part)
            for out, t in zip(outputs, part):
                out[start : start + len(t)] = t.numpy()
            start += len(part[0])
        return outputs

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
        X = self._validate_X(X, reset=False)
        proba, spread = self._forward_passes(X)
        # Sums of float32 probabilities are off by ~1e-7, which sklearn's log_loss warns about.
        proba /= proba.sum(axis=1, keepdims=True)
        return (proba, spread) if return_std else proba

    def predict(self, X):
        """Predicted class labels (from ``classes_``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    # ----------------------------------------------------------------- fitted state
    def __sklearn_is_fitted__(self) -> bool:
        # Fitted means a trained network: a fit that raised leaves classes_ but no net_.
        return hasattr(self, "net_")

    @property
    def history_(self):
        """skorch ``History``: one row per epoch (train_loss, valid_loss, dur, ...)."""
        return self.net_.history

    @property
    def loss_curve_(self) -> list[float]:
        """Training loss at the end of each epoch."""
        history = self.net_.history
        return history[:, "train_loss"] if len(history) else []

    @property
    def validation_loss_curve_(self) -> list[float] | None:
        """Validation loss of each epoch, or None without early stopping."""
        history = self.net_.history
        return history[:, "valid_loss"] if len(history) and "valid_loss" in history[-1] else None

    @property
    def n_iter_(self) -> int:
        """Number of epochs run."""
        return len(self.net_.history)

    @property
    def device_(self) -> str:
        """The torch device the fitted network lives on."""
        return str(self.net_.device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Monte-Carlo predictions depend on where a row sits in its chunk.
        tags.non_deterministic = self.inference_noise not in (None, "none")
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


class LogitNetClassifier(NoisyNetClassifier):
    """Base of the discriminative estimators: a network of hidden layers that outputs logits.

    Trained with cross-entropy; Monte-Carlo passes are averaged as probabilities
    (softmax of each pass), and their spread is the uncertainty.
    """

    def _layer_widths(self, n_features: int, n_classes: int) -> list[int]:
        return [n_features, *self._hidden_sizes, n_classes]

    def _criterion(self) -> nn.Module:
        return nn.CrossEntropyLoss()

    def _reduce_passes(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        proba = torch.softmax(out, dim=-1)
        return proba.mean(dim=0), proba.std(dim=0, correction=0)

"""Machinery shared by every sknoise estimator: validation, training and inference.

:class:`NoisyNetEstimator` knows nothing of the task nor of the network. The task
layers in ``_tasks`` (classification and regression) add target encoding, the loss, how
the T passes reduce and ``score``; an :class:`~._architecture.Architecture` builds the
network and says what it needs; the parameter table (``_params``) says which parameters
an estimator has, their constraints, documentation and lifecycles. A leaf estimator is a
task layer, an architecture and an explicit ``__init__`` signature.
"""

from __future__ import annotations

import math
import warnings
from abc import abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import partial
from numbers import Integral
from typing import ClassVar

import numpy as np
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)
from torch import nn

from ..nn._inference import plan_chunks, predict_passes
from ..nn._layers import InferenceNoise, NoiseRNG, NoiseSpec, NoisyModule
from ..nn._networks import EmbeddedInput, MemberMean, PeriodicEmbedding
from ..nn._noise import MULTIPLICATIVE_NOISES, get_noise
from ._architecture import Architecture, hidden_sizes
from ._data import Rows, float32_weights, largest_magnitude, split_by_index
from ._frames import numeric_column
from ._net import (
    BestEpoch,
    LastGoodEpoch,
    RecordValues,
    TransientState,
    print_plain,
    restore_training_state,
    set_verbose,
    snapshot_training_state,
)
from ._params import OPTIMIZERS, constraints, names_with, optuna_space, parameter_names, search_ranges, with_prefix
from ._preprocessing import FeatureLayout, TablePreprocessor, embedding_width, warn_unseen
from ._schedules import LRScheduler, NoiseScheduler
from ._validation import (
    check_callbacks,
    check_device,
    check_float32_range,
    check_no_booleans_as_numbers,
    check_no_datetime_columns,
    check_no_missing_targets,
    check_optimizer,
    column_names,
    text_in_array_hint,
    validate_table,
)

__all__ = ["NoisyNetEstimator", "store_init_params", "registered_estimators", "CHECK_ROWS"]

# Rows the checks after fit look at (collapse warning); evenly spaced, deterministic.
CHECK_ROWS = 2000

#: noise='auto' adds no noise below this many training rows (see NoisyNetEstimator._choose_noise).
AUTO_NOISE_ROWS = 1000

#: The estimator classes sknoise defines, in the order they were defined.
_REGISTRY: list[type] = []

#: True while a partial_fit call validates its rows (the only caller of _validate_X_y that may
#: meet what its preprocessing never saw and train on it).
_IN_PARTIAL_FIT: ContextVar[bool] = ContextVar("sknoise_in_partial_fit", default=False)


def registered_estimators() -> list[type]:
    """Every estimator class sknoise defines (one registry for the package and its tests)."""
    return list(_REGISTRY)


@contextmanager
def cpu_settings(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``n_threads`` torch threads (None: leave torch's setting) and
    denormal floats flushed to zero, then restore both.

    Weights and activations that decay into the denormal range make CPU matrix products
    several times slower (the README's Scale section, from ``benchmarks/bench_scale.py``);
    flushing changes results only below 1e-38.
    """
    before = torch.get_num_threads()
    change_threads = n_threads is not None and n_threads != before
    if change_threads:
        torch.set_num_threads(n_threads)
    flushing = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if flushing:
            torch.set_flush_denormal(False)
        if change_threads:
            torch.set_num_threads(before)


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

    A leaf estimator names its architecture (``_architecture``) and lists its
    parameters in an explicit ``__init__`` signature (scikit-learn introspects it), whose
    body stores them with :func:`store_init_params`; its parameter constraints come from
    the parameter table. A task layer provides the target handling, the loss and the
    reduction of the passes. Everything else lives here once: validation of data and
    parameters, seeding, the skorch training loop, early stopping, partial_fit,
    divergence handling and memory-bounded Monte-Carlo inference.

    Fitting is all or nothing: a ``fit`` that raises leaves the estimator unfitted, a
    ``partial_fit`` that raises leaves the model it had before the call (its weights,
    optimizer state and random streams: the next call trains as if it had not been made).
    """

    #: The network (None on the task layers, which are not estimators of their own).
    _architecture: ClassVar[Architecture | None] = None
    #: Derived from the parameter table for every leaf estimator (see __init_subclass__).
    _parameter_constraints: ClassVar[dict] = {}
    #: The skorch net class (a classifier's or a regressor's).
    _net_class: type
    #: Keyword arguments of ``validate_data`` for the targets (multi_output, y_numeric).
    _target_validation: ClassVar[dict] = {}

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls._architecture is None:
            return
        cls._parameter_constraints = constraints(cls._parameter_names())
        if cls.__module__.startswith("sknoise.") and cls not in _REGISTRY:
            _REGISTRY.append(cls)

    @classmethod
    def _task_groups(cls) -> tuple[str, ...]:
        """The parameter groups of the task layer."""
        return ()

    @classmethod
    def _parameter_names(cls) -> list[str]:
        """This estimator's parameters, from the table: the shared ones, the task's and the architecture's."""
        return parameter_names(("base", *cls._task_groups(), *cls._architecture.groups))

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
        if kind not in ("optuna", "grid"):
            raise ValueError(f"kind must be one of ['grid', 'optuna']; got {kind!r}.")
        ranges = search_ranges(cls, cls._parameter_names(), kind)
        return with_prefix(optuna_space(ranges) if kind == "optuna" else ranges, prefix)

    # ----------------------------------------------------------------- task API
    @abstractmethod
    def _validate_targets(self, y) -> np.ndarray:
        """Check ``y`` for the task."""

    @abstractmethod
    def _set_targets(self, y: np.ndarray, w: np.ndarray | None, classes=None) -> None:
        """Fitted target information (``classes_``, the target scaling), from the first call's ``y``."""

    @abstractmethod
    def _encode_targets(self, y: np.ndarray) -> torch.Tensor:
        """``y`` as the tensor the loss takes."""

    def _training_weights(self, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor | None:
        """The weights the loss uses: the sample weights, times the class weights of a classifier."""
        return w

    @abstractmethod
    def _n_outputs(self) -> int:
        """Width of the network's output."""

    @abstractmethod
    def _criterion(self) -> nn.Module:
        """The training loss, ``criterion(module_output, y)``, one value per row (``reduction='none'``)."""

    @abstractmethod
    def _combine_members(self) -> Callable | None:
        """How the validation loss combines ensemble members' outputs (None: the members' mean loss)."""

    @abstractmethod
    def _per_pass(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named values of each pass, from the ``(passes, rows, ...)`` output."""

    @abstractmethod
    def _pass_kinds(self) -> dict[str, str]:
        """How :meth:`_per_pass`'s values reduce over the passes (see PassStatistics)."""

    def _check_incremental(self) -> None:
        """Refuse settings that ``partial_fit`` cannot honour (a classifier's 'balanced' class weights)."""

    def _stratify(self, y: np.ndarray) -> np.ndarray | None:
        """Class codes of the (validated, or encoded) targets to stratify the validation split by, or None."""
        return None

    def _net_arguments(self, module: nn.Module) -> dict:
        """Task-specific arguments of the skorch net built around ``module``."""
        return {}

    def _after_training(self, train: Rows, valid: Rows | None) -> None:
        """Hook run after training, before the fit is checked (e.g. calibration)."""

    @abstractmethod
    def _warn_if_collapsed(self, rows: Rows) -> None:
        """Warn when the fitted model is no better than a constant prediction on ``rows``."""

    @abstractmethod
    def _score_rows(self, rows: Rows) -> float:
        """``score`` on already validated rows (sample-weighted)."""

    # ----------------------------------------------------------------- parameters
    def _check_params(self) -> None:
        """Checks the constraint table cannot express, then the architecture's own."""
        check_no_booleans_as_numbers(self)
        sizes = hidden_sizes(self)
        if any(not isinstance(s, Integral) or s < 1 for s in sizes):
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
        self._architecture.check_params(self)

    def _validate_hyperparameters(self) -> None:
        self._validate_params()  # scikit-learn's check of _parameter_constraints
        self._check_params()

    def _check_unchanged_network(self) -> None:
        """A later partial_fit goes on with the trained network: the parameters that fix it must not change."""
        names = self._parameter_names()
        changed = [
            name
            for name in names_with(names, "network")
            if not (getattr(self, name) is self._fit_params_[name] or _equal(getattr(self, name),
                                                                               self._fit_params_[name]))
        ]
        if changed:
            raise ValueError(
                f"partial_fit continues the trained network, but {', '.join(changed)} changed since it was built; "
                "call fit to train a new one (partial_fit applies new values of "
                f"{', '.join(names_with(names, 'training'))})."
            )

    # ----------------------------------------------------------------- validation
    def _validate_X(self, X, reset: bool) -> torch.Tensor:
        check_no_datetime_columns(X)
        if self.preprocessing is None:
            X = self._validate_numeric(X, reset)
            if reset:
                self.preprocessor_ = None
            return self._to_float32(X)
        X = self._validate_table(X, reset)
        return self._preprocess(X, reset)

    def _validate_X_y(self, X, y, reset: bool) -> tuple[torch.Tensor, np.ndarray]:
        check_no_datetime_columns(X)
        check_no_missing_targets(y)
        if self.preprocessing is None:
            X, y = self._validate_numeric(X, reset, y)
            if reset:
                self.preprocessor_ = None
            return self._to_float32(X), self._validate_targets(y)
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = _check_y(y, **self._target_validation)
        X = self._validate_table(X, reset)
        check_consistent_length(X, y)
        features = self._preprocess(X, reset)
        if _IN_PARTIAL_FIT.get() and (not reset or not isinstance(self.preprocessing, str)):
            self._warn_unseen_once(X)
        return features, self._validate_targets(y)

    def _validate_numeric(self, X, reset: bool, y=None):
        """``preprocessing=None``: X as a float array (and y checked with it), scikit-learn's validation."""
        try:
            if y is None:
                return validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
            return validate_data(self, X, y, reset=reset, dtype=[np.float32, np.float64], **self._target_validation)
        except ValueError as error:
            raise text_in_array_hint(error, None) from error

    def _validate_table(self, X, reset: bool):
        """Any DataFrame as a pandas one that keeps its columns (any dtype); anything else must be numeric."""
        return validate_table(self, X, reset)

    def _preprocess(self, X, reset: bool) -> torch.Tensor:
        if not reset:
            return torch.from_numpy(self.preprocessor_._transform_table(X))
        if isinstance(self.preprocessing, str):
            max_onehot = self.max_onehot if self._architecture.embeds_inputs else None
            self.preprocessor_ = TablePreprocessor(self.numeric_scaling, max_onehot)
            return torch.from_numpy(self.preprocessor_._fit_transform_table(X))
        self.preprocessor_ = self._given_preprocessor()
        return torch.from_numpy(self.preprocessor_._transform_table(self.preprocessor_._check_input(X, reset=False)))

    def _given_preprocessor(self) -> TablePreprocessor:
        """A copy of the fitted TablePreprocessor given as ``preprocessing`` (bare or in a FrozenEstimator)."""
        given = self.preprocessing
        given = given.estimator if isinstance(given, FrozenEstimator) else given
        if not isinstance(given, TablePreprocessor):
            raise ValueError(
                f"preprocessing must be 'auto', None or a fitted sknoise.TablePreprocessor; got {self.preprocessing!r}."
            )
        if not hasattr(given, "layout_"):
            raise ValueError(
                "preprocessing is a TablePreprocessor that is not fitted: fit it first (fit, or partial_fit over "
                "chunks of the data). A clone drops the fit (GridSearchCV, cross_validate and dask-ml's "
                "Incremental clone the estimator): pass it as preprocessing=sklearn.frozen.FrozenEstimator(pre) "
                "to keep it."
            )
        if given.layout_.codes and not self._architecture.embeds_inputs:
            raise ValueError(
                f"{type(self).__name__} takes no embedding codes (it reconstructs its inputs), but the given "
                f"preprocessing embeds {given.embedded_columns_}: fit the TablePreprocessor with max_onehot=None."
            )
        return given._fitted_copy()

    def _warn_unseen_once(self, X) -> None:
        """partial_fit's warning when its rows hold categories or columns the preprocessing never saw."""
        if self.preprocessor_ is None or getattr(self, "_warned_unseen_", False):
            return
        found = self.preprocessor_._unseen(X)
        if found:
            self._warned_unseen_ = True
            warn_unseen(found, fitted_on_first_call=isinstance(self.preprocessing, str))

    @staticmethod
    def _validate_sample_weight(sample_weight, X: torch.Tensor) -> np.ndarray | None:
        """Non-negative finite weights, one per row, not all zero (None: unweighted)."""
        if sample_weight is None:
            return None
        w = _check_sample_weight(sample_weight, X.numpy(), dtype=np.float64, ensure_non_negative=True)
        if not np.isfinite(w).all():
            raise ValueError("sample_weight must be finite; it holds NaN or infinity.")
        if not w.sum() > 0:
            raise ValueError("sample_weight sums to zero: at least one row must have a positive weight.")
        return w

    def _rows(self, X: torch.Tensor, y: np.ndarray, w: np.ndarray | None) -> Rows:
        y_enc = self._encode_targets(y)
        w = None if w is None else float32_weights(w)
        return Rows(X, y_enc, self._training_weights(y_enc, w))

    def _check_features(self, X_in, X: torch.Tensor, reset: bool) -> None:
        """Refuse network features that the built-in preprocessing broke, naming the column.

        Extreme finite values can overflow the float64 arithmetic of a scaling fitted on
        them (``numeric_scaling='standard'`` squares them: a value of 1e160 turned its
        column into inf, which training reported as a divergence blaming the noise, and
        1e300 into zeros, silently). Seen here as non-finite features, or (when the scaling
        is fitted, ``reset``) a scaled column of zeros whose input varies. One pass over
        the table, a block of rows at a time (no table-sized temporary).
        """
        if self.preprocessor_ is None or len(X) == 0:
            return  # without preprocessing the values were checked against float32's range
        low, high = torch.full((X.shape[1],), math.inf), torch.full((X.shape[1],), -math.inf)
        for start in range(0, len(X), 1 << 16):
            block_low, block_high = torch.aminmax(X[start:start + (1 << 16)], dim=0)
            low, high = torch.minimum(low, block_low), torch.maximum(high, block_high)  # NaN propagates
        broken = np.flatnonzero(~(torch.isfinite(low) & torch.isfinite(high)).numpy()).tolist()
        what = "non-finite"
        if not broken and reset:
            zero = ((low == 0) & (high == 0)).numpy()
            broken = [j for j in self.preprocessor_.layout_.numeric if zero[j] and _varies(self._input_column(X_in, j))]
            what = "zeros in every row, although its values vary,"
        if not broken:
            return
        source = self._input_column(X_in, broken[0])
        name, magnitude = f"{broken[0]} of the preprocessed features", None
        if source is not None:
            name, values = source
            if np.isfinite(values).any():
                magnitude = float(np.nanmax(np.abs(values)))
                name += f" (largest magnitude {magnitude:.3g})"
        scaling = self.numeric_scaling
        if magnitude is not None and magnitude < 1:
            cause = ("its values are too small for the scaling's arithmetic, and the scaled values vanish in "
                     "float32 (the network's). Rescale the column (multiply it by a power of ten).")
        else:
            cause = ("values this large overflow the scaling's float64 arithmetic"
                     + (" (the standard scaling squares them)" if scaling == "standard" else "") + ". "
                     + ("Use numeric_scaling='robust' (the default, which clips outliers softly), or rescale "
                        "or clip the column." if scaling != "robust" else "Rescale or clip the column."))
        raise ValueError(f"Column {name} became {what} after numeric_scaling={scaling!r}: {cause}")

    def _input_column(self, X_in, j: int) -> tuple[str, np.ndarray] | None:
        """The input column that network feature ``j`` scales (named as error messages name columns) and its
        values; None when the feature is not a scaled column (an indicator, a category)."""
        pre = self.preprocessor_
        numeric = pre.layout_.numeric
        if j not in numeric or not hasattr(pre, "scaled_columns_"):
            return None
        column = pre.scaled_columns_[numeric.index(j)]
        position = pre.columns_.index(column)
        return column_names(self, len(pre.columns_))[position], numeric_column(X_in, position)

    def _to_float32(self, X: np.ndarray) -> torch.Tensor:
        check_float32_range(X, column_names(self, X.shape[1]))
        array = np.ascontiguousarray(X, dtype=np.float32)
        if not array.flags.writeable:
            array = array.copy()
        return torch.from_numpy(array)

    # ----------------------------------------------------------------- training
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
        optimizer = OPTIMIZERS.get(self.optimizer, self.optimizer)
        settings = {"optimizer": optimizer, "lr": self.lr, "optimizer__weight_decay": self.weight_decay}
        if optimizer in (torch.optim.SGD, torch.optim.RMSprop):
            settings["optimizer__momentum"] = self.momentum
        if optimizer in (torch.optim.Adam, torch.optim.AdamW):
            settings["optimizer__betas"] = (0.9, self.beta2)
        return settings

    def _choose_noise(self, n_train_rows: int) -> dict:
        """The training noise of this fit (``noise_``): the parameters as given, or what ``noise='auto'`` picks.

        ``'auto'``: Gaussian noise of scale ``noise_scale · f(n)``, ``f`` rising from 0
        at :data:`AUTO_NOISE_ROWS` training rows to 1 at four times as many (linear in
        ``log n``); none below. On the tabular suite's choice tasks the noise lowered the
        log loss on tables of a few thousand rows and more, and did nothing on smaller
        ones (benchmarks/results/study22.md).
        """
        if not (isinstance(self.noise, str) and self.noise == "auto"):
            return {"noise": self.noise, "noise_scale": self.noise_scale, "rule": "as given"}
        factor = min(1.0, max(0.0, math.log(n_train_rows / AUTO_NOISE_ROWS) / math.log(4)))
        if factor == 0:
            return {"noise": "none", "noise_scale": 0.0,
                    "rule": f"auto: none below {AUTO_NOISE_ROWS} training rows ({n_train_rows})"}
        return {"noise": "gaussian", "noise_scale": self.noise_scale * factor,
                "rule": f"auto: noise_scale x {factor:.3g} for {n_train_rows} training rows"}

    def _noise_record(self) -> dict:
        """What the history records of the training noise in every epoch."""
        noise, scale = self._training_noise()
        return {"noise": noise if isinstance(noise, str) or noise is None else repr(noise), "noise_scale": scale}

    def _training_noise(self) -> tuple:
        """The noise distribution and scale the network trains with (``noise_``; a later
        ``partial_fit`` applies new ``noise`` / ``noise_scale`` unless ``noise='auto'``)."""
        if isinstance(self.noise, str) and self.noise == "auto":
            return self.noise_["noise"], self.noise_["noise_scale"]
        return self.noise, self.noise_scale

    def _divergence_settings(self) -> str:
        """The settings quoted when training diverges."""
        own = self._architecture.settings(self)
        noise, scale = self._training_noise()
        return (f"noise={noise!r}, noise_scale={scale!r}, optimizer={self.optimizer!r}, "
                f"lr={self.lr!r}" + (f", {own}" if own else ""))

    def _schedule_epochs(self) -> int:
        return self.max_epochs if self.noise_schedule_epochs is None else self.noise_schedule_epochs

    def _callbacks(self, input_magnitude: float) -> list:
        callbacks = [*self._architecture.callbacks(self)]
        callbacks.append(
            ("last_good_epoch", LastGoodEpoch(self._divergence_settings(), self.on_divergence, input_magnitude))
        )
        if self.lr_schedule != "constant":
            callbacks.append(("lr_schedule", LRScheduler(self.lr_schedule, self.lr)))
        scheduled = self.noise_schedule != "constant"
        if scheduled:
            noise, scale = self._training_noise()
            base_scale = None if noise in (None, "none") else scale
            scheduler = NoiseScheduler(
                self.noise_schedule, self._schedule_epochs(), self.noise_schedule_end, base_scale
            )
            callbacks.append(("noise_schedule", scheduler))
        else:
            callbacks.append(("noise_record", RecordValues(**self._noise_record())))
        if self.early_stopping:
            min_epochs = self._schedule_epochs() if scheduled else 0
            callbacks.append(("best_epoch", BestEpoch(self.n_iter_no_change, self.tol, min_epochs)))
        return callbacks + list(self.callbacks or [])

    def _keys_not_printed(self) -> list[str]:
        return ["batches", *self._architecture.history_keys_not_printed]

    def _print_log(self) -> dict:
        """skorch's epoch table: printed plainly when verbose, left out (never formatted) otherwise."""
        if not self.verbose:
            return {"callbacks__print_log": None}
        return {"callbacks__print_log__sink": print_plain,
                "callbacks__print_log__keys_ignored": self._keys_not_printed()}

    def _batch_size(self, n_rows: int) -> int:
        return min(256, n_rows) if self.batch_size == "auto" else self.batch_size

    def _split_positions(self, n: int, labels: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Sorted positions of the training and the validation rows of a fit with early stopping.

        ``labels`` (class codes, or None) stratify the split when every class has rows enough.
        """
        n_valid = math.ceil(self.validation_fraction * n)
        if n < 2 or n_valid >= n:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction={self.validation_fraction} of the rows, "
                f"which leaves no training rows out of {n}; pass more rows or set early_stopping=False."
            )
        if labels is not None:
            counts = np.unique(labels, return_counts=True)[1]
            if counts.min() < 2 or min(n_valid, n - n_valid) < len(counts):
                labels = None  # too few rows of some class to stratify
        train, valid = train_test_split(np.arange(n), test_size=n_valid, stratify=labels, random_state=self._seeds_[4])
        train.sort(), valid.sort()  # in place: train_test_split returned new arrays
        return train, valid

    def _early_split(self, y) -> tuple[np.ndarray, np.ndarray] | None:
        """The split of a fit with early stopping, from its targets, before X is validated.

        The network's table does not exist yet, so the split's own bookkeeping (scikit-learn's
        stratified split holds about 80 bytes a row for a moment: 0.4x a float32 table of 50
        columns) never adds to it in the fit's peak memory. The positions are those
        :meth:`_split` would compute from the validated rows (the class codes of ``y`` are
        its encoded labels). None without early stopping, or when the targets fail
        scikit-learn's check here: their validation names the problem, and :meth:`_split`
        splits the validated rows.
        """
        if not self.early_stopping:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # validation warns about y itself, once
                y = _check_y(y, **self._target_validation)
                return self._split_positions(len(y), self._stratify(y))
        except (ValueError, TypeError):
            return None

    def _split(self, rows: Rows, positions: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Rows, Rows | None]:
        """Training and validation rows of a fit (all rows and None without early stopping).

        Both parts are positions in the one table (a copy of the training rows was 0.9x
        the table on top of it); the batches gather their rows. ``positions`` come from
        :meth:`_early_split` when it could compute them.
        """
        if not self.early_stopping:
            return rows, None
        if positions is None or sum(map(len, positions)) != len(rows):
            positions = self._split_positions(len(rows), self._stratify(rows.y.numpy()))
        train, valid = positions
        return rows.subset(train), rows.subset(valid)

    def _check_weights(self, train: Rows, valid: Rows | None, sample_weighted: bool) -> None:
        """Refuse, before training, a fit whose weights leave no rows to learn from or to validate on.

        Held-out rows that all weigh zero gave early stopping a validation loss of 0 in every
        epoch and a division by zero in the validation score after training. They are
        refused rather than validated unweighted: a zero weight says that a row must not
        count (a ``class_weight`` of 0 drops a class), and choosing the epoch on those rows
        would go against it; and when no weighted row was held out, the weighted rows are
        too few for a validation loss anyway.
        """
        if train.w is None:
            return
        class_weighted = getattr(self, "class_weight", None) is not None
        sources = " times ".join(name for name, used in (("sample_weight", sample_weighted),
                                                         ("class_weight", class_weighted)) if used)
        trains, validates = bool((train.w > 0).any()), valid is not None and bool((valid.w > 0).any())
        if not trains and not validates:
            raise ValueError(
                f"Every row weighs zero under {sources}: there is nothing to learn from. Give some rows a "
                "positive weight (a class_weight of 0 drops every row of that class)."
            )
        if valid is not None and not validates:
            raise ValueError(
                f"early_stopping=True held out {len(valid)} of the {len(train) + len(valid)} rows "
                f"(validation_fraction={self.validation_fraction}) for the validation loss, and they all weigh "
                f"zero under {sources}: there is nothing to choose the epoch on. Give more rows a positive "
                "weight, raise validation_fraction, or set early_stopping=False."
            )
        if not trains:
            raise ValueError(
                f"The {len(train)} rows left for training after early stopping held out {len(valid)} all weigh "
                f"zero under {sources}: there is nothing to learn from. Give more rows a positive weight, or set "
                "early_stopping=False."
            )

    def _input_layout(self, n_features: int) -> FeatureLayout:
        """What each input column of the network holds (all numbers without the built-in preprocessing)."""
        if self.preprocessor_ is None:
            return FeatureLayout.all_numeric(n_features)
        return self.preprocessor_.layout_

    def _initialize_module(self, n_features: int, rng: NoiseRNG) -> NoisyModule:
        """Build the network, with its embeddings in front (fitted attribute ``_layer_widths_``)."""
        layout = self._input_layout(n_features)
        n_outputs = self._n_outputs()
        widths = [embedding_width(n) for n in layout.cardinalities]
        periodic = self._architecture.embeds_inputs and self.numeric_embedding == "periodic" and layout.numeric
        numeric = PeriodicEmbedding(len(layout.numeric)) if periodic else None
        dense = layout.dense if numeric is None else layout.other
        n_inputs = EmbeddedInput.embedded_width(len(dense), widths, numeric)
        try:
            module = self._architecture.build(self, n_inputs, n_outputs, rng)
            if widths or numeric is not None:
                module = EmbeddedInput(module, numeric=layout.numeric if numeric is not None else (), dense=dense,
                                       codes=layout.codes, cardinalities=layout.cardinalities, widths=widths,
                                       numeric_embedding=numeric)
        except (RuntimeError, MemoryError) as error:
            raise ValueError(
                f"The network could not be built with hidden_layer_sizes={self.hidden_layer_sizes!r} "
                f"for {n_inputs} input features and {n_outputs} outputs: {error}"
            ) from error
        if not isinstance(module, NoisyModule):
            raise TypeError(f"{type(self._architecture).__name__}.build must return a sknoise.nn.NoisyModule.")
        # Memory per input row: the members' activations side by side.
        widths = self._architecture.layer_widths(self, n_inputs, n_outputs)
        self._layer_widths_ = [widths[0], *(self.n_members * w for w in widths[1:])]
        self.n_members_ = self.n_members
        return module

    def _initialize_net(self, module: NoisyModule, input_magnitude: float, n_train_rows: int,
                        shuffle_seed: int) -> None:
        """Build the skorch net around ``module`` (fitted attribute ``net_``); ``input_magnitude``
        is the largest ``|x|`` of the training data, which a divergence message quotes."""
        criterion = self._criterion()
        if self.n_members > 1:
            criterion = MemberMean(criterion, self._combine_members())
        self.net_ = self._net_class(
            module,
            criterion=criterion,
            max_epochs=self.max_epochs,
            batch_size=self._batch_size(n_train_rows),
            train_split=None,  # set for each call's data in _train
            callbacks=self._callbacks(input_magnitude),
            device=self._resolve_device(),
            verbose=self.verbose,
            shuffle_seed=int(shuffle_seed),
            precision=self.precision,
            **self._print_log(),
            **self._net_arguments(module),
            **self._architecture.net_arguments(self),
            **self._optimizer_settings(),
        )
        self.net_.initialize()

    def _initialize(self, X: torch.Tensor, n_train_rows: int) -> None:
        """Build the network and its skorch net (fitted attributes ``net_`` and co.)."""
        self._build_net(X.shape[1], largest_magnitude(X), n_train_rows)

    def _build_net(self, n_features: int, input_magnitude: float, n_train_rows: int) -> None:
        """Build ``net_`` with freshly initialized weights from ``_seeds_`` and the fitted attributes.

        The network's shape comes from the parameters, ``n_features`` (the input width
        without the built-in preprocessing), ``preprocessor_``'s layout and the task's
        fitted targets (``classes_`` or ``n_outputs_``). ``fit`` builds its network here
        (through :meth:`_initialize`); :func:`sknoise.load` rebuilds a saved network here,
        under the saved seeds and the parameters it was fitted with, before loading the
        saved weights and training state into it.
        """
        init_seed, shuffle_seed, train_seed, infer_seed, _ = self._seeds_
        rng = NoiseRNG(train_seed, infer_seed)
        # Weight initialization draws from torch's global RNG: fork it so that fitting
        # is reproducible without touching the user's own random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(init_seed))
            module = self._initialize_module(n_features, rng)
        self._initialize_net(module, input_magnitude, n_train_rows, shuffle_seed)

    def _apply_training_parameters(self) -> None:
        """Give a trained network the current values of the parameters partial_fit applies (lifecycle 'training')."""
        net = self.net_
        net.lr = self.lr
        for group in net.optimizer_.param_groups:
            group["lr"] = self.lr
            group["weight_decay"] = self.weight_decay
            if "momentum" in group:
                group["momentum"] = self.momentum
            if "betas" in group:
                group["betas"] = (group["betas"][0], self.beta2)
        if not (isinstance(self.noise, str) and self.noise == "auto"):
            self.noise_ = self._choose_noise(0)  # the values as given
        net.module_.set_train_noise(NoiseSpec.make(*self._training_noise()))
        record = dict(net.callbacks_).get("noise_record")
        if record is not None:
            record.values = self._noise_record()
        net.precision = self.precision
        last_good = dict(net.callbacks_)["last_good_epoch"]
        last_good.on_divergence = self.on_divergence
        last_good.settings = self._divergence_settings()
        if bool(net.verbose) != bool(self.verbose):
            set_verbose(net, self.verbose, self._keys_not_printed())
        # batch_size is read by each training call; class_weight by _rows; calibration after training.

    def _train(self, rows: Rows, valid: Rows | None, epochs: int | None) -> None:
        with cpu_settings(self.n_threads):
            self._train_loop(rows, valid, epochs)

    def _train_loop(self, rows: Rows, valid: Rows | None, epochs: int | None) -> None:
        net = self.net_
        net.module_.noise_rng.next_call()
        device = net.device
        net.batch_size = self._batch_size(len(rows))
        self._architecture.check_batches(self, len(rows), net.batch_size)
        # Training and validation rows are positions in one table: it moves to the device
        # once, goes to skorch whole, and the split hands skorch the positions.
        if valid is not None and not rows.shares_table(valid):
            raise RuntimeError("The training and validation rows must be positions in one table.")
        rows = rows.to(device)
        if valid is not None or rows.index is not None:
            net.train_split = partial(split_by_index, train=rows.index, valid=None if valid is None else valid.index)
        lr_schedule = dict(net.callbacks_).get("lr_schedule")
        if lr_schedule is not None:
            # fit has a budget of max_epochs epochs to schedule; partial_fit trains at the constant lr.
            lr_schedule.lr = self.lr
            lr_schedule.steps = None if epochs is not None else self.max_epochs * math.ceil(len(rows) / net.batch_size)
        try:
            net.partial_fit(*rows.table_input(), epochs=epochs)
        finally:
            # Nothing of the training data stays with the model (or its pickle).
            net.train_split = None
            for _, callback in net.callbacks_:
                if isinstance(callback, TransientState):
                    callback.release()
            net.module_.eval()

    def _draw_seeds(self) -> None:
        rs = check_random_state(self.random_state)
        # init, shuffle, train noise, inference noise, validation split
        self._seeds_ = tuple(int(s) for s in rs.randint(np.iinfo(np.int32).max, size=5))

    def _discard_fitted_state(self) -> None:
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)

    def fit(self, X, y, sample_weight=None):
        """Train the network from scratch.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training data: with ``preprocessing='auto'`` any table (numeric,
            categorical and missing values); with ``preprocessing=None`` numbers that
            are already scaled.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets: class labels of any type (strings too) for classifiers, numbers
            (one column or several) for regressors.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the training loss (a weighted mean), in the
            validation loss of early stopping and in the fitted statistics (class
            shares, target scaling). Integer weights act as repeated rows, up to the
            randomness of training. Only their ratios matter: weights beyond float32's
            range (the network's) are scaled by a power of two, exactly. With early
            stopping, held-out rows that all weigh zero (with ``class_weight`` too)
            are refused before training: there would be no validation loss to choose
            the epoch on, and validating on rows weighted zero would count rows meant
            not to count.

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
        return self._fit(X, y, sample_weight, incremental=False)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on every given row, starting from the current weights.

        The current values of the training parameters apply (lifecycle 'training' in
        the parameter documentation: ``lr``, ``weight_decay``, ``momentum``, ``beta2``,
        ``noise``, ``noise_scale``, ``batch_size``, ``on_divergence``, ``precision``,
        ``verbose``, and a classifier's ``class_weight`` and ``calibration``);
        changing a parameter that defines the network needs ``fit``. No rows are held
        out: early stopping belongs to ``fit``. The fitted statistics (class shares,
        target scaling) come from the first call.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        classes : array-like of shape (n_classes,), optional
            Classifiers: every class that will ever appear; needed in the first call
            when that call's ``y`` does not contain them all, ignored afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the training loss.

        Returns
        -------
        self
        """
        token = _IN_PARTIAL_FIT.set(True)
        try:
            return self._fit(X, y, sample_weight, incremental=True, classes=classes)
        finally:
            _IN_PARTIAL_FIT.reset(token)

    def _fit(self, X, y, sample_weight, *, incremental: bool, classes=None):
        """``fit`` (a new network, early stopping) or ``partial_fit`` (one epoch; the first call builds the network).

        All or nothing: a new network is discarded when anything raises, a continued one
        gets back the weights, optimizer state, attributes and random streams (noise,
        shuffling) it had, so the next call trains as if the failed one had not been made.
        """
        self._validate_hyperparameters()
        if incremental:
            self._check_incremental()
        continuing = incremental and self.__sklearn_is_fitted__()
        if continuing:
            self._check_unchanged_network()
            saved_attributes, saved_training = dict(vars(self)), snapshot_training_state(self.net_, streams=True)
        try:
            if not continuing:
                self._draw_seeds()
            positions = None if incremental else self._early_split(y)
            X_in = X
            X, y = self._validate_X_y(X, y, reset=not continuing)
            self._check_features(X_in, X, reset=not continuing)
            w = self._validate_sample_weight(sample_weight, X)
            if not continuing:
                self._set_targets(y, w, classes)
            rows = self._rows(X, y, w)
            if continuing:
                train, valid = rows, None
                self._apply_training_parameters()
            else:
                train, valid = (rows, None) if incremental else self._split(rows, positions)
                if not incremental:
                    self._check_weights(train, valid, sample_weight is not None)
                self.noise_ = self._choose_noise(len(train))
                self._fit_params_ = self.get_params(deep=False)
                self._initialize(X, len(train))
            self._train(train, valid, epochs=1 if incremental else None)
            self._after_training(train, valid)
            self._record_best(valid)
            if not incremental:
                self._warn_if_collapsed(train)
        except BaseException:
            if continuing:
                restore_training_state(self.net_, saved_training)
                vars(self).clear()
                vars(self).update(saved_attributes)
            else:
                self._discard_fitted_state()
            raise
        return self

    def _record_best(self, valid: Rows | None) -> None:
        best = dict(self.net_.callbacks_).get("best_epoch")
        history = self.net_.history
        if valid is not None and best is not None and best.best_epoch_ is not None:
            self.best_epoch_ = best.best_epoch_
            self.best_validation_loss_ = best.best_loss_
            self.best_validation_score_ = self._score_rows(valid)
            self.best_loss_ = None
        else:
            self.best_epoch_ = len(history)
            self.best_validation_loss_ = None
            self.best_validation_score_ = None
            losses = [row["train_loss"] for row in history if "train_loss" in row]
            self.best_loss_ = min(losses) if losses else None

    # ----------------------------------------------------------------- inference
    def transform_input(self, X) -> np.ndarray:
        """The network's numeric input for ``X``: the rows validated and preprocessed as ``predict`` does.

        With ``preprocessing='auto'`` this is the output of the fitted
        ``preprocessor_`` (scaled numbers, missing indicators, one-hot columns and
        embedding codes, in the order of ``preprocessor_.layout_``); with
        ``preprocessing=None`` it is ``X`` itself as float32. It is the input of the
        graph :func:`sknoise.to_onnx` exports.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows as ``predict`` takes them (checked the same way: feature count and
            names, dtypes, infinities).

        Returns
        -------
        features : ndarray of shape (n_samples, n_network_inputs), dtype float32
        """
        check_is_fitted(self)
        features = self._validate_X(X, reset=False).numpy()
        # Without the preprocessing the network's input may be X's own memory: never hand that out.
        return features.copy() if self.preprocessor_ is None else features

    def _monte_carlo_noise(self) -> InferenceNoise | None:
        """The Monte-Carlo noise asked for by the inference parameters; None when inference is deterministic.

        The noise may name no distribution at all (``'none'`` is deterministic, but the
        noisy activations carry noise of their own that Monte-Carlo mode turns on).
        """
        dropout = self._architecture.inference_dropout(self)
        if self.inference_noise is None or (isinstance(self.inference_noise, str) and self.inference_noise == "none"):
            return InferenceNoise(get_noise("none"), dropout=True) if dropout else None
        same = isinstance(self.inference_noise, str) and self.inference_noise == "same"
        return InferenceNoise(None if same else get_noise(self.inference_noise), self.inference_noise_scale, dropout)

    def _inference_budget_bytes(self) -> float:
        mb = get_config()["working_memory"] if self.inference_memory_mb is None else self.inference_memory_mb
        return mb * 2**20

    def _members_as_passes(self, per_pass: Callable) -> Callable:
        """With members, the ``(passes, rows, members, ...)`` output counts every member as a pass."""
        if self.n_members_ == 1:
            return per_pass

        def fold(out: torch.Tensor) -> dict:
            p, r, k = out.shape[:3]
            return per_pass(out.transpose(1, 2).reshape(p * k, r, *out.shape[3:]))

        return fold

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
        with cpu_settings(self.n_threads):
            outputs = predict_passes(
                module,
                X,
                n_passes=n_passes,
                noise=noise if noisy else None,
                seed=module.noise_rng.seeds["inference"],
                plan=plan_chunks(n_passes, self._layer_widths_, self._inference_budget_bytes()),
                device=self.net_.device,
                per_pass=self._members_as_passes(self._per_pass if per_pass is None else per_pass),
                kinds=self._pass_kinds() if kinds is None else kinds,
                precision=self.precision,
            )
        if check_finite:
            self._check_finite_outputs(outputs, X, noisy)
        return outputs

    def _check_finite_outputs(self, outputs: dict, X: torch.Tensor, noisy: bool) -> None:
        bad = np.zeros(len(X), dtype=bool)
        for value in outputs.values():
            bad |= ~np.isfinite(value.reshape(len(X), -1)).all(axis=1)
        if bad.any():
            causes = f"the inputs may be too large for the network (largest |x| {largest_magnitude(X):.3g})"
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
        # The built-in preprocessing imputes missing values (and encodes categories).
        tags.input_tags.allow_nan = self.preprocessing is not None
        tags.input_tags.sparse = False
        return tags


def _varies(column: tuple[str, np.ndarray] | None) -> bool:
    """Whether an input column (from ``_input_column``) holds two different observed values."""
    if column is None:
        return False
    observed = column[1][~np.isnan(column[1])]
    return len(observed) > 0 and observed.min() != observed.max()


def _equal(a, b) -> bool:
    try:
        return bool(a == b)
    except Exception:  # arrays, tensors: compared by identity above
        return False

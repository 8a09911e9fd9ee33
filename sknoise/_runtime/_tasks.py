"""The task layers over :class:`NoisyNetEstimator`: classification and regression.

Each adds what belongs to its task only: target validation and encoding, the loss,
the reduction of the Monte-Carlo passes, ``predict`` / ``predict_proba``, ``score`` and
the check that a fit learned more than a constant. How a classifier's network outputs
become probabilities is its architecture's :class:`~._architecture.ClassifierHead`.
"""

from __future__ import annotations

import math
import warnings
from numbers import Real

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..nn._networks import GaussianNLL, gaussian_variance, mean_output
from ._architecture import ClassifierHead, MemberAverage
from ._calibration import fit_temperature
from ._data import Rows, largest_magnitude
from ._estimator import CHECK_ROWS, NoisyNetEstimator
from ._net import TensorNetClassifier, TensorNetRegressor
from ._validation import check_classes_argument

__all__ = ["NoisyNetClassifier", "NoisyNetRegressor"]


# One scalar is fitted: this many rows pin it down, and bound the Monte-Carlo cost of fit.
MAX_CALIBRATION_ROWS = 1000


def _check_rows(rows: Rows) -> Rows:
    """At most CHECK_ROWS rows, evenly spaced (deterministic; class shares survive sorted data)."""
    index = np.unique(np.linspace(0, len(rows) - 1, min(len(rows), CHECK_ROWS)).astype(int))
    return rows.subset(index)


def _weights(rows: Rows) -> np.ndarray:
    return np.ones(len(rows)) if rows.w is None else rows.w.double().numpy()


def _collapse_hint(estimator, X: torch.Tensor) -> str:
    largest = largest_magnitude(X)
    scale_hint = (
        f"the inputs look unscaled (largest feature magnitude {largest:.3g}): standardize them, e.g. with "
        "StandardScaler in a pipeline; "
        if largest > 10
        else ""
    )
    return (
        f"Likely causes: {scale_hint}a learning rate or noise scale too large (lr={estimator.lr!r}, "
        f"noise_scale={estimator.noise_scale!r}), or too few epochs."
    )


def _check_target_scaling(y2: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
    """Refuse targets whose standardization overflows float64 (it squares their deviations).

    A target near 1e160 gave an infinite scale, NaN predictions and "Input contains NaN"
    from the score; the real cause is the target's magnitude.
    """
    bad = ~(np.isfinite(mean) & np.isfinite(std))
    if bad.any():
        column = int(np.flatnonzero(bad)[0])
        where = f"target column {column}" if y2.shape[1] > 1 else "the target"
        raise ValueError(
            f"Standardizing {where} overflows float64: its values reach {np.abs(y2[:, column]).max():.3g} in "
            "magnitude, and their squared deviations (for the standard deviation) exceed 1.8e308: rescale y "
            "(e.g. divide it by a power of ten) and scale the predictions back."
        )


class NoisyNetClassifier(ClassifierMixin, NoisyNetEstimator):
    """The classification layer: labels, class weights, probabilities, ``score`` (accuracy)."""

    _net_class = TensorNetClassifier

    @classmethod
    def _task_groups(cls) -> tuple[str, ...]:
        return ("classifier", *cls._architecture.classifier_head.groups)

    @property
    def _head(self) -> ClassifierHead:
        return self._architecture.classifier_head

    def _validate_targets(self, y) -> np.ndarray:
        check_classification_targets(y)
        return y

    def _set_targets(self, y: np.ndarray, w: np.ndarray | None, classes=None) -> None:
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

    def _check_incremental(self) -> None:
        if isinstance(self.class_weight, str):  # 'balanced'
            raise ValueError(
                "class_weight='balanced' needs the class shares of all the data, which partial_fit cannot "
                "know; pass a dict of class weights (e.g. from sklearn.utils.class_weight."
                "compute_class_weight) or use fit."
            )

    def _class_weights(self, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor | None:
        """Weight of each class (K,), or None for ``class_weight=None``; 'balanced' from ``y``'s shares."""
        if self.class_weight is None:
            return None
        n_classes = len(self.classes_)
        if isinstance(self.class_weight, str):  # 'balanced': fit's rows (partial_fit refuses it)
            counts = torch.bincount(y, weights=None if w is None else w.double(), minlength=n_classes).double()
            present = counts > 0
            weights = torch.ones(n_classes, dtype=torch.float64)
            weights[present] = counts.sum() / (present.sum() * counts[present])
            return weights.float()
        unknown = [label for label in self.class_weight if label not in set(self.classes_.tolist())]
        if unknown:
            raise ValueError(
                f"class_weight names labels that are not classes: {unknown}; the classes are {self.classes_.tolist()}."
            )
        bad = {k: v for k, v in self.class_weight.items() if not (isinstance(v, Real) and np.isfinite(v) and v >= 0)}
        if bad:
            raise ValueError(f"class_weight values must be finite non-negative numbers; got {bad}.")
        return torch.tensor([float(self.class_weight.get(c, 1.0)) for c in self.classes_.tolist()])

    def _training_weights(self, y: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor | None:
        per_class = self._class_weights(y, w)
        if per_class is None:
            return w
        weights = per_class[y]
        return weights if w is None else weights * w

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def _stratify(self, y: np.ndarray) -> np.ndarray:
        # Codes in the order of np.unique: a fit's encoded labels are these very codes.
        return np.unique(y, return_inverse=True)[1]

    def _net_arguments(self, module: nn.Module) -> dict:
        # The net sees encoded labels 0..K-1 (so does a skorch scoring callback); skorch's
        # default accuracy callback is left out (early stopping watches the loss).
        return {"classes": list(range(len(self.classes_))), "callbacks__valid_acc": None,
                **self._head.net_arguments(self, module)}

    def _criterion(self) -> nn.Module:
        return self._head.criterion(self)

    def _combine_members(self):
        return self._head.combine_members()

    def _per_pass(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        return self._head.per_pass(self, out)

    def _pass_kinds(self) -> dict[str, str]:
        return self._head.pass_kinds(self)

    # ------------------------------------------------------------------ calibration
    def _after_training(self, train: Rows, valid: Rows | None) -> None:
        # The class shares count every row fit was given (held-out rows too, with their
        # weights), across partial_fit calls.
        counts = np.zeros(len(self.classes_))
        for part in (train, valid):
            if part is not None:
                weights = None if part.w is None else part.w.double().cpu().numpy()
                counts += np.bincount(part.y.cpu().numpy(), weights=weights, minlength=len(self.classes_))
        self._class_counts_ = counts + getattr(self, "_class_counts_", 0.0)
        self._head.after_training(self, train, valid)
        if self.calibration == "temperature":
            # On held-out rows when early stopping holds some out (training rows are fitted
            # too well); partial_fit, which holds none out, calibrates on its own rows.
            # Rows too large for the network (a warned divergence) are left out.
            self._calibrate(train if valid is None else valid, skip_non_finite=True)
        else:
            self._head.set_temperature(self, 1.0)

    def _calibrate(self, rows: Rows, skip_non_finite: bool) -> None:
        if len(rows) > MAX_CALIBRATION_ROWS:
            # Evenly spaced rows: deterministic, and class proportions survive sorted data.
            rows = rows.subset(np.linspace(0, len(rows) - 1, MAX_CALIBRATION_ROWS).astype(int))
        scores, log_proba_at = self._head.temperature_problem(self, rows.X, check_finite=not skip_non_finite)
        y, w = rows.y.numpy(), None if rows.w is None else rows.w.double().numpy()
        usable = np.isfinite(scores.reshape(len(y), -1)).all(axis=1)
        if w is not None:
            usable &= w > 0
        if not usable.any():
            return  # nothing to calibrate on: the temperature stays as it was
        self._head.set_temperature(self, fit_temperature(
            lambda t: log_proba_at(t, usable), y[usable], float(np.std(scores[usable])),
            None if w is None else w[usable], prior=self._head.temperature_prior,
        ))

    def calibrate(self, X, y, sample_weight=None):
        """Refit the temperature ``temperature_`` on labelled rows, under the current inference settings.

        ``fit`` calibrates (``calibration='temperature'``) for the inference settings it
        was given; call this after changing them with ``set_params``, or to calibrate
        on rows of your own (accuracy does not depend on the temperature, the
        probabilities do). Rows whose outputs are not finite are refused, and the
        temperature is left as it was.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels among ``classes_``.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        check_is_fitted(self)
        X, y = self._validate_X_y(X, y, reset=False)
        w = self._validate_sample_weight(sample_weight, X)
        self._calibrate(Rows(X, self._encode_targets(y), None if w is None else torch.from_numpy(w)), False)
        return self

    def _proba_tensors(self, X: torch.Tensor, check_finite: bool = True) -> tuple[np.ndarray, np.ndarray]:
        proba, spread = self._head.probabilities(self, self._passes(X, check_finite=check_finite))
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
        return self.classes_[self._decide(self.predict_proba(X))]

    @property
    def class_prior_(self) -> np.ndarray:
        """Class shares of every row ``fit`` (and ``partial_fit``) was given (sample-weighted).

        A class announced to ``partial_fit`` but not seen yet counts one row.
        """
        check_is_fitted(self)
        counts = self._class_counts_ + (self._class_counts_ == 0)
        return counts / counts.sum()

    def _decide(self, proba: np.ndarray) -> np.ndarray:
        """The class index of each row under ``decision``."""
        if self.decision == "balanced":
            # The Bayes decision for balanced accuracy: the class most probable relative to
            # its share of the training rows.
            return np.argmax(proba / self.class_prior_, axis=1)
        return np.argmax(proba, axis=1)

    def _score_rows(self, rows: Rows) -> float:
        proba, _ = self._proba_tensors(rows.X)
        return float(np.average(self._decide(proba) == rows.y.numpy(), weights=_weights(rows)))

    def _warn_if_collapsed(self, rows: Rows) -> None:
        rows = _check_rows(rows)
        with np.errstate(invalid="ignore"):
            proba, _ = self._proba_tensors(rows.X, check_finite=False)
        if not np.isfinite(proba).all():
            return  # training met inputs too large for the network; it said so already
        y, w = rows.y.numpy(), _weights(rows)
        shares = np.bincount(y, weights=w, minlength=len(self.classes_)) / w.sum()
        eps = 1e-12
        model_loss = float(np.average(-np.log(np.clip(proba[np.arange(len(y)), y], eps, 1)), weights=w))
        prior_loss = float(-np.sum(shares * np.log(np.clip(shares, eps, 1))))
        # Collapsed: no better than the class frequencies, or one class for every row with
        # probabilities barely more informative than the frequencies (a few saturated rows
        # can lower the loss of an otherwise constant predictor by a few percent; a model whose
        # probabilities carry information while the minority never wins is left alone).
        one_class = len(np.unique(proba.argmax(axis=1))) == 1 and (shares > 0).sum() > 1
        if prior_loss > 0 and (model_loss >= 0.99 * prior_loss or (one_class and model_loss >= 0.95 * prior_loss)):
            warnings.warn(
                f"{type(self).__name__} did hardly better on its training rows than predicting the class "
                f"frequencies (log loss {model_loss:.4f} vs {prior_loss:.4f}"
                f"{', and it predicts one class for every row' if one_class else ''}): it collapsed to a "
                f"constant predictor. {_collapse_hint(self, rows.X)}",
                ConvergenceWarning,
                stacklevel=3,
            )


class NoisyNetRegressor(RegressorMixin, NoisyNetEstimator):
    """The regression layer: standardized targets, the loss, the predictive spread and intervals.

    The network learns targets standardized with their (sample-weighted) mean and
    standard deviation in the first fit; predictions come back in the units of ``y``.
    After training, the spread is calibrated on held-out rows (see :meth:`conformalize`).
    """

    _net_class = TensorNetRegressor
    _target_validation = {"multi_output": True, "y_numeric": True}

    @classmethod
    def _task_groups(cls) -> tuple[str, ...]:
        return ("regressor",)

    def _validate_targets(self, y) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 0:
            raise ValueError("y has no columns; a regressor needs at least one target.")
        return y

    def _set_targets(self, y: np.ndarray, w: np.ndarray | None, classes=None) -> None:
        y2 = y.reshape(len(y), -1)
        self.n_outputs_ = y2.shape[1]
        self._single_output_ = y.ndim == 1
        weights = np.ones(len(y2)) if w is None else w
        with np.errstate(over="ignore", invalid="ignore"):
            mean = np.average(y2, axis=0, weights=weights)
            std = np.sqrt(np.average((y2 - mean) ** 2, axis=0, weights=weights))
        _check_target_scaling(y2, mean, std)
        self.target_mean_ = mean
        # A constant target has no spread to divide by.
        self.target_scale_ = np.where(std > 0, std, 1.0)

    def _encode_targets(self, y: np.ndarray) -> torch.Tensor:
        y2 = y.reshape(len(y), -1)
        if y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2.shape[1]} targets, but the model was fitted with {self.n_outputs_}.")
        return torch.from_numpy(((y2 - self.target_mean_) / self.target_scale_).astype(np.float32))

    @property
    def _gaussian_head(self) -> bool:
        return self.loss == "gaussian_nll"

    def _n_outputs(self) -> int:
        # The Gaussian head outputs a mean and a variance score per target.
        return 2 * self.n_outputs_ if self._gaussian_head else self.n_outputs_

    def _combine_members(self):
        # Early stopping watches the ensemble's error, not its members' (the Gaussian
        # head's members are scored one by one: their mean raw output is no likelihood).
        return None if self._gaussian_head else mean_output

    def _net_arguments(self, module: nn.Module) -> dict:
        return {} if self.n_members == 1 else {"predict_nonlinearity": MemberAverage()}

    def _criterion(self) -> nn.Module:
        if self.loss == "huber":
            return nn.HuberLoss(reduction="none", delta=self.huber_delta)
        if self._gaussian_head:
            return GaussianNLL()
        return nn.MSELoss(reduction="none")

    def _per_pass(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        if not self._gaussian_head:
            return {"value": out}
        k = out.shape[-1] // 2
        return {"value": out[..., :k], "variance": gaussian_variance(out[..., k:])}

    def _pass_kinds(self) -> dict[str, str]:
        return {"value": "mean_std", **({"variance": "mean"} if self._gaussian_head else {})}

    def _spread_tensors(self, X: torch.Tensor, check_finite: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The mean prediction and the model's own spread, ``(rows, n_outputs)`` each in the units of ``y``.

        The spread is the standard deviation over Monte-Carlo passes and members, with
        the Gaussian head's mean variance added (the law of total variance); zero for a
        deterministic network with a squared-error or Huber loss.
        """
        outputs = self._passes(X, check_finite=check_finite)
        variance = outputs["value_std"] ** 2 + outputs.get("variance", 0.0)
        return outputs["value"] * self.target_scale_ + self.target_mean_, np.sqrt(variance) * self.target_scale_

    def _shaped(self, *arrays: np.ndarray):
        return tuple(a[:, 0] for a in arrays) if self._single_output_ else arrays

    def _predictive(self, X: torch.Tensor, check_finite: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Mean and unscaled predictive spread ``b(x) = sqrt(spread(x)² + floor)`` (see :meth:`conformalize`)."""
        mean, spread = self._spread_tensors(X, check_finite)
        return mean, np.sqrt(spread**2 + self.noise_floor_)

    # ------------------------------------------------------------------ uncertainty
    def _after_training(self, train: Rows, valid: Rows | None) -> None:
        # The held-out rows of early stopping; the training rows otherwise (optimistic:
        # predict_interval then asks for rows of the user's own, see conformalize).
        self._conformalize(train if valid is None else valid, "held-out" if valid is not None else "training")

    def _conformalize(self, rows: Rows, source: str) -> None:
        if rows.w is not None:
            rows = rows.subset(np.flatnonzero(rows.w.numpy() > 0))
        with np.errstate(invalid="ignore", over="ignore"):
            mean, spread = self._spread_tensors(rows.X, check_finite=False)
        y = rows.y.double().numpy() * self.target_scale_ + self.target_mean_
        residual = np.abs(y - mean)
        usable = np.isfinite(residual).all(axis=1) & np.isfinite(spread).all(axis=1)
        residual, spread = residual[usable], spread[usable]
        if len(residual) < 2:
            if hasattr(self, "std_scale_"):
                return  # too few rows to say anything: the calibration stays as it was
            # No calibration yet: the target's own spread, and no intervals until conformalize.
            residual, spread = np.tile(self.target_scale_, (2, 1)), np.zeros((2, self.n_outputs_))
            source = "training"
        # The data's noise that the model's own spread does not account for: one variance
        # for every row (all of the residuals' for a deterministic network). Without it, a
        # spread that ranks errors badly (members of a squared-error fit) would set the
        # intervals' shape alone.
        self.noise_floor_ = np.maximum(np.mean(residual**2, axis=0) - np.mean(spread**2, axis=0), 0.0)
        scale = np.sqrt(spread**2 + self.noise_floor_)
        scale = np.maximum(scale, np.finfo(np.float64).tiny)
        # The Gaussian variance's maximum-likelihood rescaling, and the conformity scores.
        self.std_scale_ = np.sqrt(np.mean((residual / scale) ** 2, axis=0))
        self.conformity_scores_ = np.sort(residual / scale, axis=0)
        self.interval_calibration_ = source

    def conformalize(self, X, y, sample_weight=None):
        """Calibrate the predictive standard deviation and the intervals on rows the model did not train on.

        ``fit`` does this on the rows early stopping holds out, under the inference
        settings of that moment. Call it after changing them with ``set_params``, after
        ``partial_fit`` (which holds no rows out), or with rows of your own. Rows with a
        zero ``sample_weight`` are left out; the others count once each.

        With the residuals ``r = |y - mean|`` of these rows and the model's own spread
        ``b(x) = sqrt(spread(x)² + noise_floor_)`` (the spread over Monte-Carlo passes and
        members, plus the Gaussian head's variance with ``loss='gaussian_nll'``; the
        floor is the residuals' mean square that the spread leaves unexplained, one
        variance for every row: all of it for a deterministic network), the conformity scores are
        ``r / b(x)``: :meth:`predict_interval` takes their conformal quantile (split
        conformal prediction), and ``predict(..., return_std=True)`` returns
        ``std_scale_ · b(x)``, the Gaussian standard deviation whose scale maximizes
        the likelihood of these residuals.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        check_is_fitted(self)
        X, y = self._validate_X_y(X, y, reset=False)
        w = self._validate_sample_weight(sample_weight, X)
        self._conformalize(Rows(X, self._encode_targets(y), None if w is None else torch.from_numpy(w)), "user")
        return self

    def predict_interval(self, X, alpha: float = 0.05):
        """Prediction intervals that hold ``1 - alpha`` of new targets (split conformal prediction).

        ``mean ± q · b(x)``, with ``b(x)`` the model's spread (see :meth:`conformalize`)
        and ``q`` the ``ceil((n + 1)(1 - alpha))``-th smallest of the ``n`` conformity
        scores of the calibration rows. For new rows exchangeable with those, the
        interval covers the target with probability at least ``1 - alpha`` (and, with
        continuous scores, at most ``1 - alpha + 1/(n + 1)``), whatever the data's
        distribution. The calibration rows are the ones early stopping held out; they
        also chose the best epoch, which makes them slightly optimistic. Without held-out
        rows (``early_stopping=False``, ``partial_fit``), call :meth:`conformalize` first.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        alpha : float, default=0.05
            Miscoverage level in (0, 1): 0.05 asks for 95% intervals.

        Returns
        -------
        lower, upper : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Infinite where too few calibration rows exist for the level asked for
            (fewer than ``1 / alpha - 1``).
        """
        check_is_fitted(self)
        if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0 < alpha < 1:
            raise ValueError(f"alpha must be a number in (0, 1); got {alpha!r}.")
        if self.interval_calibration_ == "training":
            raise ValueError(
                "predict_interval needs calibration rows the network did not train on, but this model was "
                "calibrated on its training rows (early_stopping=False, or partial_fit); call "
                "conformalize(X_calibration, y_calibration) with held-out rows first."
            )
        n = len(self.conformity_scores_)
        rank = math.ceil((n + 1) * (1 - alpha))
        q = self.conformity_scores_[rank - 1] if rank <= n else np.full(self.n_outputs_, np.inf)
        mean, scale = self._predictive(self._validate_X(X, reset=False))
        return self._shaped(mean - q * scale, mean + q * scale)

    def predict(self, X, return_std: bool = False):
        """Predicted targets, the mean over the Monte-Carlo passes when inference noise is on.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return the predictive standard deviation, in the units of ``y``:
            ``std_scale_ · sqrt(spread(x)² + noise_floor_)``, the spread over Monte-Carlo
            passes and members and the Gaussian head's variance (``loss='gaussian_nll'``)
            plus the held-out residuals' variance they leave unexplained, scaled so that
            a Gaussian with this standard deviation fits the held-out residuals best
            (see :meth:`conformalize`). It includes the data's own noise. For intervals
            with a coverage guarantee, use :meth:`predict_interval`.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        std : ndarray of the same shape
            Only with ``return_std=True``.
        """
        check_is_fitted(self)
        mean, scale = self._predictive(self._validate_X(X, reset=False))
        if not return_std:
            return self._shaped(mean)[0]
        return self._shaped(mean, self.std_scale_ * scale)

    def _r2(self, rows: Rows, mean: np.ndarray) -> float:
        y = rows.y.double().numpy() * self.target_scale_ + self.target_mean_
        return float(r2_score(y.reshape(len(y), -1), mean.reshape(len(y), -1), sample_weight=_weights(rows)))

    def _score_rows(self, rows: Rows) -> float:
        return self._r2(rows, self._spread_tensors(rows.X)[0])

    def _warn_if_collapsed(self, rows: Rows) -> None:
        rows = _check_rows(rows)
        with np.errstate(invalid="ignore"):
            mean, _ = self._spread_tensors(rows.X, check_finite=False)
        if not np.isfinite(mean).all() or len(rows) < 2:
            return
        score = self._r2(rows, mean)
        if score <= 0.01:
            warnings.warn(
                f"{type(self).__name__} did no better on its training rows than predicting the mean target "
                f"(R^2 {score:.4f}): it collapsed to a constant predictor. {_collapse_hint(self, rows.X)}",
                ConvergenceWarning,
                stacklevel=3,
            )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

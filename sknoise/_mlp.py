"""NoisyMLPClassifier: an MLP with noise where practitioners expect it."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real

import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

from ._activations import activation_factory
from ._base import (
    COMMON_ATTRIBUTES_DOC,
    LogitNetClassifier,
    NoisyNetClassifier,
    parameters_doc,
    store_init_params,
)
from ._layers import ActivationNoise, NoiseLayer, NoiseRNG, NoiseSpec, NoisyModule
from ._net import MaxNormConstraint

__all__ = ["NoisyMLP", "NoisyMLPClassifier"]

NOISE_PLACEMENTS = ("input", "pre_activation", "post_activation")


def _placements(noise_placement) -> tuple[str, ...]:
    return (noise_placement,) if isinstance(noise_placement, str) else tuple(noise_placement)


class NoisyMLP(NoisyModule):
    """Multilayer perceptron with noise layers at chosen placements.

    Each hidden block is, in order: ``Linear -> [BatchNorm if 'before'] ->
    [noise if 'pre_activation'] -> f -> [noise if 'post_activation'] ->
    [BatchNorm if 'after'] -> [dropout]``, so the post-activation noise is exactly the
    activation noise ``t = f(a) + α z``. Input noise perturbs ``x`` itself. The output
    layer is linear and noise-free and returns logits.

    Parameters
    ----------
    n_features, n_classes : int
        Input and output widths.
    hidden_layer_sizes : sequence of int
        Widths of the hidden layers (may be empty: a linear model).
    activation : str or callable
        An activation name, or ``activation(width)`` building the activation module
        of a layer of that width (see :func:`sknoise.make_activation`).
    noise : NoiseSpec
        Training noise used at every placement.
    noise_placement : sequence of str
        Any of ``'input'``, ``'pre_activation'``, ``'post_activation'``.
    dropout : float
        Rate of inverted dropout after each hidden block (0 disables it).
    batch_norm : {None, 'before', 'after'}
        Batch normalization before or after the activation.
    rng : NoiseRNG
        Shared, seeded source of randomness for every noise layer.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden_layer_sizes,
        activation: str | Callable[[int], nn.Module],
        noise: NoiseSpec,
        noise_placement,
        dropout: float,
        batch_norm: str | None,
        rng: NoiseRNG,
    ) -> None:
        super().__init__(rng)
        activation = activation_factory(activation, rng)
        placements = set(noise_placement)
        self.input_noise = NoiseLayer(noise, rng) if "input" in placements else nn.Identity()
        layers: list[nn.Module] = []
        width_in = n_features
        for width in hidden_layer_sizes:
            layers.append(nn.Linear(width_in, width))
            if batch_norm == "before":
                layers.append(nn.BatchNorm1d(width))
            if "pre_activation" in placements:
                layers.append(NoiseLayer(noise, rng))
            f = activation(width)
            layers.append(ActivationNoise(f, noise, rng) if "post_activation" in placements else f)
            if batch_norm == "after":
                layers.append(nn.BatchNorm1d(width))
            if dropout > 0:
                # Dropout is a regularizer of its own: off at inference, not annealed by a noise schedule.
                layers.append(
                    NoiseLayer(
                        NoiseSpec.make("dropout", dropout),
                        rng,
                        follows_inference_noise=False,
                        follows_schedule=False,
                        follows_noise_parameter=False,
                    )
                )
            width_in = width
        self.hidden = nn.Sequential(*layers)
        self.output = nn.Linear(width_in, n_classes)

    def max_norm_layers(self) -> list[nn.Linear]:
        """The hidden layers, to which a max-norm constraint applies."""
        return [m for m in self.hidden if isinstance(m, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.hidden(self.input_noise(x)))


class NoisyMLPClassifier(LogitNetClassifier):
    _parameter_constraints: dict = {
        **NoisyNetClassifier._parameter_constraints,
        "noise_placement": [StrOptions(set(NOISE_PLACEMENTS)), tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": [StrOptions({"before", "after"}), None],
        "max_norm": [Interval(Real, 0, None, closed="neither"), None],
    }

    _search_space_extra = {
        "optuna": {
            "noise_placement": CategoricalDistribution(NOISE_PLACEMENTS),
            "dropout": FloatDistribution(0.0, 0.5),
        },
        "grid": {"noise_placement": ["input", "post_activation"]},
    }

    def __init__(
        self,
        hidden_layer_sizes=(256, 256),
        *,
        activation="relu",
        noise="gaussian",
        noise_scale=0.2,
        noise_placement="post_activation",
        dropout=0.0,
        batch_norm=None,
        max_norm=None,
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
        batch_size="auto",
        max_epochs=200,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        tol=1e-4,
        device="cpu",
        random_state=None,
        verbose=0,
        callbacks=None,
        on_divergence="raise",
    ) -> None:
        store_init_params(self, locals())

    def _check_params(self) -> None:
        super()._check_params()
        bad_places = [p for p in _placements(self.noise_placement) if p not in NOISE_PLACEMENTS]
        if bad_places:
            raise ValueError(
                f"noise_placement entries must be among {list(NOISE_PLACEMENTS)}; got {bad_places!r}."
            )

    def _extra_callbacks(self) -> list:
        return [] if self.max_norm is None else [("max_norm", MaxNormConstraint(self.max_norm))]

    def _check_batches(self, n_train_rows: int, batch_size: int) -> None:
        if self.batch_norm is not None and min(n_train_rows, batch_size) < 2:
            raise ValueError(
                f"batch_norm={self.batch_norm!r} needs at least 2 rows per mini-batch to compute its statistics; "
                f"got batch_size={batch_size} with {n_train_rows} training rows. Raise batch_size (or pass more "
                "rows), or set batch_norm=None."
            )

    def _build_module(self, n_features: int, n_classes: int, rng: NoiseRNG) -> nn.Module:
        return NoisyMLP(
            n_features,
            n_classes,
            self._hidden_sizes,
            self._activation_factory(rng),
            NoiseSpec.make(self.noise, self.noise_scale),
            _placements(self.noise_placement),
            self.dropout,
            self.batch_norm,
            rng,
        )


NoisyMLPClassifier.__doc__ = f"""Multilayer perceptron classifier trained with noise injection.

    A scikit-learn classifier over a PyTorch MLP trained through skorch. Noise goes
    where practitioners put it: on the inputs, before or after each activation (the
    activation noise ``t = f(Wx + b) + α z``), as dropout-style multiplicative noise,
    around batch normalization. By default the noise is used in training only; with
    ``inference_noise`` set, predictions average ``n_inference_samples`` noisy passes.

    The defaults (Gaussian activation noise of scale 0.2 after every ReLU, weight
    decay 1e-4, early stopping with patience 20) were chosen by cross-validation on
    scikit-learn's built-in and synthetic tabular data (benchmarks/results/defaults.md).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Width of each hidden layer.
    activation : str or callable, default='relu'
        See :func:`sknoise.available_activations`.
{parameters_doc(
    noise="gaussian", noise_scale=0.2, inference_noise=None, n_inference_samples=32, lr=1e-3,
    weight_decay=1e-4, max_epochs=200, early_stopping=True, n_iter_no_change=20,
    why={"weight_decay": "Not 0 as for the other estimators, because the defaults study "
                         "(benchmarks/results/defaults.md) found 1e-4 better for this network.",
         "n_iter_no_change": "20 rather than the others' 10, because the defaults study found the longer "
                             "patience better for this network."})}
    noise_placement : str or tuple of str, default='post_activation'
        Where the noise goes: any of ``'input'``, ``'pre_activation'``,
        ``'post_activation'``.
    dropout : float, default=0.0
        Inverted-dropout rate after each hidden block (the probability of dropping).
    batch_norm : {{None, 'before', 'after'}}, default=None
        Batch normalization before or after each activation.
    max_norm : float or None, default=None
        Max-norm constraint on each hidden unit's incoming weights (Keras
        ``max_norm``), applied after every optimizer step.

    Attributes
    ----------
{COMMON_ATTRIBUTES_DOC}

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The noise-free scikit-learn MLP.

    References
    ----------
    C. M. Bishop, "Training with noise is equivalent to Tikhonov regularization",
    Neural Computation 7(1), 1995.

    N. Srivastava, G. Hinton, A. Krizhevsky, I. Sutskever, R. Salakhutdinov, "Dropout: a
    simple way to prevent neural networks from overfitting", JMLR 15, 2014.

    S. Ioffe, C. Szegedy, "Batch normalization: accelerating deep network training by
    reducing internal covariate shift", 2015, arXiv:1502.03167.

    C. Gulcehre, M. Moczulski, M. Denil, Y. Bengio, "Noisy activation functions", ICML
    2016, arXiv:1603.00391 (the ``'nan_*'``, ``'nah_*'``, ``'nani_*'`` and ``'nanis_*'``
    activations).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknoise import NoisyMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NoisyMLPClassifier((32,), noise_scale=0.2, max_epochs=30, random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    >>> proba, std = clf.set_params(inference_noise="same").predict_proba(X[:2], return_std=True)
    >>> proba.shape, std.shape
    ((2, 3), (2, 3))
    """

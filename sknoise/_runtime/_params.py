"""The parameter table: every estimator parameter's one home.

Each :class:`Param` holds a parameter's constraint (scikit-learn's
``_parameter_constraints`` entry), its documentation, its lifecycle (what reading it
means for a fitted model), its default and, where an estimator's default differs, that
default with the reason, and the ranges of the default search spaces. Everything else
is derived from the table:

- which parameters an estimator has: the table's groups its task and architecture
  declare (:func:`parameter_names`), in the table's order, which is the signatures'
  order (a test checks every ``__init__`` against the table);
- the constraint dicts (:func:`constraints`);
- the Parameters section of every docstring (:func:`parameters_doc`);
- what ``partial_fit`` applies, ignores or refuses to change (:func:`names_with`);
- the default search spaces (:func:`search_ranges`).

Adding a parameter: a row here, its name in the ``__init__`` signatures of the
estimators that have it, the code that reads it, and a test.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, NamedTuple

import torch
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from torch.distributions import Distribution

from ..nn._activations import available_activations
from ..nn._inference import PRECISIONS
from ..nn._networks import NIN_PLACEMENTS, NOISE_PLACEMENTS
from ..nn._noise import available_noises
from ._preprocessing import NUMERIC_SCALINGS, TablePreprocessor
from ._schedules import LR_SCHEDULES, NOISE_SCHEDULES

__all__ = [
    "LIFECYCLES",
    "OPTIMIZERS",
    "ENERGY_AGGREGATES",
    "SEARCHED_NOISES",
    "Param",
    "Default",
    "Float",
    "Categorical",
    "PARAMETERS",
    "parameter_names",
    "default_of",
    "constraints",
    "names_with",
    "parameters_doc",
    "search_ranges",
    "optuna_space",
    "with_prefix",
]

#: What reading a parameter means for a fitted model.
LIFECYCLES = {
    "network": "fixes the trained network: changing it needs fit (partial_fit refuses)",
    "training": "read by every training call: partial_fit applies a new value",
    "fit": "read by fit only (the budget, early stopping): free to change between partial_fit calls",
    "prediction": "read whenever the model predicts: set_params on a fitted model applies without refit",
}

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

ENERGY_AGGREGATES = ("mean", "logmeanexp")

#: The seven normalized additive distributions (the activation-noise paper's "seven distributions").
ADDITIVE_NOISES = ("gaussian", "uniform", "laplace", "logistic", "cauchy", "gumbel", "rademacher")
#: The distributions of the default spaces: the finite-variance ones. Cauchy noise lost
#: every trial of our tuning runs and diverges at moderate scales.
SEARCHED_NOISES = tuple(n for n in ADDITIVE_NOISES if n != "cauchy")

_NOISE = [StrOptions(set(available_noises())), callable, Distribution, None]
_TRAINING_NOISE = [StrOptions({*available_noises(), "auto"}), callable, Distribution, None]


class Default(NamedTuple):
    """An estimator's own default and the reason it differs (a sentence saying "because")."""

    value: Any
    why: str


@dataclass(frozen=True)
class Float:
    """A float range of an optuna search space (an optuna ``FloatDistribution``)."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Categorical:
    """Choices of an optuna search space (an optuna ``CategoricalDistribution``)."""

    choices: tuple


@dataclass(frozen=True)
class Param:
    """One parameter: its constraint, documentation, lifecycle, defaults and search ranges.

    ``defaults``, ``notes`` and ``search_by`` are keyed by an estimator's class name or
    its architecture's name (``'mlp'``, ``'ninr'``, ``'ebm'``); the class name wins.
    """

    name: str
    group: str
    lifecycle: str
    constraint: list
    kind: str
    doc: str
    default: Any
    defaults: Mapping[str, Default] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)
    search: Mapping[str, Any] = field(default_factory=dict)
    search_by: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def for_estimator(self, mapping: Mapping, cls) -> Any:
        """The entry of ``mapping`` for ``cls``: by class name, then architecture name, else None."""
        if cls.__name__ in mapping:
            return mapping[cls.__name__]
        return mapping.get(cls._architecture.name)


def _p(name, group, lifecycle, constraint, kind, default, doc, **more) -> Param:
    return Param(name, group, lifecycle, constraint, kind, textwrap.dedent(doc).strip(), default, **more)


_PARAMETERS = [
    _p("hidden_layer_sizes", "base", "network", [tuple, list, Interval(Integral, 1, None, closed="left")],
       "tuple of int", (256, 256), """
        Width of each hidden layer.""",
       defaults={"ebm": Default((64,), "Smaller, because each of the K class models is an autoencoder of its "
                                "own, trained on its class's rows; the claims benchmark "
                                "(benchmarks/results/ebm_claims.md) used (64,).")},
       notes={"ebm": "Here the hidden widths of every class's autoencoder ``d -> h_1 -> ... -> d``."}),
    _p("preprocessing", "base", "network", [StrOptions({"auto"}), None, TablePreprocessor, FrozenEstimator],
       "'auto', None or TablePreprocessor", "auto", """
        ``'auto'``: the estimator takes the table as it is, a DataFrame (pandas,
        polars, pyarrow, ...) with numeric, categorical (``category``, ``object``,
        ``string``, ``bool``) and missing values, or an array, and fits a
        :class:`sknoise.TablePreprocessor` on it (``numeric_scaling``,
        ``max_onehot``): numeric columns are scaled, a missing value becomes the
        column's centre plus a missing-indicator column, categories (a missing value
        is a category of its own, matched by value) are one-hot encoded or embedded,
        and categories unseen in ``fit`` map to a reserved value at prediction time.
        The fitted transform is ``preprocessor_``; it pickles with the estimator.
        A fitted ``TablePreprocessor`` (for out-of-core training, fitted over all
        the data with ``partial_fit`` or on a dask DataFrame) is used as it is
        (``numeric_scaling`` and ``max_onehot`` are then its own); wrap it in
        ``sklearn.frozen.FrozenEstimator`` where the estimator is cloned (searches,
        ``cross_validate``, dask-ml's ``Incremental``), as a clone drops the fit.
        ``None``: ``X`` must already be numeric, finite and scaled (e.g. by your own
        pipeline), and goes to the network as it is."""),
    _p("numeric_scaling", "base", "network", [StrOptions(set(NUMERIC_SCALINGS))],
       "{'robust', 'quantile', 'standard'}", "robust", """
        With ``preprocessing='auto'``: ``'robust'`` centres each numeric column on its
        median, divides by its interquartile range (scaled to the standard deviation
        of a normal column) and clips softly with ``z / sqrt(1 + (z/3)^2)``;
        ``'quantile'`` maps it through its quantiles to a standard normal;
        ``'standard'`` subtracts the mean and divides by the standard deviation."""),
    _p("max_onehot", "embedding", "network", [Interval(Integral, 0, None, closed="left")], "int", 9, """
        With ``preprocessing='auto'``: categorical columns with at most this many
        categories are one-hot encoded; columns with more get a learned embedding
        (width growing with the cardinality, at most 16; categories unseen in ``fit``
        share a reserved code)."""),
    _p("numeric_embedding", "embedding", "network", [StrOptions({"periodic"}), None], "{'periodic'} or None", None,
       """
        ``'periodic'`` gives each numeric column (every column when
        ``preprocessing=None``) a learned periodic embedding (16 frequencies and a
        linear map to 16 features, as Gorishniy, Rubachev, Babenko, "On Embeddings
        for Numerical Features in Tabular Deep Learning", NeurIPS 2022,
        arXiv:2203.05556); None feeds the scaled numbers as they are.""",
       defaults={"NoisyMLPRegressor": Default("periodic", (
           "The regressor's default because on the tabular suite's regression tasks it raised mean R² from "
           "0.660 to 0.667 and won on 8 of 9 tasks (benchmarks/results/recipe_round2_regression.md), at about "
           "twice the fit time."))}),
    _p("activation", "base", "network", [StrOptions(set(available_activations())), callable], "str or callable",
       "relu", """
        See :func:`sknoise.available_activations`.""",
       notes={"ebm": "The activation ``f`` of the hidden neurons. ReLU matched or beat the sigmoid in our "
                     "benchmarks and is exact, so a row's prediction does not depend on the batch it comes in; "
                     "approximated functions such as the sigmoid round a lone row differently in the last bit."}),
    _p("nin_placement", "ninr", "network", [StrOptions(set(NIN_PLACEMENTS))], "{'input', 'all'}", "input", """
        ``'input'``: in-NINR, a node at the first layer. ``'all'``: full-NINR, a node
        at every layer including the output layer.""",
       search={"optuna": Categorical(NIN_PLACEMENTS), "grid": ["input", "all"]}),
    _p("noise", "base", "training", _TRAINING_NOISE, "'auto', str, callable or torch Distribution", "gaussian", """
        Distribution of the normalized noise ``z``; see :func:`sknoise.available_noises`
        (``'gaussian'``, ``'uniform'``, ``'laplace'``, ``'logistic'``, ``'cauchy'``,
        ``'gumbel'``, ``'rademacher'``, ``'none'``, and the multiplicative
        ``'dropout'`` and ``'gaussian_dropout'``). A callable
        ``fn(shape, generator=, device=, dtype=)`` or a scalar torch Distribution
        supplies custom noise (a fitted model pickles whenever it does). ``'auto'``
        chooses per table in ``fit``: no noise below 1000 training rows, Gaussian noise
        above, its scale rising with the number of rows (linear in their logarithm) from
        0 at 1000 to ``noise_scale`` at 4000 and more; ``noise_`` says what it chose.""",
       defaults={"mlp": Default("auto", (
           "'auto' here because on the tabular suite's classification choice tasks the noise lowered the log "
           "loss on tables of a few thousand rows (winning on 11 of 14 with more than 3000 rows) and did "
           "nothing on smaller ones (benchmarks/results/study22.md); the estimators are free to use any "
           "fixed noise."))},
       notes={"ninr": "A noise injection node carries additive noise: the multiplicative kinds are refused."},
       search={"optuna": Categorical(SEARCHED_NOISES), "grid": ["gaussian", "uniform", "laplace"]}),
    _p("noise_scale", "base", "training", [Interval(Real, 0, None, closed="left")], "float", 0.2, """
        The noise scale ``α`` in ``t = s + α z``; for multiplicative kinds the drop
        rate, in ``[0, 1)``.""",
       defaults={
           "NoisyMLPClassifier": Default(0.4, (
               "0.4 rather than 0.2 because with noise='auto' it is the scale for large tables, where 0.4 "
               "won 12 of 14 tables against no noise on the suite's classification choice tasks (0.2: 11) "
               "(benchmarks/results/study22.md).")),
           "ninr": Default(1.0, "Larger, because it is ``σ_ε``, the scale of the node's noise, which reaches "
                                "the units through the noise-injection weights (initialized at "
                                "``niw_init_scale``) that training shrinks; 1 starts in the decay phase."),
           "ebm": Default(0.5, "Larger, because the claims benchmark (benchmarks/results/ebm_claims.md) "
                               "found training noise of 0.5 in the autoencoders' hidden units to raise "
                               "accuracy on every data set."),
       },
       notes={"ninr": "Here ``noise_scale`` is ``σ_ε``, the scale of the node's noise."},
       search={"optuna": Float(0.01, 1.0, log=True), "grid": [0.05, 0.1, 0.2, 0.4]},
       # σ_ε spans the phases: decay at small noise, catapult and divergence at large.
       search_by={"ninr": {"optuna": Float(0.05, 10.0, log=True), "grid": [0.1, 0.5, 1.0, 2.0]}}),
    _p("niw_init_scale", "ninr", "network", [Interval(Real, 0, None, closed="left")], "float", 1.0, """
        Standard deviation of the Gaussian initialization of each NIW entry. On
        standardized inputs a first-layer pre-activation has a standard deviation
        near 0.6 at initialization, so ``σ_ε · niw_init_scale`` well above that makes
        noise dominate at the start, as NINR intends.""",
       search={"optuna": Float(0.1, 3.0, log=True)}),
    _p("noise_placement", "mlp", "network", [StrOptions(set(NOISE_PLACEMENTS)), tuple, list],
       "str or tuple of str", "post_activation", """
        Where the noise goes: any of ``'input'``, ``'pre_activation'``,
        ``'post_activation'``.""",
       search={"optuna": Categorical(NOISE_PLACEMENTS), "grid": ["input", "post_activation"]}),
    _p("dropout", "mlp", "network", [Interval(Real, 0, 1, closed="left")], "float", 0.0, """
        Inverted-dropout rate after each hidden block (the probability of dropping).""",
       search={"optuna": Float(0.0, 0.5)}),
    _p("batch_norm", "mlp", "network", [StrOptions({"before", "after"}), None], "{None, 'before', 'after'}", None,
       """
        Batch normalization before or after each activation."""),
    _p("max_norm", "mlp", "network", [Interval(Real, 0, None, closed="neither"), None], "float or None", None, """
        Max-norm constraint on each hidden unit's incoming weights (Keras
        ``max_norm``), applied after every optimizer step."""),
    _p("inference_dropout", "mlp", "prediction", ["boolean"], "bool", False, """
        Keep the ``dropout`` layers on at prediction time: Monte-Carlo dropout over
        ``n_inference_samples`` passes (with or without ``inference_noise``)."""),
    _p("inference_noise", "base", "prediction", [StrOptions({"same"}), *_NOISE],
       "None, 'same', str, callable or torch Distribution", None, """
        Noise kept on at prediction time. ``None``: a deterministic network (noise
        replaced by its expectation). ``'same'``: the noise the model was trained with
        (changing ``noise`` or ``noise_scale`` after fit does not change it). Any other
        value: that distribution. With noise on, :meth:`predict_proba` averages
        ``n_inference_samples`` noisy passes. The passes use common random numbers:
        their draws are shared by all rows of a call, so a row's prediction depends on
        that row, the model and ``random_state`` only."""),
    _p("inference_noise_scale", "base", "prediction", [Interval(Real, 0, None, closed="left"), None],
       "float or None", None, """
        Scale of the inference noise; ``None`` reuses the training scale."""),
    _p("n_inference_samples", "base", "prediction", [Interval(Integral, 1, None, closed="left")], "int", 32, """
        Number ``T`` of Monte-Carlo passes when inference noise is on."""),
    _p("energy_aggregate", "ebm", "prediction", [StrOptions(set(ENERGY_AGGREGATES))], "{'mean', 'logmeanexp'}",
       "mean", """
        How the energies of the ``T`` passes combine: their mean, or the Monte-Carlo
        free energy ``-log mean_t exp(-E_t)``."""),
    _p("objective", "ebm", "network", [StrOptions({"generative", "joint"})], "{'generative', 'joint'}", "joint", """
        ``'generative'``: the paper's one-class training, each class model learns to
        reconstruct its own rows only. ``'joint'``: that plus a discriminative term,
        the cross-entropy of ``softmax(-E / τ_train)`` (``τ_train`` learned), so that
        each class model also learns to reconstruct the other classes' rows badly
        (every row goes through all K models: K times the work per step). The default
        since the tabular suite (``benchmarks/results/recipe_round2_classification.md``,
        16 tasks): balanced accuracy 0.568 against 0.521, log loss 0.618 against 0.697."""),
    _p("discriminative_weight", "ebm", "network", [Interval(Real, 0, None, closed="left")], "float", 1.0, """
        Weight of the discriminative term of the joint objective."""),
    _p("inference_memory_mb", "base", "prediction", [Interval(Real, 0, None, closed="neither"), None],
       "float or None", None, """
        Memory budget of one vectorized chunk of Monte-Carlo passes, in MiB;
        ``None`` uses scikit-learn's ``working_memory`` setting (1024 by default).
        Chunks split the rows and, when one row's T passes exceed it, the passes."""),
    _p("noise_schedule", "base", "network", [StrOptions(set(NOISE_SCHEDULES)), callable],
       "{'constant', 'linear', 'exponential', 'cosine'} or callable", "constant", """
        How every training noise scale (noise layers, noise injection nodes, the noisy
        activations' ``c``; not the ``dropout`` rate, a regularizer of its own) evolves
        over ``noise_schedule_epochs`` epochs: a factor going from 1 to
        ``noise_schedule_end``, or ``fn(epoch, n_epochs) -> factor``; see
        :func:`sknoise.noise_schedule_factor`. With early stopping, training never stops
        before the schedule's end. The history records ``noise_scale`` and
        ``noise_scale_factor`` per epoch."""),
    _p("noise_schedule_end", "base", "network", [Interval(Real, 0, None, closed="left")], "float", 0.0, """
        The factor reached on the last epoch by the built-in decaying schedules."""),
    _p("noise_schedule_epochs", "base", "network", [Interval(Integral, 1, None, closed="left"), None],
       "int or None", None, """
        Length of the schedule in epochs; ``None`` is ``max_epochs``."""),
    _p("activation_mixing", "base", "network", [Interval(Real, None, None, closed="neither"), None],
       "float or None", None, """
        Mixing constant ``α`` of the noisy activations (``'nan_tanh'``, ...);
        ``None`` keeps the reference value of each variant."""),
    _p("activation_noise_constant", "base", "network", [Interval(Real, 0, None, closed="left"), None],
       "float or None", None, """
        Noise constant ``c`` of the noisy activations; ``None`` keeps the reference value."""),
    _p("optimizer", "base", "network", [StrOptions(set(OPTIMIZERS)), type],
       "{'adam', 'adamw', 'sgd', 'rmsprop'} or torch optimizer class", "adam", """
        The optimizer: a name, or a ``torch.optim.Optimizer`` subclass called with
        ``lr`` and ``weight_decay``."""),
    _p("lr", "base", "training", [Interval(Real, 0, None, closed="neither")], "float", 1e-3, """
        Learning rate.""",
       defaults={"ebm": Default(1e-2, "Ten times the others' 1e-3, because each small autoencoder sees only its "
                                      "own class's rows, and the claims benchmark "
                                      "(benchmarks/results/ebm_claims.md) was run with 1e-2.")},
       search={"optuna": Float(1e-4, 1e-2, log=True)}),
    _p("weight_decay", "base", "training", [Interval(Real, 0, None, closed="left")], "float", 0.0, """
        L2 penalty passed to the optimizer.""",
       defaults={"mlp": Default(1e-4, "Not 0 as for the other estimators, because the defaults study "
                                      "(benchmarks/results/defaults.md) found 1e-4 better for this network.")},
       search={"optuna": Float(1e-6, 1e-2, log=True)}),
    _p("momentum", "base", "training", [Interval(Real, 0, 1, closed="both")], "float", 0.9, """
        Momentum, used by ``'sgd'`` and ``'rmsprop'`` only."""),
    _p("beta2", "base", "training", [Interval(Real, 0, 1, closed="neither")], "float", 0.999, """
        Decay of Adam's (and AdamW's) second-moment estimate; RealMLP uses 0.95."""),
    _p("lr_schedule", "base", "fit", [StrOptions(set(LR_SCHEDULES))], "{'constant', 'cosine', 'flat_cosine'}",
       "constant", """
        How ``fit`` moves the learning rate over a budget of ``max_epochs`` epochs:
        constant, a cosine from ``lr`` down to 0, or flat for the first half and a
        cosine over the second. Early stopping may end the fit first; ``partial_fit``
        trains at the constant ``lr``."""),
    _p("batch_size", "base", "training", [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
       "int or 'auto'", "auto", """
        Rows per mini-batch; ``'auto'`` is ``min(256, n_rows)`` for the rows of each
        ``fit`` or ``partial_fit`` call."""),
    _p("batching", "ebm", "network", [StrOptions({"rows", "per_class"})], "{'rows', 'per_class'}", "rows", """
        ``'rows'``: each training step takes ``batch_size`` rows of the shuffled
        table, whatever their classes. ``'per_class'``: each step takes ``batch_size``
        rows of every class, so an epoch makes as many steps as the largest class
        needs (K times fewer), each class model seeing its rows as a separately
        trained one would (``benchmarks/bench_ebm_speed.py`` times both against K
        separate models; ``benchmarks/ebm_claims.py`` compares their accuracy).
        Fewer, larger steps may need more epochs."""),
    _p("max_epochs", "base", "fit", [Interval(Integral, 1, None, closed="left")], "int", 200, """
        Passes over the training data (an upper bound with early stopping)."""),
    _p("early_stopping", "base", "fit", ["boolean"], "bool", True, """
        In ``fit``: hold out ``validation_fraction`` of the training rows (stratified by
        class where the class counts allow; with their sample weights), stop when the
        validation loss has not improved by ``tol`` (relative) for ``n_iter_no_change``
        epochs, and restore the weights of the best epoch (``best_epoch_``), Ctrl-C
        included. ``partial_fit`` always trains one epoch on every row it is given."""),
    _p("validation_fraction", "base", "fit", [Interval(Real, 0, 1, closed="neither")], "float", 0.1, """
        Share of the training rows held out for early stopping (and for the
        calibration that estimators make after training)."""),
    _p("n_iter_no_change", "base", "fit", [Interval(Integral, 1, None, closed="left")], "int", 10, """
        Patience of early stopping: epochs without improvement before training stops.""",
       defaults={"NoisyMLPClassifier": Default(20, (
           "20 rather than the others' 10, because the defaults study found the longer patience better for "
           "this network (benchmarks/results/defaults.md). The regressor keeps 10: on the tabular suite's "
           "regression choice tasks 20 took 1.7x the fit time (mean 3.42 s against 2.05 s, CatBoost 2.81 s) for "
           "a mean R² higher by 0.001 (benchmarks/results/study22_speed.md)."))}),
    _p("tol", "base", "fit", [Interval(Real, 0, None, closed="left")], "float", 1e-4, """
        Relative improvement of the validation loss that counts as one: below
        ``best * (1 - tol)``."""),
    _p("label_smoothing", "logit", "network", [Interval(Real, 0, 1, closed="left")], "float", 0.0, """
        Label smoothing of the cross-entropy: the target puts this much probability
        uniformly on all classes."""),
    _p("loss", "regressor", "network", [StrOptions({"squared_error", "huber", "gaussian_nll"})],
       "{'squared_error', 'huber', 'gaussian_nll'}", "squared_error", """
        Training loss on the standardized targets: squared error, the Huber loss
        (quadratic within ``huber_delta`` standard deviations, linear beyond; for
        heavy-tailed targets), or the negative log-likelihood of a heteroscedastic
        Gaussian: the network also predicts each row's noise variance, which
        ``predict(..., return_std=True)`` and :meth:`predict_interval` then use."""),
    _p("huber_delta", "regressor", "network", [Interval(Real, 0, None, closed="neither")], "float", 1.0, """
        Where the Huber loss turns linear, in standard deviations of the target."""),
    _p("calibration", "classifier", "training", [StrOptions({"temperature"}), None], "{'temperature'} or None",
       None, """
        ``'temperature'``: after training, fit a temperature on the rows early stopping
        held out (the training rows without early stopping; each ``partial_fit`` call's
        rows) under the inference settings of that moment, so that ``predict_proba``
        is calibrated without a ``CalibratedClassifierCV`` wrapper (``temperature_``;
        refit with :meth:`calibrate`). On fewer than 500 rows (fits on fewer than
        5,000 rows at the default ``validation_fraction``) the temperature is the one
        closest to 1 among those whose log loss is within one standard error of the
        best, so it stays at 1 unless the rows clearly say otherwise (the default
        NoisyMLPClassifier kept 1 in 110 of 117 fits on the tabular suite's tables:
        ``benchmarks/results/calibration.md``); the EBM's is the largest of them,
        erring towards the class shares. On more rows, the best. ``None``:
        temperature 1.""",
       defaults={"ebm": Default("temperature", "On, because the energies have no natural scale: without a "
                                               "fitted temperature the posterior's probabilities are arbitrary.")}),
    _p("class_weight", "classifier", "training", [dict, StrOptions({"balanced"}), None], "dict, 'balanced' or None",
       None, """
        Weights of the classes in the training loss, multiplying any ``sample_weight``:
        a dict ``{label: weight}`` (missing labels weigh 1), or ``'balanced'`` for
        ``n_samples / (n_classes * count_k)`` computed on the (sample-weighted) labels of
        ``fit`` (``partial_fit`` takes dicts only: it cannot know the class shares).""",
       notes={"ebm": "Class and sample weights weigh each row's energy in the training loss, the prior and the "
                     "temperature's calibration."}),
    _p("decision", "classifier", "prediction", [StrOptions({"argmax", "balanced"})], "{'argmax', 'balanced'}",
       "argmax", """
        How :meth:`predict` turns probabilities into a class: ``'argmax'``, the most
        probable class (the decision that maximizes accuracy); ``'balanced'``, the class
        whose probability is largest relative to its share of the training rows
        (``class_prior_``), the decision that maximizes balanced accuracy (the mean of
        the per-class recalls) when the probabilities are calibrated. The probabilities
        themselves are the same either way.""",
       defaults={"NoisyMLPClassifier": Default("balanced", (
           "'balanced' here because on the tabular suite's classification choice tasks it raised balanced "
           "accuracy by 5.6 points over the argmax (benchmarks/results/study22.md), at a cost in plain "
           "accuracy on imbalanced tables; set 'argmax' when accuracy is what counts."))}),
    _p("device", "base", "network", [str, torch.device], "{'cpu', 'cuda', 'auto'} or str", "cpu", """
        Torch device; ``'auto'`` picks CUDA when it is available."""),
    _p("n_members", "base", "network", [Interval(Integral, 1, None, closed="left")], "int", 1, """
        An ensemble in one module: this many independently initialized copies of the
        network (their own weights and noise draws), trained at once as batched
        matrix products, each on every row. Predictions average the members'
        probabilities (classifiers) or means (regressors); ``return_std`` reports the
        spread across members and Monte-Carlo passes together."""),
    _p("random_state", "base", "network", ["random_state"], "int, RandomState instance or None", None, """
        Seeds weight initialization, shuffling, the validation split and every
        noise draw (training and inference streams apart)."""),
    _p("verbose", "base", "training", ["verbose"], "int", 0, """
        Print skorch's per-epoch table when positive."""),
    _p("callbacks", "base", "network", [list, None], "list of skorch callbacks or None", None, """
        Extra skorch callbacks (or ``(name, callback)`` tuples) for the training loop;
        skorch's own (``EpochScoring('roc_auc')``, ...) work on the net, whose labels
        are the encoded ``0..K-1`` (a regressor's targets are standardized)."""),
    _p("on_divergence", "base", "training", [StrOptions({"raise", "warn"})], "{'raise', 'warn'}", "raise", """
        What to do when training diverges (a NaN or inf loss, weights or optimizer
        state; heavy-tailed noise, a large scale or learning rate, or unscaled inputs):
        ``'raise'`` a :class:`sknoise.TrainingDivergedError` naming the settings (a
        failed ``fit`` leaves the estimator unfitted, a failed ``partial_fit`` leaves
        the model it had), or ``'warn'`` (:class:`sknoise.TrainingDivergedWarning`),
        stop, and keep the weights and optimizer state of the last finished epoch."""),
    _p("n_threads", "base", "prediction", [Interval(Integral, 1, None, closed="left"), None], "int or None", None, """
        CPU threads torch uses while this estimator trains and predicts (torch's
        setting is restored afterwards); None leaves torch's setting, which inside
        joblib's workers (``GridSearchCV(n_jobs=...)``, ``cross_validate``) is each
        worker's share of the cores. On a machine busy with other work, 1 avoids
        oversubscription. While the estimator computes, denormal floats are flushed to
        zero (they slow CPU products several times); the setting is off again after."""),
    _p("precision", "base", "training", [StrOptions(set(PRECISIONS))], "{'float32', 'bfloat16'}", "float32", """
        Arithmetic of the forward passes in training and prediction. ``'bfloat16'``
        runs them under :func:`torch.autocast` to bfloat16: matrix products in
        bfloat16 (about twice the rate on recent GPUs, half the memory traffic), losses
        and the outputs used for predictions in float32, weights and optimizer state in
        float32. For large data on a GPU; bfloat16 keeps 8 bits of mantissa, so
        predictions differ from float32 ones in the third digit."""),
]

#: Every parameter, by name, in the order of the estimators' signatures.
PARAMETERS: dict[str, Param] = {p.name: p for p in _PARAMETERS}


def parameter_names(groups) -> list[str]:
    """The parameters of the table's ``groups``, in the table's (the signatures') order."""
    groups = set(groups)
    return [p.name for p in _PARAMETERS if p.group in groups]


def default_of(cls, name: str) -> Any:
    """The default of parameter ``name`` for estimator class ``cls``."""
    param = PARAMETERS[name]
    own = param.for_estimator(param.defaults, cls)
    return param.default if own is None else own.value


def constraints(names) -> dict:
    """scikit-learn's ``_parameter_constraints`` for the parameters ``names``."""
    return {name: PARAMETERS[name].constraint for name in names}


def names_with(names, lifecycle: str) -> tuple[str, ...]:
    """Those of ``names`` whose lifecycle is ``lifecycle`` (see :data:`LIFECYCLES`)."""
    if lifecycle not in LIFECYCLES:
        raise ValueError(f"Unknown lifecycle {lifecycle!r}; one of {list(LIFECYCLES)}.")
    return tuple(name for name in names if PARAMETERS[name].lifecycle == lifecycle)


def _paragraph(text: str) -> str:
    return textwrap.indent(textwrap.fill(text, 84), " " * 8)


#: What the docstrings say of each lifecycle (the network's is the rule, said once in the class docs).
_LIFECYCLE_DOC = {
    "training": "``partial_fit`` applies a new value.",
    "prediction": "Read at prediction time: ``set_params`` on a fitted model applies it without refitting.",
}


def parameters_doc(cls, names) -> str:
    """The numpydoc Parameters entries of ``names`` for estimator class ``cls``."""
    entries = []
    for name in names:
        param = PARAMETERS[name]
        lines = [f"    {name} : {param.kind}, default={default_of(cls, name)!r}",
                 textwrap.indent(param.doc, " " * 8)]
        note = param.for_estimator(param.notes, cls)
        if note:
            lines.append(_paragraph(note))
        if param.lifecycle in _LIFECYCLE_DOC:
            lines.append(_paragraph(_LIFECYCLE_DOC[param.lifecycle]))
        own = param.for_estimator(param.defaults, cls)
        if own is not None:
            lines.append(_paragraph(own.why))
        entries.append("\n".join(lines))
    return "\n".join(entries)


def search_ranges(cls, names, kind: str) -> dict[str, Any]:
    """The searched parameters of ``names`` and their ranges for ``kind`` ('optuna' or 'grid').

    The shared parameters (group ``'base'``) come first, then the architecture's own,
    each in the table's order: optuna samples a trial's parameters in this order.
    """
    ranges = {}
    base_first = sorted(names, key=lambda name: PARAMETERS[name].group != "base")
    for name in base_first:
        param = PARAMETERS[name]
        spec = param.for_estimator(param.search_by, cls) or param.search
        if kind in spec:
            ranges[name] = spec[kind]
    return ranges


def optuna_space(ranges: dict[str, Any]) -> dict:
    """Ranges of the table (:class:`Float`, :class:`Categorical`) as optuna distributions.

    optuna is imported here, when a space is asked for, not with sknoise.
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    def distribution(spec):
        if isinstance(spec, Float):
            return FloatDistribution(spec.low, spec.high, log=spec.log)
        if isinstance(spec, Categorical):
            return CategoricalDistribution(spec.choices)
        raise TypeError(f"Unsupported search range {spec!r}.")

    return {name: distribution(spec) for name, spec in ranges.items()}


def with_prefix(space: dict, prefix: str) -> dict:
    """Prefix every key (e.g. ``'clf__'`` inside a Pipeline), copying grid lists."""
    return {f"{prefix}{name}": (list(value) if isinstance(value, (list, tuple)) else value)
            for name, value in space.items()}

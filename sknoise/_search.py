"""Default hyperparameter search spaces, for optuna and for GridSearchCV."""

from __future__ import annotations

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

__all__ = ["ADDITIVE_NOISES", "SEARCHED_NOISES", "NOISE_SEARCH_SPACE", "suggest_params", "with_prefix"]

#: The seven normalized additive distributions: the paper's "seven distributions".
ADDITIVE_NOISES = ("gaussian", "uniform", "laplace", "logistic", "cauchy", "gumbel", "rademacher")

#: The distributions of the default spaces: the finite-variance ones. Cauchy noise lost
#: every trial of our tuning runs and diverges at moderate scales.
SEARCHED_NOISES = tuple(n for n in ADDITIVE_NOISES if n != "cauchy")

#: The noise part every estimator shares: distribution, scale, and the optimizer's step.
#: Every parameter here acts whatever the values of the others, so no two points of a
#: space are the same model: Monte-Carlo inference (``inference_noise`` and the
#: parameters that act only under it) is off by default and left out.
NOISE_SEARCH_SPACE: dict[str, dict[str, object]] = {
    "optuna": {
        "noise": CategoricalDistribution(SEARCHED_NOISES),
        "noise_scale": FloatDistribution(0.01, 1.0, log=True),
        "lr": FloatDistribution(1e-4, 1e-2, log=True),
        "weight_decay": FloatDistribution(1e-6, 1e-2, log=True),
    },
    "grid": {
        "noise": ["gaussian", "uniform", "laplace"],
        "noise_scale": [0.05, 0.1, 0.2, 0.4],
    },
}


def with_prefix(space: dict, prefix: str) -> dict:
    """Prefix every key (e.g. ``'clf__'`` inside a Pipeline), copying grid lists."""
    return {
        f"{prefix}{name}": (value if isinstance(value, BaseDistribution) else list(value))
        for name, value in space.items()
    }


def suggest_params(trial, space: dict[str, BaseDistribution]) -> dict:
    """Ask an optuna trial for one value of every parameter of an optuna search space.

    Parameters
    ----------
    trial : optuna.Trial
    space : dict
        Parameter name to optuna distribution, e.g. ``NoisyMLPClassifier.search_space()``.

    Returns
    -------
    dict
        Parameter name to suggested value, ready for ``estimator.set_params(**params)``.
    """
    params = {}
    for name, dist in space.items():
        if isinstance(dist, FloatDistribution):
            params[name] = trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
        elif isinstance(dist, IntDistribution):
            params[name] = trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
        elif isinstance(dist, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, dist.choices)
        else:
            raise TypeError(f"Unsupported distribution for {name!r}: {type(dist).__name__}.")
    return params

"""Drawing a trial's parameters from a search space (the spaces come from each estimator's
``search_space``, whose ranges live in the parameter table). optuna is imported when used."""

from __future__ import annotations

__all__ = ["suggest_params"]


def suggest_params(trial, space: dict) -> dict:
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
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

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

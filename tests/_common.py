"""One place for the test suite's estimators (the package's own registry), their cheap
settings for the common checks, and the expected failures of scikit-learn's common checks
with their reasons."""

import pytest
import torch
from sklearn.base import ClassifierMixin, RegressorMixin

from sknoise import NINRClassifier, NINRRegressor, NoisyEBMClassifier, NoisyMLPClassifier, NoisyMLPRegressor
from sknoise._runtime._architecture import LogitHead
from sknoise._runtime._estimator import registered_estimators
from sknoise.nn._layers import InferenceNoise, monte_carlo

#: Every estimator sknoise defines: a new one joins every test parametrized over these.
ESTIMATORS = registered_estimators()
CLASSIFIERS = [cls for cls in ESTIMATORS if issubclass(cls, ClassifierMixin)]
REGRESSORS = [cls for cls in ESTIMATORS if issubclass(cls, RegressorMixin)]
#: The classifiers whose network outputs logits (not the EBM's energies).
LOGIT_CLASSIFIERS = [cls for cls in CLASSIFIERS if isinstance(cls._architecture.classifier_head, LogitHead)]


def each(classes):
    """``pytest.mark.parametrize`` over estimator classes, named by class."""
    return pytest.mark.parametrize("cls", classes, ids=lambda cls: cls.__name__)


# Small and short enough for the ~40 common checks, yet accurate enough for
# check_classifiers_train (accuracy > 0.83 on its blobs).
CHECK_PARAMS = {
    NoisyMLPClassifier: dict(
        hidden_layer_sizes=(16,),
        max_epochs=40,
        lr=0.01,
        early_stopping=False,
        random_state=0,
    ),
    NINRClassifier: dict(
        hidden_layer_sizes=(16,),
        max_epochs=40,
        lr=0.01,
        noise_scale=0.5,
        early_stopping=False,
        random_state=0,
    ),
    NoisyEBMClassifier: dict(
        hidden_layer_sizes=(8,),
        max_epochs=30,
        lr=0.02,
        early_stopping=False,
        random_state=0,
    ),
    # ... and for check_regressors_train (R^2 > 0.5 on its data).
    NoisyMLPRegressor: dict(
        hidden_layer_sizes=(16,),
        max_epochs=40,
        lr=0.01,
        early_stopping=False,
        random_state=0,
    ),
    NINRRegressor: dict(
        hidden_layer_sizes=(16,),
        max_epochs=40,
        lr=0.01,
        noise_scale=0.5,
        early_stopping=False,
        random_state=0,
    ),
}

# Mini-batch training is random: integer sample weights act as repeated rows in
# expectation, not exactly (the number and composition of the mini-batches differ).
# tests/test_weights.py checks the equivalence up to that randomness.
_WEIGHTS_ARE_NOT_EXACT_REPETITIONS = (
    "stochastic mini-batch training: integer weights equal repeated rows in expectation only; "
    "tests/test_weights.py checks it with a tolerance"
)

assert set(CHECK_PARAMS) == set(ESTIMATORS), "every estimator needs cheap settings for the common checks"

EXPECTED_FAILED_CHECKS: dict[type, dict[str, str]] = {
    cls: {"check_sample_weight_equivalence_on_dense_data": _WEIGHTS_ARE_NOT_EXACT_REPETITIONS}
    for cls in CHECK_PARAMS
}
# The default decision of NoisyMLPClassifier, 'balanced', divides the probabilities by the
# (weighted) class shares it trained on, so class weights cannot steer predict by design;
# tests/test_decision.py runs this check on decision='argmax', where they do.
EXPECTED_FAILED_CHECKS[NoisyMLPClassifier]["check_class_weight_classifiers"] = (
    "decision='balanced' re-balances the decision whatever the class weights; decision='argmax' passes "
    "(tests/test_decision.py)"
)


def check_instances():
    """Estimator instances for parametrize_with_checks."""
    return [cls(**params) for cls, params in CHECK_PARAMS.items()]


def expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILED_CHECKS.get(type(estimator), {})


def run_passes(module, x, n_passes, noise=None, seed=0, pass_chunks=None):
    """The ``(passes, rows, ...)`` output of T Monte-Carlo passes of a module in eval mode.

    A network whose sources draw no noise returns its rows once (one pass).
    """
    noise = InferenceNoise() if noise is None else noise
    pass_chunks = pass_chunks or [n_passes]
    outs, first = [], 0
    with torch.no_grad(), monte_carlo(module, noise, seed) as mc:
        for passes in pass_chunks:
            mc.set_chunk(len(x), passes, first)
            out = module(x)
            outs.append(out.reshape(-1, len(x), *out.shape[1:]))
            first += passes
    return torch.cat(outs)

"""The decision rule of predict: the most probable class, or the one most probable relative to
its share of the training rows (balanced accuracy's Bayes decision)."""

import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score

from ._common import CLASSIFIERS, each

FAST = dict(hidden_layer_sizes=(32,), max_epochs=40, random_state=0)


def imbalanced(n=2400):
    return make_classification(n, 10, n_informative=5, n_classes=3, weights=[0.85, 0.1, 0.05], random_state=0)


@each(CLASSIFIERS)
def test_the_balanced_decision_raises_balanced_accuracy_and_leaves_the_probabilities(cls):
    X, y = imbalanced()
    model = cls(**FAST, decision="argmax").fit(X[:1800], y[:1800])
    proba = model.predict_proba(X[1800:])
    argmax = balanced_accuracy_score(y[1800:], model.predict(X[1800:]))
    model.set_params(decision="balanced")  # read at prediction time: no refit
    balanced = balanced_accuracy_score(y[1800:], model.predict(X[1800:]))
    np.testing.assert_array_equal(model.predict_proba(X[1800:]), proba)
    assert balanced > argmax + 0.03, (argmax, balanced)
    expected = np.argmax(proba / model.class_prior_, axis=1)
    np.testing.assert_array_equal(model.predict(X[1800:]), model.classes_[expected])


@each(CLASSIFIERS)
def test_the_class_prior_counts_every_row_given_with_its_weight(cls):
    X, y = imbalanced(600)
    w = np.where(y == 2, 3.0, 1.0)
    model = cls(**{**FAST, "max_epochs": 2}).fit(X, y, sample_weight=w)
    shares = np.bincount(y, weights=w) / w.sum()
    np.testing.assert_allclose(model.class_prior_, shares)
    model.partial_fit(X[y == 2], y[y == 2])  # partial_fit adds its rows
    counts = np.bincount(y, weights=w) + np.array([0, 0, (y == 2).sum()])
    np.testing.assert_allclose(model.class_prior_, counts / counts.sum())


# ----------------------------------------------------------------------------- noise='auto'
def test_auto_noise_grows_with_the_table_and_is_reported():
    from sknoise import NoisyMLPClassifier

    chosen = {}
    for n in (600, 2500, 9000):
        X, y = make_classification(n, 8, random_state=0)
        model = NoisyMLPClassifier((16,), max_epochs=2, random_state=0).fit(X, y)
        chosen[n] = model.noise_["noise_scale"]
        assert model.history_[-1]["noise_scale"] == chosen[n] and model.n_members_ == 1
        assert model.noise_["noise"] == ("none" if n == 600 else "gaussian")
    assert chosen[600] == 0 < chosen[2500] < chosen[9000] == 0.4


def test_auto_noise_keeps_its_choice_in_partial_fit_and_a_fixed_noise_is_reported_as_given():
    from sknoise import NINRClassifier, NoisyMLPClassifier

    X, y = make_classification(3000, 8, random_state=0)
    model = NoisyMLPClassifier((16,), max_epochs=2, random_state=0).fit(X, y)
    chosen = dict(model.noise_)
    model.partial_fit(X[:100], y[:100])
    assert model.noise_ == chosen
    fixed = NINRClassifier((16,), noise="laplace", noise_scale=0.3, max_epochs=2, random_state=0).fit(X, y)
    assert fixed.noise_ == {"noise": "laplace", "noise_scale": 0.3, "rule": "as given"}
    fixed.set_params(noise_scale=0.1).partial_fit(X, y)
    assert fixed.noise_["noise_scale"] == 0.1 and fixed.history_[-1]["noise_scale"] == 0.1


def test_class_weights_steer_the_argmax_decision_as_scikit_learn_checks():
    """scikit-learn's check_class_weight_classifiers on decision='argmax' (the default,
    'balanced', re-balances the decision whatever the weights: an expected failure there)."""
    from sklearn.utils.estimator_checks import check_class_weight_classifiers

    from sknoise import NoisyMLPClassifier

    from ._common import CHECK_PARAMS

    model = NoisyMLPClassifier(**CHECK_PARAMS[NoisyMLPClassifier], decision="argmax")
    check_class_weight_classifiers(type(model).__name__, model)


def test_the_balanced_decision_uses_the_class_shares_the_model_trained_on():
    """With class weights the probabilities describe the weighted rows, so the balanced
    decision divides by the weighted shares: class_weight='balanced' adds nothing to it."""
    from sknoise import NoisyMLPClassifier

    X, y = imbalanced(900)
    model = NoisyMLPClassifier(**{**FAST, "max_epochs": 2}, class_weight="balanced").fit(X, y)
    np.testing.assert_allclose(model.class_prior_, np.full(3, 1 / 3))

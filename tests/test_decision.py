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
    model = cls(**FAST).fit(X[:1800], y[:1800])
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

"""sample_weight and class_weight on every estimator, and metadata routing through sklearn."""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import AdaBoostClassifier
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknoise import NINRRegressor, NoisyEBMClassifier, NoisyMLPClassifier, NoisyMLPRegressor

from ._common import CLASSIFIERS, ESTIMATORS, each

classifiers = each(CLASSIFIERS)
estimators = each(ESTIMATORS)


@pytest.fixture(scope="module")
def imbalanced():
    X, y = make_classification(n_samples=2000, n_features=8, n_informative=4, weights=[0.9], flip_y=0.02,
                               class_sep=0.8, random_state=0)
    assert 0.05 < y.mean() < 0.2  # the minority share is below 20%
    X = StandardScaler().fit_transform(X)
    return train_test_split(X, y, test_size=0.4, stratify=y, random_state=0)


@classifiers
def test_balanced_class_weight_raises_balanced_accuracy(cls, imbalanced):
    X_tr, X_te, y_tr, y_te = imbalanced
    # The argmax decision: decision='balanced' re-balances the decision whatever the weights.
    params = dict(hidden_layer_sizes=(32,), random_state=0, decision="argmax")
    plain = cls(**params).fit(X_tr, y_tr)
    balanced = cls(**params, class_weight="balanced").fit(X_tr, y_tr)
    gain = balanced_accuracy_score(y_te, balanced.predict(X_te)) - balanced_accuracy_score(y_te, plain.predict(X_te))
    assert gain > 0.03, gain
    # A dict gives the same weights as 'balanced' computes.
    shares = np.bincount(y_tr) / len(y_tr)
    as_dict = cls(**params, class_weight={0: 0.5 / shares[0], 1: 0.5 / shares[1]}).fit(X_tr, y_tr)
    np.testing.assert_allclose(as_dict.predict_proba(X_te), balanced.predict_proba(X_te), rtol=1e-4, atol=1e-5)


def weighted_problem(cls):
    """Data, integer weights that change the best model, and the data with those rows repeated.

    Classification: class 1 counts 4x, which shifts every probability towards it.
    Regression: a hidden group (not in X) whose targets are 50 higher counts 4x, which
    moves the conditional mean from +25 to +40.
    """
    rng = np.random.default_rng(0)
    if cls in (NoisyMLPRegressor, NINRRegressor):
        X, y = make_regression(n_samples=400, n_features=3, noise=5.0, random_state=0)
        group = rng.random(len(y)) < 0.5
        y = y + 50 * group
        w = np.where(group, 4, 1)
    else:
        X, y = make_classification(n_samples=400, n_features=3, n_informative=2, n_redundant=0, flip_y=0.3,
                                   class_sep=0.5, random_state=0)
        w = np.where(y == 1, 4, 1)
    X = StandardScaler().fit_transform(X)
    return X, y, w, np.repeat(X, w, axis=0), np.repeat(y, w)


def outputs(model, X):
    return model.predict_proba(X)[:, 1] if hasattr(model, "predict_proba") else model.predict(X) / 50


@estimators
def test_integer_sample_weights_act_as_repeated_rows(cls):
    X, y, w, X_rep, y_rep = weighted_problem(cls)
    params = dict(hidden_layer_sizes=(32,), max_epochs=100, early_stopping=False, lr=3e-3, noise_scale=0.1)
    distances = {"repeated": [], "unweighted": []}
    for seed in range(2):
        weighted = outputs(cls(**params, random_state=seed).fit(X, y, sample_weight=w), X)
        repeated = outputs(cls(**params, random_state=seed + 10).fit(X_rep, y_rep), X)
        unweighted = outputs(cls(**params, random_state=seed + 20).fit(X, y), X)
        distances["repeated"].append(np.abs(weighted - repeated).mean())
        distances["unweighted"].append(np.abs(weighted - unweighted).mean())
    # Up to the randomness of training, the weighted fit is the repeated-rows fit, not the plain one.
    assert np.mean(distances["repeated"]) < 0.5 * np.mean(distances["unweighted"]), distances


@estimators
def test_unit_weights_change_nothing_and_weights_reach_partial_fit(cls):
    X, y, w, _, _ = weighted_problem(cls)
    params = dict(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
    plain = cls(**params).fit(X, y)
    ones = cls(**params).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(outputs(ones, X), outputs(plain, X))
    streamed = cls(**params).partial_fit(X, y, sample_weight=w)
    unweighted = cls(**params).partial_fit(X, y)
    assert not np.allclose(outputs(streamed, X), outputs(unweighted, X))


@estimators
def test_the_validation_split_carries_its_weights(cls):
    X, y, w, _, _ = weighted_problem(cls)
    model = cls(hidden_layer_sizes=(8,), max_epochs=3, n_iter_no_change=50, random_state=0)
    weighted = model.fit(X, y, sample_weight=w).validation_loss_curve_
    plain = cls(**model.get_params()).fit(X, y).validation_loss_curve_
    assert not np.allclose(weighted, plain)


@estimators
def test_bad_sample_weights_are_named(cls):
    X, y, w, _, _ = weighted_problem(cls)
    model = cls(hidden_layer_sizes=(8,), max_epochs=2, random_state=0)
    with pytest.raises(ValueError, match="[Nn]egative"):
        model.fit(X, y, sample_weight=-w)
    with pytest.raises(ValueError, match="non-zero|sums to zero"):
        model.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, y, sample_weight=w[:10])
    bad = w.astype(float)
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN|finite"):
        model.fit(X, y, sample_weight=bad)


@classifiers
def test_bad_class_weights_are_named(cls, imbalanced):
    X_tr, _, y_tr, _ = imbalanced
    with pytest.raises(ValueError, match="class_weight.*not classes"):
        cls(max_epochs=1, class_weight={0: 1.0, 7: 2.0}).fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="class_weight='balanced'.*partial_fit"):
        cls(class_weight="balanced").partial_fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="class_weight"):
        cls(max_epochs=1, class_weight={0: -1.0}).fit(X_tr, y_tr)


def test_sample_weights_through_pipelines_searches_and_adaboost(imbalanced):
    X_tr, X_te, y_tr, y_te = imbalanced
    w = np.where(y_tr == 1, 5.0, 1.0)
    model = make_pipeline(StandardScaler(), NoisyMLPClassifier((16,), max_epochs=20, random_state=0))
    model.fit(X_tr, y_tr, noisymlpclassifier__sample_weight=w)
    X_b, y_b = make_classification(n_samples=400, n_features=5, random_state=0)
    boost = AdaBoostClassifier(NoisyMLPClassifier((16,), max_epochs=30, random_state=0), n_estimators=3, random_state=0)
    assert boost.fit(X_b, y_b).score(X_b, y_b) > 0.8
    with sklearn.config_context(enable_metadata_routing=True):
        clf = NoisyMLPClassifier((8,), max_epochs=5, random_state=0, decision="argmax")
        clf.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        routed = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), clf)
        search = GridSearchCV(routed, {"noisymlpclassifier__noise_scale": [0.1, 0.3]}, cv=2)
        search.fit(X_tr, y_tr, sample_weight=w)
        assert search.best_score_ > 0.5


def test_ebm_weights_weigh_the_energy_loss_and_the_prior(imbalanced):
    X_tr, _, y_tr, _ = imbalanced
    w = np.where(y_tr == 1, 9.0, 1.0)
    ebm = NoisyEBMClassifier((8,), max_epochs=3, objective="generative", random_state=0).fit(X_tr, y_tr,
                                                                                          sample_weight=w)
    weighted_shares = np.bincount(y_tr, weights=w) / w.sum()
    np.testing.assert_allclose(ebm.class_prior_, weighted_shares, rtol=1e-6)
    # The net's loss is the weighted mean of the rows' own-class energies.
    net = ebm.net_
    energies = torch.tensor([[1.0, 5.0], [7.0, 3.0]])
    X_batch = {"X": torch.zeros(2, 8), "sample_weight": torch.tensor([1.0, 3.0])}
    loss = net.get_loss(energies, torch.tensor([0, 1]), X=X_batch)
    assert loss.item() == pytest.approx((1.0 * 1 + 3.0 * 3) / 4)

"""Property tests (hypothesis): random shapes, label sets and dtypes through fit/predict/predict_proba.

On any valid input every exported estimator fits without crashing, ``classes_`` are the
sorted unique labels, probabilities have the right shape and sum to one, and ``predict``
is the most probable class.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ._common import CLASSIFIERS as ESTIMATORS

LABEL_SETS = {
    "int": lambda k: np.arange(k) * 3 - 2,  # negative and non-contiguous
    "str": lambda k: np.array(["b", "a", "zebra", "ü", "10", "9"][:k]),
    "float": lambda k: np.arange(k) * 2.0 - 1.0,  # integral floats: fractional ones are a regression target
    "bool": lambda k: np.array([False, True][:k]),
}
X_DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]


@st.composite
def problems(draw):
    """A small classification problem in which every class occurs at least once."""
    label_kind = draw(st.sampled_from(sorted(LABEL_SETS)))
    n_classes = draw(st.integers(2, 2 if label_kind == "bool" else 5))
    n_samples = draw(st.integers(n_classes, 40))
    n_features = draw(st.integers(1, 6))
    dtype = draw(st.sampled_from(X_DTYPES))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    labels = LABEL_SETS[label_kind](n_classes)
    index = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, n_samples - n_classes)])
    y = labels[rng.permutation(index)]
    X = rng.normal(scale=draw(st.sampled_from([1e-3, 1.0, 100.0])), size=(n_samples, n_features))
    if dtype == np.bool_:
        X = X > 0
    elif np.issubdtype(dtype, np.integer):
        X = np.round(X)
    X = X.astype(dtype)
    n_test = draw(st.integers(1, 30))
    X_test = rng.normal(size=(n_test, n_features)).astype(dtype)
    return X, y, X_test, labels


@st.composite
def estimators(draw):
    cls = draw(st.sampled_from(ESTIMATORS))
    inference_noise = draw(st.sampled_from([None, "same"]))
    return cls(
        hidden_layer_sizes=(draw(st.integers(1, 6)),),
        max_epochs=draw(st.integers(1, 2)),
        batch_size=draw(st.sampled_from(["auto", 1, 7])),
        early_stopping=draw(st.booleans()),
        n_inference_samples=draw(st.integers(1, 4)),
        inference_noise=inference_noise,
        random_state=draw(st.integers(0, 100)),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(), clf=estimators())
def test_fit_predict_proba_on_any_valid_input(problem, clf):
    X, y, X_test, labels = problem
    with warnings.catch_warnings():
        # A 1-2 epoch fit may legitimately warn (e.g. few rows for a stratified split).
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    assert clf.n_features_in_ == X.shape[1]

    proba, std = clf.predict_proba(X_test, return_std=True)
    assert proba.shape == std.shape == (len(X_test), len(labels))
    assert proba.dtype == np.float64
    assert np.isfinite(proba).all() and (proba >= 0).all() and (proba <= 1).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-6)
    assert (std >= 0).all()

    predicted = clf.predict(X_test)
    assert predicted.shape == (len(X_test),)
    assert predicted.dtype == clf.classes_.dtype
    assert set(predicted.tolist()) <= set(clf.classes_.tolist())
    # The decision rule: the most probable class, or (decision='balanced') the most probable
    # relative to its share of the training rows.
    scores = proba / clf.class_prior_ if clf.decision == "balanced" else proba
    np.testing.assert_array_equal(predicted, clf.classes_[np.argmax(scores, axis=1)])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(), clf=estimators(), n_calls=st.integers(1, 3))
def test_partial_fit_with_announced_classes_on_any_valid_input(problem, clf, n_calls):
    X, y, X_test, labels = problem
    first = y == y[0]  # a first batch with one class only: `classes` announces the rest
    # Early stopping cannot hold out rows from a one-row batch: a clear error, tested in test_reliability.py.
    assume(not clf.early_stopping or first.sum() >= 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.partial_fit(X[first], y[first], classes=labels)
        for _ in range(n_calls):
            clf.partial_fit(X, y)
    assert clf.n_iter_ == n_calls + 1
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), len(labels))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda cls: cls.__name__)
@settings(max_examples=10, deadline=None)
@given(n_rows=st.integers(1, 5000), budget_kb=st.sampled_from([1, 16, 1024]))
def test_chunking_never_changes_deterministic_predictions(cls, n_rows, budget_kb):
    """Any number of rows, any chunk size: the same probabilities as one chunk."""
    rng = np.random.default_rng(n_rows)
    X = rng.normal(size=(60, 3))
    y = np.arange(60) % 3
    clf = cls(hidden_layer_sizes=(4,), max_epochs=1, early_stopping=False, random_state=0).fit(X, y)
    X_test = rng.normal(size=(n_rows, 3))
    one_chunk = clf.predict_proba(X_test)
    chunked = clf.set_params(inference_memory_mb=budget_kb / 1024).predict_proba(X_test)
    np.testing.assert_allclose(chunked, one_chunk, rtol=1e-5, atol=1e-7)

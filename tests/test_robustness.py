"""Tabular corruptions and robustness curves, on plain scikit-learn classifiers."""

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sknoise._robustness import available_corruptions, corrupt, plot_robustness, robustness_curve

ALL_KINDS = ["gaussian", "uniform", "salt_pepper", "mask", "scale", "shift"]


@pytest.fixture
def table(rng):
    return rng.normal(2.0, 3.0, size=(4000, 5))


@pytest.fixture(scope="module")
def fitted(breast_cancer_split):
    X_train, X_test, y_train, y_test = breast_cancer_split
    model = make_pipeline(SimpleImputer(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
    return model, X_test, y_test


def test_available_corruptions_lists_every_kind_with_a_description():
    kinds = available_corruptions()
    assert sorted(kinds) == sorted(ALL_KINDS)
    assert all(isinstance(d, str) and d for d in kinds.values())


@pytest.mark.parametrize("kind", ["gaussian", "uniform"])
def test_additive_noise_has_the_severity_as_standard_deviation(table, kind):
    delta = corrupt(table, kind, 0.5, random_state=0, feature_scale=None) - table
    assert abs(delta.mean()) < 0.02
    assert delta.std() == pytest.approx(0.5, rel=0.03)
    if kind == "uniform":
        assert np.abs(delta).max() <= 0.5 * np.sqrt(3) + 1e-12


def test_feature_scale_std_reads_severity_in_column_standard_deviations(table):
    X = table * np.array([1.0, 10.0, 100.0, 0.1, 1.0])
    delta = corrupt(X, "gaussian", 0.5, random_state=0, feature_scale="std") - X
    np.testing.assert_allclose(delta.std(axis=0) / X.std(axis=0), 0.5, rtol=0.06)
    shifted = corrupt(X, "shift", 1.0, feature_scale=np.arange(5.0))
    np.testing.assert_allclose(shifted - X, np.broadcast_to(np.arange(5.0), X.shape))
    with pytest.raises(ValueError, match="one value per feature"):
        corrupt(X, "gaussian", 0.5, feature_scale=np.ones(3))


def test_salt_pepper_sets_a_fraction_of_entries_to_column_extremes(table):
    out = corrupt(table, "salt_pepper", 0.2, random_state=0)
    hit = out != table
    assert hit.mean() == pytest.approx(0.2, abs=0.01)
    low, high = table.min(axis=0), table.max(axis=0)
    assert np.all((out[hit] == np.broadcast_to(low, table.shape)[hit]) |
                  (out[hit] == np.broadcast_to(high, table.shape)[hit]))
    # About as much salt as pepper.
    assert (out == high).mean() == pytest.approx((out == low).mean(), abs=0.01)


def test_mask_introduces_missing_values_at_the_severity_rate(table):
    out = corrupt(table, "mask", 0.3, random_state=0)
    assert np.isnan(out).mean() == pytest.approx(0.3, abs=0.01)
    np.testing.assert_array_equal(out[~np.isnan(out)], table[~np.isnan(out)])


def test_scale_and_shift_are_deterministic_domain_shifts(table):
    np.testing.assert_allclose(corrupt(table, "scale", 0.5), 1.5 * table)
    np.testing.assert_allclose(corrupt(table, "shift", 0.5, feature_scale=None), table + 0.5)
    np.testing.assert_allclose(corrupt(table, "shift", 0.5), table + 0.5 * table.std(axis=0))


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_corrupt_copies_is_seeded_and_zero_severity_is_identity(table, kind):
    before = table.copy()
    a = corrupt(table, kind, 0.1, random_state=3)
    b = corrupt(table, kind, 0.1, random_state=3)
    np.testing.assert_array_equal(table, before)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, table, equal_nan=True)
    np.testing.assert_array_equal(corrupt(table, kind, 0.0), table)


def test_corrupt_rejects_bad_kinds_and_severities(table):
    with pytest.raises(ValueError, match="valid kinds are"):
        corrupt(table, "blur", 0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        corrupt(table, "mask", 1.5)
    with pytest.raises(ValueError, match="must lie in"):
        corrupt(table, "gaussian", -0.1)


def test_robustness_curve_scores_any_pipeline(fitted):
    model, X, y = fitted
    df = robustness_curve(model, X, y, severities=[0.0, 0.5, 2.0], random_state=0)
    assert list(df.columns) == ["kind", "severity", "score", "score_std"]
    # Fraction kinds skip severity 2; the others keep it.
    assert set(df[df.kind == "mask"].severity) == {0.0, 0.5}
    assert set(df[df.kind == "gaussian"].severity) == {0.0, 0.5, 2.0}
    np.testing.assert_allclose(df[df.severity == 0].score, model.score(X, y))
    g = df[df.kind == "gaussian"].set_index("severity").score
    assert g[2.0] < g[0.0] - 0.05
    assert 0.3 < df[(df.kind == "mask") & (df.severity == 0.5)].score.item() <= 1


def test_robustness_curve_repeats_seeding_and_scoring(fitted):
    model, X, y = fitted
    kw = dict(kinds=["gaussian"], severities=[1.0], n_repeats=4, random_state=0)
    a, b = robustness_curve(model, X, y, **kw), robustness_curve(model, X, y, **kw)
    assert a.equals(b)
    assert a.score_std.item() > 0
    ll = robustness_curve(model, X, y, kinds=["gaussian"], severities=[0.0], scoring="neg_log_loss")
    assert ll.score.item() < 0
    with pytest.raises(ValueError, match="Unknown corruptions"):
        robustness_curve(model, X, y, kinds=["blur"])


def test_plot_robustness_draws_one_line_per_estimator_and_kind(fitted):
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    model, X, y = fitted
    df = robustness_curve(model, X, y, kinds=["gaussian", "shift"], severities=[0, 1], random_state=0)
    both = pd.concat([df.assign(estimator="a"), df.assign(estimator="b")])
    axes = plot_robustness(both)
    assert [ax.get_title() for ax in axes] == ["gaussian", "shift"]
    for ax in axes:
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    (single,) = plot_robustness(df[df.kind == "gaussian"], label="logreg")
    assert single.get_title() == "gaussian"
    assert [t.get_text() for t in single.get_legend().get_texts()] == ["logreg"]

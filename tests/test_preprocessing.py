"""The built-in preprocessing: a DataFrame in as it is, categories, missing values, unknown categories."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from sknoise import NoisyEBMClassifier, NoisyMLPClassifier, NoisyMLPRegressor
from sknoise._runtime._preprocessing import TablePreprocessor, smooth_clip
from sknoise.nn import EmbeddedInput, PeriodicEmbedding

from ._common import ESTIMATORS, each

estimators = each(ESTIMATORS)
FAST = dict(hidden_layer_sizes=(16,), max_epochs=60, lr=0.01, random_state=0)


def mixed_frame(n=400, seed=0):
    """Numeric columns with NaN and outliers, and every kind of categorical column."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.normal(40, 10, n),
        "income": rng.lognormal(10, 1.5, n),  # heavy tail
        "city": rng.choice(["Oslo", "Lima", "Pune"], n).astype(object),
        "zip": pd.Categorical(rng.choice([f"z{i:02d}" for i in range(30)], n)),  # many categories
        "member": rng.random(n) < 0.3,
        "plan": pd.array(rng.choice(["basic", "pro"], n), dtype="string"),
    })
    df.loc[rng.random(n) < 0.15, "age"] = np.nan
    df.loc[rng.random(n) < 0.1, "city"] = None
    score = (df["age"].fillna(40) - 40) / 10 + 2 * (df["city"] == "Lima") + 2 * df["member"]
    noise = rng.normal(0, 0.3, n)
    return df, np.where(score + noise > 1, "yes", "no"), (score + noise).to_numpy()


def target(cls, y_class, y_reg):
    return y_reg if "Regressor" in cls.__name__ else y_class


@estimators
def test_a_dataframe_with_categories_and_missing_values_fits_and_predicts(cls):
    df, y_class, y_reg = mixed_frame()
    y = target(cls, y_class, y_reg)
    model = cls(**FAST).fit(df, y)
    assert list(model.feature_names_in_) == list(df.columns) and model.n_features_in_ == 6
    assert model.score(df, y) > 0.5
    # Categories never seen in fit, and missing values anywhere, predict without error.
    new = df.head(6).copy()
    new["city"] = ["Rome", None, "Oslo", "Paris", "Lima", "Rome"]
    new["zip"] = pd.Categorical(["z99", "z01", None, "zzz", "z02", "z03"])
    new["plan"] = pd.array(["enterprise", None, "pro", "pro", "basic", "basic"], dtype="string")
    new.loc[0, "income"] = np.nan
    out = model.predict_proba(new) if hasattr(model, "predict_proba") else model.predict(new)
    assert np.isfinite(out).all() and len(out) == 6
    # The fitted preprocessing pickles with the estimator.
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict(new), model.predict(new))


def test_many_categories_get_an_embedding_few_a_one_hot():
    df, y, _ = mixed_frame()
    clf = NoisyMLPClassifier(**FAST).fit(df, y)
    pre = clf.preprocessor_
    assert pre.categorical_columns_ == ["city", "zip", "member", "plan"]
    assert pre.embedding_cardinalities_ == [31]  # 30 zip codes + the reserved code for unknown ones
    assert isinstance(clf.net_.module_, EmbeddedInput)
    codes = pre.transform(df.head(3).assign(zip=pd.Categorical(["z05", "unseen", None])))[:, -1]
    assert codes[0] >= 1 and codes[1] == 0  # unknown: the reserved code
    # The EBM reconstructs its inputs: it one-hot encodes every category instead.
    ebm = NoisyEBMClassifier(**FAST).fit(df, y)
    assert ebm.preprocessor_.embedding_cardinalities_ == []
    assert not isinstance(ebm.net_.module_, EmbeddedInput)
    # A lower max_onehot embeds more columns.
    assert len(NoisyMLPClassifier(**FAST, max_onehot=2).fit(df, y).preprocessor_.embedding_cardinalities_) == 2


def test_missing_values_get_an_indicator_and_numbers_a_robust_scale():
    df, _, _ = mixed_frame()
    pre = TablePreprocessor().fit(df)
    out = pre.transform(df)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    # Two numeric columns, one missing-indicator (age had NaN, income had none).
    indicator = out[:, 2]
    np.testing.assert_array_equal(indicator, df["age"].isna().to_numpy())
    # Robust scaling with smooth clipping bounds the heavy tail of income by 3.
    assert np.abs(out[:, :2]).max() < 3
    assert smooth_clip(np.array([0.0, 1.0, 1e6])).tolist() == pytest.approx([0.0, 0.9487, 3.0], abs=1e-3)
    for scaling in ("quantile", "standard"):
        assert np.isfinite(TablePreprocessor(numeric_scaling=scaling).fit(df).transform(df)).all()


def test_arrays_get_the_numeric_path_and_none_turns_it_off(iris):
    X, y = iris
    clf = NoisyMLPClassifier(**FAST).fit(X * 1000, y)  # unscaled: the preprocessing scales it
    assert clf.score(X * 1000, y) > 0.8
    raw = NoisyMLPClassifier(**FAST, preprocessing=None).fit(X, y)
    assert raw.preprocessor_ is None
    torch.testing.assert_close(raw.net_.module_.hidden[0].weight.shape, clf.net_.module_.hidden[0].weight.shape)
    with pytest.raises(ValueError, match="could not convert string"):
        NoisyMLPClassifier(**FAST, preprocessing=None).fit(pd.DataFrame(X, columns=list("abcd")).assign(e="x"), y)


def test_an_array_after_a_dataframe_fit_takes_the_fitted_columns(iris):
    X, y = iris
    df = pd.DataFrame(X, columns=list("abcd"))
    clf = NoisyMLPClassifier(**FAST).fit(df, y)
    with pytest.warns(UserWarning, match="feature names"):
        np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(df))


def test_bad_preprocessing_parameters_are_named(iris):
    X, y = iris
    with pytest.raises(ValueError, match="preprocessing"):
        NoisyMLPClassifier(preprocessing="standard").fit(X, y)
    with pytest.raises(ValueError, match="numeric_scaling"):
        NoisyMLPClassifier(numeric_scaling="minmax").fit(X, y)
    with pytest.raises(ValueError, match="max_onehot"):
        NoisyMLPClassifier(max_onehot=-1).fit(X, y)


def test_periodic_numeric_embedding_embeds_only_the_numeric_columns():
    df, y_class, _ = mixed_frame()
    model = NoisyMLPClassifier(numeric_embedding="periodic", **FAST).fit(df, y_class)
    periodic = [m for m in model.net_.module_.modules() if isinstance(m, PeriodicEmbedding)]
    assert len(periodic) == 1 and periodic[0].frequencies.shape[0] == 2  # age and income
    assert model.score(df, y_class) > 0.8
    # Categorical codes still reach their embeddings beside the periodic features.
    assert isinstance(model.net_.module_, EmbeddedInput) and model.net_.module_.embeddings
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(df), model.predict(df))


def test_periodic_numeric_embedding_fits_a_wiggly_function_a_plain_network_smooths():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.uniform(-3, 3, 1500)})
    y = np.sin(4 * X["x"].to_numpy()) + 0.05 * rng.normal(size=1500)
    params = dict(hidden_layer_sizes=(32,), max_epochs=80, lr=0.01, noise="none", random_state=0)
    plain = NoisyMLPRegressor(numeric_embedding=None, **params).fit(X, y).score(X, y)
    periodic = NoisyMLPRegressor(numeric_embedding="periodic", **params).fit(X, y).score(X, y)
    assert periodic > 0.9 and periodic > plain + 0.05, (plain, periodic)


def test_periodic_embedding_is_refused_where_it_has_no_meaning(iris):
    X, y = iris
    with pytest.raises(ValueError, match="numeric_embedding"):
        NoisyMLPClassifier(numeric_embedding="fourier").fit(X, y)


def test_a_column_never_observed_in_fit_keeps_only_its_indicator():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    X[:, 1] = np.nan
    y = X[:, 0] + X[:, 2]
    reg = NoisyMLPRegressor(hidden_layer_sizes=(8,), max_epochs=5, random_state=0).fit(X, y)
    pre = reg.preprocessor_
    assert pre.scaled_columns_ == [0, 2] and pre.layout_.numeric == (0, 1)  # two scaled columns ...
    assert len(pre.layout_.dense) == 3  # ... and one indicator
    # The periodic embedding takes exactly the scaled columns, not the indicator.
    embedding = reg.net_.module_.numeric_embedding
    assert isinstance(embedding, PeriodicEmbedding) and embedding.n_features == 2
    assert np.isfinite(reg.predict(X)).all()


@pytest.mark.parametrize("scaling", ["robust", "quantile", "standard"])
def test_a_missing_value_becomes_the_columns_centre_on_its_scale(scaling):
    rng = np.random.default_rng(0)
    X = rng.lognormal(size=(500, 2))
    X[:50, 0] = np.nan
    pre = TablePreprocessor(numeric_scaling=scaling).fit(X)
    out = pre.transform(np.array([[np.nan, np.nan], [np.nanmedian(X[:, 0]), np.nanmedian(X[:, 1])]]))
    # Missing (also in a column that had no missing value in fit) is 0, the scaled centre ...
    np.testing.assert_array_equal(out[0, :2], [0.0, 0.0])
    np.testing.assert_array_equal(out[:, 2], [1.0, 0.0])  # ... and the indicator of the column that had NaN says so
    if scaling != "standard":  # the median is the centre of the robust and quantile scales
        np.testing.assert_allclose(out[1, :2], [0.0, 0.0], atol=1e-2)
    # The scale is fitted on the observed values only.
    observed = pre.transform(X[50:])[:, 0]
    assert abs(np.median(observed)) < 0.02 if scaling != "standard" else abs(observed.mean()) < 1e-5

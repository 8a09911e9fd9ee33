"""The built-in preprocessing: a DataFrame in as it is, categories, missing values, unknown categories."""

import dataclasses
import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import sknoise
from sknoise import NoisyEBMClassifier, NoisyMLPClassifier, NoisyMLPRegressor, TablePreprocessor
from sknoise._runtime._preprocessing import smooth_clip
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


# ----------------------------------------------------------------------------- the statistics as plain arrays
def reference_tables():
    """Tables that worked with the preprocessing before its state API, and rows to transform after fit."""
    df, _, _ = mixed_frame(600)
    new = df.head(8).copy()
    new["city"] = ["Rome", None, "Oslo", "Paris", "Lima", "Rome", "Oslo", "Lima"]
    new["zip"] = pd.Categorical(["z99", "z01", None, "zzz", "z02", "z03", "z04", "z05"])
    new["plan"] = pd.array(["enterprise", None, "pro", "pro", "basic", "basic", "pro", None], dtype="string")
    new.loc[0, "income"], new.loc[1, "age"], new.loc[2, "income"] = np.nan, 1e9, -1e9
    rng = np.random.default_rng(3)
    floats32 = rng.lognormal(size=(2000, 3)).astype(np.float32)
    floats32[rng.random((2000, 3)) < 0.1] = np.nan
    mixed32 = pd.DataFrame({"a": floats32[:, 0], "b": floats32[:, 1].astype(np.float64), "c": floats32[:, 2]})
    nullable = pd.DataFrame({
        "i": pd.array(rng.integers(0, 9, 500), dtype="Int64"), "f": pd.array(rng.normal(size=500), dtype="Float32"),
        "k": rng.integers(-5, 5, 500), "u": rng.integers(0, 3, 500).astype(np.uint8),
        "flag": pd.array(rng.choice([True, False, None], 500), dtype="boolean"),
        "n": pd.Categorical(rng.integers(0, 40, 500)),
    })
    nullable.loc[::7, "i"] = pd.NA
    many = pd.DataFrame({"cat": rng.choice([f"c{i}" for i in range(45)], 3000, p=np.r_[[0.3], np.full(44, 0.7 / 44)]),
                         "x": rng.standard_t(2, 3000), "empty": np.nan, "none": None})
    large = pd.DataFrame({"x": rng.lognormal(size=150_000), "y": rng.normal(size=150_000).astype(np.float32)})
    large.loc[::11, "x"] = np.nan
    return [
        ("mixed", df, new), ("float32 array", floats32, floats32[:50] * 3),
        ("float64 array", floats32.astype(float), None),
        ("float32 and float64 columns", mixed32, mixed32.head(20) * 2), ("nullable and integer dtypes", nullable, None),
        ("many categories", many, many.head(30).assign(cat="unseen")), ("large", large, None),
    ]


@pytest.mark.parametrize("scaling", ["robust", "quantile", "standard"])
@pytest.mark.parametrize("max_onehot", [9, None, 2])
def test_the_features_are_those_of_the_scikit_learn_transformers_bit_for_bit(scaling, max_onehot):
    """The statistics became plain arrays applied here: no number moved for tables that worked before."""
    from ._reference_preprocessing import ReferencePreprocessor

    for name, table, new in reference_tables():
        reference = ReferencePreprocessor(scaling, max_onehot)
        current = TablePreprocessor(numeric_scaling=scaling, max_onehot=max_onehot)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the reference's n_quantiles warning
            expected = reference.fit_transform(table)
            got = current.fit_transform(table)
        np.testing.assert_array_equal(got, expected, err_msg=name)
        assert dataclasses.astuple(current.layout_) == dataclasses.astuple(reference.layout_), name
        for rows in [table[:100] if isinstance(table, np.ndarray) else table.head(100), new]:
            if rows is not None:
                np.testing.assert_array_equal(current.transform(rows), reference.transform(rows), err_msg=name)


def state_round_trip(pre):
    meta, arrays = pre._get_state()
    text = json.dumps(meta)  # JSON as it is: no pickle anywhere
    assert all(isinstance(a, np.ndarray) for a in arrays.values())
    return TablePreprocessor._from_state(json.loads(text), {k: v.copy() for k, v in arrays.items()})


@pytest.mark.parametrize("scaling", ["robust", "quantile", "standard"])
@pytest.mark.parametrize("max_onehot", [9, None])
def test_the_state_rebuilds_an_identical_preprocessor_without_pickle(scaling, max_onehot):
    for name, table, new in reference_tables()[:6]:
        pre = TablePreprocessor(numeric_scaling=scaling, max_onehot=max_onehot)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sknoise.PreprocessingWarning)
            out = pre.fit_transform(table)
        rebuilt = state_round_trip(pre)
        np.testing.assert_array_equal(rebuilt.transform(table), out, err_msg=name)
        if new is not None:
            np.testing.assert_array_equal(rebuilt.transform(new), pre.transform(new), err_msg=name)
        assert rebuilt.layout_ == pre.layout_ and str(rebuilt) == str(pre)
        assert list(rebuilt.get_feature_names_out()) == list(pre.get_feature_names_out())


def test_the_state_of_an_estimators_preprocessor_predicts_the_same():
    df, y, _ = mixed_frame()
    clf = NoisyMLPClassifier(**FAST).fit(df, y)
    rebuilt = state_round_trip(clf.preprocessor_)
    np.testing.assert_array_equal(rebuilt.transform(df), clf.preprocessor_.transform(df))
    # The network's input is the preprocessor's output, as float32.
    features = clf.preprocessor_.transform(df)
    assert features.dtype == np.float32
    np.testing.assert_allclose(clf.net_.predict_proba(features), clf.predict_proba(df), rtol=1e-5, atol=1e-6)


def test_the_state_keeps_each_category_s_type_and_spends_no_bytes_on_text_categories():
    # 1, 1.0, True, '1' and a missing value are five categories and come back as they were; text, the common
    # case (IDs), is stored as the bare string (a 20,000-ID model's file: 0.40 MB of categories as pairs).
    values = [1, 1.0, True, "1", None, 2.5, "x"]
    pre = TablePreprocessor(max_onehot=2).fit(pd.DataFrame({"c": pd.Series(values * 3, dtype=object)}))
    meta, _ = pre._get_state()
    stored = meta["embedded"][0]["categories"]
    assert all(v in stored for v in ("1", "x")) and len(json.dumps(stored)) < 80
    rebuilt = state_round_trip(pre)
    assert [(type(v), v) for v in rebuilt.categories_["c"]] == [(type(v), v) for v in pre.categories_["c"]]
    old_pairs = {**meta, "embedded": [{**meta["embedded"][0], "categories": [
        ["missing", None] if v is None else ["bool", v] if isinstance(v, bool) else ["str", v] if isinstance(v, str)
        else ["int", v] if isinstance(v, int) else ["float", float(v).hex()] for v in pre.categories_["c"]]}]}
    assert rebuilt.categories_["c"] == TablePreprocessor._from_state(old_pairs, {}).categories_["c"]


def test_an_inconsistent_state_is_a_value_error():
    df, _, _ = mixed_frame()
    meta, arrays = TablePreprocessor().fit(df)._get_state()
    broken = [
        ({**meta, "format": "other"}, arrays),
        ({**meta, "version": 99}, arrays),
        ({**meta, "numeric_scaling": "minmax"}, arrays),
        ({**meta, "scaled": [0, 9]}, arrays),
        ({**meta, "scaled": [0, 2]}, arrays),  # 'city' is categorical
        ({**meta, "columns": meta["columns"][:-1]}, arrays),
        (meta, {"center": arrays["center"]}),
        (meta, {**arrays, "scale": arrays["scale"][:1]}),
        (meta, {**arrays, "scale": arrays["scale"].astype(np.int64)}),
        (meta, {**arrays, "center": np.array([np.nan, 0.0])}),
        ({**meta, "onehot": [{**meta["onehot"][0], "categories": [["str", "a"], ["str", "a"]]}]}, arrays),
        ({**meta, "onehot": [{**meta["onehot"][0], "categories": [["float", "nan"]]}]}, arrays),
        ({**meta, "embedded": []}, arrays),
        ("meta", arrays),
    ]
    for bad_meta, bad_arrays in broken:
        with pytest.raises(ValueError):
            TablePreprocessor._from_state(bad_meta, bad_arrays)
    with pytest.raises(ValueError, match="categories"):
        TablePreprocessor().fit(pd.DataFrame({"when": [pd.Timestamp(0), pd.Timestamp(1)]}, dtype=object))._get_state()

"""What the table probes of issues 21 and 23 found in the built-in preprocessing, one test per finding.

Each test failed on the code before its fix. Names follow the issues' items: I21_2
(columns that silently hurt), I21_4 (what the fitted preprocessing did), I23_3 (any
DataFrame, consistently). Out-of-core training (I23_4) is in tests/test_out_of_core.py,
the state API in tests/test_preprocessing.py.
"""

import datetime
import warnings

import numpy as np
import pandas as pd
import pytest

import sknoise
from sknoise import NoisyMLPClassifier, NoisyMLPRegressor, TablePreprocessor

from ._common import ESTIMATORS, each

FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, early_stopping=False, random_state=0)
# Three epochs are enough to see what the preprocessing does, not to learn.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def churn(n=600, seed=0):
    """A small churn-like table: numbers, a few categories, and the label."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "tenure": rng.integers(1, 72, n).astype(float),
        "charges": rng.lognormal(4, 0.5, n),
        "contract": rng.choice(["monthly", "yearly", "two-year"], n),
        "paperless": rng.random(n) < 0.5,
    })
    score = -df["tenure"] / 24 + 2 * (df["contract"] == "monthly") + rng.normal(0, 0.5, n)
    return df, np.where(score > 0.5, "churn", "stay")


# ============================================================================ I21_2: columns that silently hurt
def test_I21_2_an_identifier_column_warns_at_fit_and_says_what_to_do():
    df, y = churn()
    df["customer_id"] = [f"C{i:05d}-{i * 7919 % 10007}" for i in range(len(df))]
    with pytest.warns(sknoise.PreprocessingWarning, match=r"'customer_id'.*600 distinct values in 600 rows.*drop"):
        NoisyMLPClassifier(**FAST).fit(df, y)
    # The preprocessing alone says the same (the estimators fit it).
    with pytest.warns(sknoise.PreprocessingWarning, match="customer_id"):
        TablePreprocessor().fit(df)


def test_I21_2_dates_stored_as_text_warn_and_say_to_parse_them():
    df, y = churn()
    days = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(len(df)) * 3, unit="D")
    df["signup"] = days.strftime("%Y-%m-%d")
    with pytest.warns(sknoise.PreprocessingWarning, match=r"'signup'.*dates.*pd\.to_datetime"):
        TablePreprocessor().fit(df)


def test_I21_2_ordinary_categorical_columns_do_not_warn():
    rng = np.random.default_rng(0)
    many = pd.DataFrame({"zip": rng.choice([f"z{i:02d}" for i in range(40)], 400),  # 10% distinct
                         "x": rng.normal(size=400)})
    few_rows = pd.DataFrame({"letter": list("abcdefghijklmnopqrs") + list("abcdef"),  # 19 in 25 rows
                             "x": rng.normal(size=25)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", sknoise.PreprocessingWarning)
        TablePreprocessor().fit(many)
        TablePreprocessor().fit(few_rows)


@each([NoisyMLPClassifier, NoisyMLPRegressor])
def test_I21_2_a_column_that_changes_kind_between_fit_and_predict_is_named(cls):
    df, y = churn()
    y = (y == "churn").astype(float) if cls is NoisyMLPRegressor else y
    model = cls(**FAST).fit(df, y)
    text_as_numbers = df.head(5).assign(contract=np.arange(5.0))
    with pytest.raises(ValueError, match=r"'contract'.*categorical \(str\) in fit.*numeric \(float64\) now"):
        model.predict(text_as_numbers)
    numbers_as_text = df.head(5).assign(tenure=df["tenure"].head(5).astype(str))
    with pytest.raises(ValueError, match=r"'tenure'.*numeric \(float64\) in fit.*categorical \(str\) now"):
        model.predict(numbers_as_text)
    # A column with no value at all has no kind: missing values of any dtype are fine.
    all_missing = df.head(5).assign(tenure=[None] * 5, contract=[np.nan] * 5)
    assert len(model.predict(all_missing)) == 5


def test_I21_2_an_array_of_strings_suggests_a_dataframe():
    df, y = churn()
    with pytest.raises(ValueError, match=r"could not convert string.*DataFrame.*preprocessing='auto'"):
        NoisyMLPClassifier(**FAST).fit(df.to_numpy(), y)


@each(ESTIMATORS)
def test_I21_2_missing_labels_are_named_with_their_count(cls):
    df, y = churn(60)
    if "Regressor" in cls.__name__:
        y = (y == "churn").astype(float)
        y[[3, 17]] = np.nan
        with pytest.raises(ValueError, match=r"y has missing values in 2 of 60 rows"):
            cls(**FAST).fit(df, y)
        return
    y = y.astype(object)
    y[[3, 17, 20]] = None
    with pytest.raises(ValueError, match=r"y has missing values in 3 of 60 rows"):
        cls(**FAST).fit(df, y)
    y = np.where(y == "churn", 1.0, 0.0)
    y[5] = np.nan
    with pytest.raises(ValueError, match=r"y has missing values in 1 of 60 rows"):
        cls(**FAST, preprocessing=None).fit(df.select_dtypes("number"), y)


# ============================================================================ I21_4: what the preprocessing did
def test_I21_4_the_fitted_preprocessor_prints_what_it_did_with_each_column():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "age": np.where(rng.random(300) < 0.1, np.nan, rng.normal(40, 10, 300)),
        "income": rng.lognormal(10, 1, 300),
        "city": rng.choice(["Oslo", "Lima", None], 300),
        "zip": rng.choice([f"z{i:02d}" for i in range(30)], 300),
        "empty": np.full(300, np.nan),
    })
    clf = NoisyMLPClassifier(**FAST).fit(df, rng.choice(["a", "b"], 300))
    text = str(clf.preprocessor_)
    lines = {line.split()[0].strip("'"): line for line in text.splitlines()[1:]}
    assert "scaled (robust)" in lines["age"] and "missing indicator" in lines["age"]
    assert "scaled (robust)" in lines["income"] and "missing indicator" not in lines["income"]
    assert "one-hot (3 categories" in lines["city"]
    assert "embedded (31 codes" in lines["zip"]
    assert "dropped (never observed" in lines["empty"] and "missing indicator" in lines["empty"]
    names = clf.preprocessor_.get_feature_names_out()
    assert len(names) == clf.preprocessor_.transform(df).shape[1]
    assert list(names[:4]) == ["age", "income", "missingindicator_age", "missingindicator_empty"]
    assert {"city_Lima", "city_Oslo", "city_nan", "zip"} <= set(names)


# ============================================================================ I23_3: any DataFrame, consistently
@each([NoisyMLPClassifier, NoisyMLPRegressor])
def test_I23_3_a_model_fitted_on_an_array_takes_a_dataframe_by_position(cls, iris):
    X, y = iris
    model = cls(**FAST).fit(X, y)
    with pytest.warns(UserWarning, match=f"X has feature names, but {cls.__name__} was fitted without feature names"):
        from_frame = model.predict(pd.DataFrame(X, columns=list("abcd")))
    np.testing.assert_array_equal(from_frame, model.predict(X))
    # Integer column names are no feature names (scikit-learn's rule): renamed ones go by position.
    on_ints = cls(**FAST).fit(pd.DataFrame(X), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        renamed = on_ints.predict(pd.DataFrame(X, columns=[10, 11, 12, 13]))
    np.testing.assert_array_equal(renamed, on_ints.predict(X))


def mixed_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "x": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "n": rng.integers(0, 5, n),
        "city": rng.choice(["Oslo", "Lima", "Pune"], n),
        "member": rng.random(n) < 0.3,
    })
    y = np.where(frame["x"].fillna(0) + (frame["city"] == "Lima") > 0.5, "yes", "no")
    return frame, y


def test_I23_3_polars_frames_with_text_and_dates_are_taken_like_pandas():
    pl = pytest.importorskip("polars")
    frame, y = mixed_frame()
    native = pl.from_pandas(frame)
    clf = NoisyMLPClassifier(**FAST).fit(native, y)
    reference = NoisyMLPClassifier(**FAST).fit(frame, y)
    np.testing.assert_array_equal(clf.predict_proba(native), reference.predict_proba(frame))
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert clf.preprocessor_.categorical_columns_ == ["city", "member"]
    categorical = native.with_columns(pl.col("city").cast(pl.Categorical))
    np.testing.assert_array_equal(clf.predict_proba(categorical), reference.predict_proba(frame))
    dated = native.with_columns(pl.lit(datetime.datetime(2020, 1, 1)).alias("when"))
    with pytest.raises(ValueError, match=r"Column 'when' holds dates"):
        NoisyMLPClassifier(**FAST).fit(dated, y)


def test_I23_3_pyarrow_tables_are_taken_like_pandas():
    pa = pytest.importorskip("pyarrow")
    frame, y = mixed_frame()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    clf = NoisyMLPClassifier(**FAST).fit(table, y)
    reference = NoisyMLPClassifier(**FAST).fit(frame, y)
    np.testing.assert_array_equal(clf.predict_proba(table), reference.predict_proba(frame))


def test_I23_3_categories_match_by_value_not_by_their_text():
    rng = np.random.default_rng(0)
    n = 400
    code = rng.integers(1, 4, n)
    frame = pd.DataFrame({"x": rng.normal(size=n), "code": pd.Categorical(code), "flag": rng.random(n) < 0.5})
    y = np.where((code == 2) ^ frame["flag"].to_numpy(), "a", "b")
    clf = NoisyMLPClassifier(hidden_layer_sizes=(16,), max_epochs=40, lr=0.02, random_state=0).fit(frame, y)
    expected = clf.predict_proba(frame)
    # The same categories as floats (a join that brought NaN in) and the flags as 1/0 objects.
    as_floats = frame.assign(code=pd.Categorical(code.astype(float)))
    np.testing.assert_array_equal(clf.predict_proba(as_floats), expected)
    as_numbers = frame.assign(flag=frame["flag"].astype(int).astype(object))
    np.testing.assert_array_equal(clf.predict_proba(as_numbers), expected)
    # Text stays text: '2' is not the number 2.
    assert not clf.preprocessor_.transform(frame.assign(code=frame["code"].astype(str))).tolist() == \
        clf.preprocessor_.transform(frame).tolist()


def test_I23_3_a_dataframe_without_columns_is_refused():
    frame = pd.DataFrame(index=range(20))
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        NoisyMLPClassifier(**FAST).fit(frame, np.arange(20) % 2)
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        TablePreprocessor().fit(frame)


def test_I23_3_a_sparse_dataframe_gets_a_clear_error():
    frame = pd.DataFrame({"a": pd.arrays.SparseArray([0.0, 1.0, 0.0, 2.0] * 10), "b": np.arange(40.0)})
    with pytest.raises(TypeError, match=r"sparse column.*'a'.*sparse\.to_dense\(\)"):
        NoisyMLPClassifier(**FAST).fit(frame, np.arange(40) % 2)

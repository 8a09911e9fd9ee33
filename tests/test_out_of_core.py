"""Data larger than memory: partial_fit driven by dask-ml's Incremental, and by a loop over parquet row groups,
with the preprocessing fitted over all the data first (issue 23 item 4)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

import sknoise
from sknoise import NoisyMLPClassifier, NoisyMLPRegressor, TablePreprocessor

N_ROWS, CHUNK, PASSES = 6000, 1000, 5


@pytest.fixture(scope="module")
def table():
    X, y = make_classification(N_ROWS + 1000, 12, n_informative=6, random_state=0)
    X = X.astype(np.float32)
    return X[:N_ROWS], y[:N_ROWS], X[N_ROWS:], y[N_ROWS:]


def model():
    # One thread everywhere: the workers and this process then round alike.
    return NoisyMLPClassifier((32,), lr=3e-3, n_threads=1, random_state=0)


def test_dask_ml_incremental_trains_on_every_block_on_a_local_cluster(table):
    distributed = pytest.importorskip("distributed")
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y, X_test, y_test = table
    X_dask, y_dask = da.from_array(X, chunks=(CHUNK, -1)), da.from_array(y, chunks=CHUNK)
    assert X_dask.numblocks[0] == N_ROWS // CHUNK  # more than one chunk: never all in one fit call
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            incremental = wrappers.Incremental(model(), shuffle_blocks=False)
            for _ in range(PASSES):  # passes over the data, one partial_fit per block each
                incremental.partial_fit(X_dask, y_dask, classes=[0, 1])
            predicted = incremental.predict(da.from_array(X_test, chunks=CHUNK)).compute()
    fitted = incremental.estimator_
    assert fitted.n_iter_ == PASSES * N_ROWS // CHUNK  # one epoch per block and pass
    assert np.mean(predicted == y_test) > 0.85
    # The same blocks in the same order, locally, give the same model.
    local = model()
    for _ in range(PASSES):
        for start in range(0, N_ROWS, CHUNK):
            local.partial_fit(X[start:start + CHUNK], y[start:start + CHUNK], classes=[0, 1])
    np.testing.assert_allclose(local.predict_proba(X_test), fitted.predict_proba(X_test), rtol=1e-5, atol=1e-6)


def test_a_loop_over_parquet_row_groups_trains_a_regressor(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_ROWS, 5)).astype(np.float32)
    y = X @ np.array([1.0, -2.0, 0.5, 0.0, 3.0], dtype=np.float32) + 0.1 * rng.standard_normal(N_ROWS)
    path = tmp_path / "table.parquet"
    columns = {f"x{i}": X[:, i] for i in range(5)} | {"target": y}
    pq.write_table(pa.table(columns), path, row_group_size=CHUNK)
    source = pq.ParquetFile(path)
    assert source.num_row_groups == N_ROWS // CHUNK
    reg = NoisyMLPRegressor((32,), lr=3e-3, random_state=0)
    for _ in range(4):
        for group in range(source.num_row_groups):
            frame = source.read_row_group(group).to_pandas()
            reg.partial_fit(frame.drop(columns="target"), frame["target"])
    assert reg.n_iter_ == 4 * source.num_row_groups
    assert list(reg.feature_names_in_) == [f"x{i}" for i in range(5)]
    frame = source.read().to_pandas()
    assert reg.score(frame.drop(columns="target"), frame["target"]) > 0.9


def test_pickling_between_partial_fit_calls_changes_nothing(table):
    """A cluster ships the model between blocks: each call's noise must not restart."""
    import pickle

    X, y, X_test, _ = table
    kept, shipped = model(), model()
    for start in range(0, 3 * CHUNK, CHUNK):
        rows = slice(start, start + CHUNK)
        kept.partial_fit(X[rows], y[rows], classes=[0, 1])
        shipped = pickle.loads(pickle.dumps(shipped)).partial_fit(X[rows], y[rows], classes=[0, 1])
    np.testing.assert_array_equal(kept.predict_proba(X_test), shipped.predict_proba(X_test))


# ----------------------------------------------------------------------------- preprocessing that sees all the data
def late_table(n, seed, first_chunk=0):
    """The issue's probe: a category ('Rome') and a column ('late') that the first chunk lacks."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    city = rng.choice(["Oslo", "Lima", "Pune", "Rome"], n)
    late = rng.normal(size=n)
    shift = np.select([city == "Oslo", city == "Lima", city == "Pune", city == "Rome"], [1.5, -1.5, 0.0, 3.0])
    y = (x[:, 0] + 1.5 * late + shift + 0.3 * rng.normal(size=n) > 0.5).astype(int)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "city": city, "late": late})
    first = frame.index < first_chunk
    frame.loc[first & (frame["city"] == "Rome"), "city"] = "Pune"
    frame.loc[first, "late"] = np.nan
    return frame, y


def late_model(**params):
    return NoisyMLPClassifier((32,), lr=3e-3, n_threads=1, random_state=0, **params)


@pytest.fixture(scope="module")
def late():
    frame, y = late_table(N_ROWS, 0, first_chunk=CHUNK)
    test, y_test = late_table(2000, 1)
    full = late_model().fit(frame, y).score(test, y_test)
    return frame, y, test, y_test, full


@pytest.mark.parametrize("scaling", ["robust", "quantile", "standard"])
def test_partial_fit_over_chunks_fits_the_preprocessing_of_the_whole_table(scaling):
    frame, _ = late_table(N_ROWS, 0, first_chunk=CHUNK)
    whole = TablePreprocessor(numeric_scaling=scaling).fit(frame)
    chunked = TablePreprocessor(numeric_scaling=scaling)
    for start in range(0, N_ROWS, CHUNK):
        chunked.partial_fit(frame[start:start + CHUNK])
    assert chunked.categories_ == whole.categories_ == {"city": ["Lima", "Oslo", "Pune", "Rome"]}
    assert chunked.scaled_columns_ == whole.scaled_columns_ == ["x0", "x1", "x2", "late"]
    assert chunked.missing_indicator_columns_ == ["late"] and chunked.n_samples_seen_ == N_ROWS
    if scaling == "standard":  # means and variances merged chunk by chunk: equal up to rounding
        np.testing.assert_allclose(chunked.transform(frame), whole.transform(frame), rtol=1e-6, atol=1e-6)
    else:  # quantiles of every value (fewer than 100,000 per column): the same numbers
        np.testing.assert_array_equal(chunked.transform(frame), whole.transform(frame))
    # pyarrow tables and polars frames are chunks like any other.
    pa = pytest.importorskip("pyarrow")
    from_arrow = TablePreprocessor(numeric_scaling=scaling)
    for start in range(0, N_ROWS, CHUNK):
        from_arrow.partial_fit(pa.Table.from_pandas(frame[start:start + CHUNK], preserve_index=False))
    np.testing.assert_array_equal(from_arrow.transform(frame), chunked.transform(frame))


def test_partial_fit_refuses_chunks_that_disagree_and_a_preprocessor_without_its_statistics():
    frame, y = late_table(300, 0)
    pre = TablePreprocessor().partial_fit(frame[:100])
    with pytest.raises(ValueError, match=r"'city'.*categorical.*numeric"):
        pre.partial_fit(frame[100:200].assign(city=1.0))
    with pytest.raises(ValueError, match="feature names"):
        pre.partial_fit(frame[100:200].rename(columns={"x0": "other"}))
    clf = late_model(max_epochs=2).fit(frame, y)
    with pytest.raises(ValueError, match="fit a new TablePreprocessor with partial_fit"):
        clf.preprocessor_.partial_fit(frame)


def test_fitting_the_preprocessing_on_a_dask_dataframe_reduces_its_partitions():
    dd = pytest.importorskip("dask.dataframe")
    frame, _ = late_table(N_ROWS, 0, first_chunk=CHUNK)
    chunked = TablePreprocessor()
    for start in range(0, N_ROWS, CHUNK):
        chunked.partial_fit(frame[start:start + CHUNK])
    from_dask = TablePreprocessor().fit(dd.from_pandas(frame, npartitions=N_ROWS // CHUNK, sort=False))
    assert from_dask.categories_ == chunked.categories_ and from_dask.n_samples_seen_ == N_ROWS
    np.testing.assert_array_equal(from_dask.transform(frame), chunked.transform(frame))


def row_groups(tmp_path, frame, y):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "late.parquet"
    pq.write_table(pa.Table.from_pandas(frame.assign(target=y), preserve_index=False), path, row_group_size=CHUNK)
    return pq.ParquetFile(path)


def test_the_parquet_loop_with_a_preprocessing_fitted_over_all_row_groups_reaches_the_full_fit(late, tmp_path):
    frame, y, test, y_test, full = late
    source = row_groups(tmp_path, frame, y)
    # The recipe before: the preprocessing is fitted on the first row group, which lacks 'Rome' and 'late'.
    first_only = late_model()
    with pytest.warns(sknoise.PreprocessingWarning, match=r"never saw.*'Rome'.*'late'"):
        for _ in range(PASSES):
            for group in range(source.num_row_groups):
                table = source.read_row_group(group)
                first_only.partial_fit(table.drop_columns(["target"]), table["target"].to_numpy(), classes=[0, 1])
    assert first_only.score(test, y_test) < full - 0.1
    # The recipe now: one pass fits the preprocessing, then the model trains on it.
    pre = TablePreprocessor()
    for group in range(source.num_row_groups):
        pre.partial_fit(source.read_row_group(group).drop_columns(["target"]))
    model = late_model(preprocessing=pre)
    with warnings.catch_warnings():
        warnings.simplefilter("error", sknoise.PreprocessingWarning)
        for _ in range(PASSES):
            for group in range(source.num_row_groups):
                table = source.read_row_group(group)
                model.partial_fit(table.drop_columns(["target"]), table["target"].to_numpy(), classes=[0, 1])
    assert model.score(test, y_test) > full - 0.02, (model.score(test, y_test), full)
    rome = (test["city"] == "Rome").to_numpy()
    assert model.score(test[rome], y_test[rome]) > 0.9


def test_dask_ml_incremental_with_a_preprocessing_fitted_on_the_cluster_reaches_the_full_fit(late):
    distributed = pytest.importorskip("distributed")
    dd = pytest.importorskip("dask.dataframe")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    from sklearn.frozen import FrozenEstimator

    frame, y, test, y_test, full = late
    X_dask = dd.from_pandas(frame, npartitions=N_ROWS // CHUNK, sort=False)
    y_dask = dd.from_pandas(pd.Series(y), npartitions=N_ROWS // CHUNK, sort=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster):
            pre = TablePreprocessor().fit(X_dask)  # partitions summarized on the workers, merged there
            # Blocks shuffled (dask-ml's default): the preprocessing no longer depends on which comes first.
            incremental = wrappers.Incremental(late_model(preprocessing=FrozenEstimator(pre)), random_state=0)
            for _ in range(PASSES):
                incremental.partial_fit(X_dask, y_dask, classes=[0, 1])
    fitted = incremental.estimator_
    assert fitted.preprocessor_.categories_ == {"city": ["Lima", "Oslo", "Pune", "Rome"]}
    assert fitted.score(test, y_test) > full - 0.02, (fitted.score(test, y_test), full)


def test_an_unfitted_or_unsuitable_preprocessing_is_refused_with_what_to_do(late):
    from sklearn.base import clone

    frame, y, *_ = late
    pre = TablePreprocessor().fit(frame)
    with pytest.raises(ValueError, match="FrozenEstimator"):
        clone(late_model(preprocessing=pre)).fit(frame, y)
    from sknoise import NoisyEBMClassifier

    embedded = TablePreprocessor(max_onehot=2).fit(frame)
    with pytest.raises(ValueError, match="max_onehot=None"):
        NoisyEBMClassifier(preprocessing=embedded, max_epochs=1).fit(frame, y)


def test_the_estimator_keeps_its_own_copy_of_the_given_preprocessing(late):
    import pickle

    frame, y, test, *_ = late
    pre = TablePreprocessor().partial_fit(frame[:3000])
    model = late_model(max_epochs=2, preprocessing=pre).fit(frame, y)
    before = model.predict_proba(test)
    pre.partial_fit(frame[3000:])  # the user's preprocessor goes on; the model's does not
    np.testing.assert_array_equal(model.predict_proba(test), before)
    assert model.preprocessing is pre and model.preprocessor_ is not pre
    # The model keeps no sample of the data for partial_fit's statistics: its pickle stays small.
    assert len(pickle.dumps(model.preprocessor_)) < len(pickle.dumps(pre)) / 10

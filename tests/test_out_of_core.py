"""Data larger than memory: partial_fit driven by dask-ml's Incremental, and by a loop over parquet row groups."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

from sknoise import NoisyMLPClassifier, NoisyMLPRegressor

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

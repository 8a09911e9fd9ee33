"""Failure paths a reliability probe found (issue 21, item 3), one test per finding.

Each test failed on the code before its fix. F1: held-out rows without weight; F2:
extreme finite values and the errors they gave; F3: a failed ``partial_fit`` and the
random streams. (F4, the fit's memory with early stopping, is in ``test_fit_memory.py``;
F5, the optuna worker's password, in ``test_postgres.py``.)
"""

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from torch.utils.data import Subset

from sknoise import NoisyMLPRegressor, TrainingDivergedError
from sknoise._runtime._data import Rows, TensorBatches

from ._common import CLASSIFIERS, ESTIMATORS, REGRESSORS, each

FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, early_stopping=False, random_state=0)


def fast(cls, **params):
    return cls(**{**FAST, **params})


def data_for(cls, iris):
    """iris for classifiers; for regressors, a petal measure as the target."""
    X, y = iris
    return (X, y) if cls in CLASSIFIERS else (X[:, :3], X[:, 3] + 0.1 * y)


class CountEpochs(Callback):
    def __init__(self):
        self.started = 0

    def on_epoch_begin(self, net, **kwargs):
        self.started += 1


class FailMidEpoch(Callback):
    """Raise in the middle of an epoch's batches while ``armed`` (set between calls)."""

    def __init__(self):
        self.armed = False

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if self.armed and training and len(net.history[-1]["batches"]) == 2:
            raise RuntimeError("a callback failed mid-epoch")


# ============================================================================ F1: weightless validation
@each(ESTIMATORS)
def test_F1_held_out_rows_that_all_weigh_zero_are_refused_before_training(cls, iris):
    X, y = data_for(cls, iris)
    # Five weighted rows out of 150: the 15 held out may all weigh zero.
    rng = np.random.default_rng(0)
    w = np.zeros(len(y))
    w[rng.choice(len(y), 5, replace=False)] = 1.0
    counter = CountEpochs()
    clf = cls(hidden_layer_sizes=(8,), max_epochs=3, random_state=0, callbacks=[counter])
    message = r"held out.*validation_fraction=0\.1.*zero.*sample_weight.*early_stopping=False"
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y, sample_weight=w)
    assert counter.started == 0  # refused up front, not after the epochs
    assert not hasattr(clf, "net_")
    # Without early stopping the same weights train.
    fast(cls).fit(X, y, sample_weight=w)


@each(CLASSIFIERS)
def test_F1_a_class_weight_of_zero_for_the_held_out_rows_is_named(cls, iris):
    X, y = iris
    # Only class 2 counts, and one of its rows: the stratified held-out rows cannot all be of it.
    keep = np.r_[np.flatnonzero(y < 2), np.flatnonzero(y == 2)[:1]]
    w = np.ones(len(keep))
    with pytest.raises(ValueError, match=r"held out.*zero.*class_weight"):
        cls(hidden_layer_sizes=(8,), max_epochs=3, random_state=0, class_weight={0: 0.0, 1: 0.0}).fit(
            X[keep], y[keep], sample_weight=w)


@each(CLASSIFIERS)
def test_F1_class_weights_that_zero_every_row_are_refused(cls, iris):
    X, y = iris
    keep = y < 2
    with pytest.raises(ValueError, match=r"Every row weighs zero under class_weight"):
        fast(cls, class_weight={0: 0.0, 1: 0.0}).fit(X[keep], y[keep])


# ============================================================================ F2: extreme finite values
@pytest.mark.parametrize("magnitude", [1e160, 1e200])
def test_F2_a_huge_regression_target_names_its_magnitude(iris, magnitude):
    X, _ = iris
    y = X[:, 0] * magnitude
    with pytest.raises(ValueError, match=r"target overflows float64.*e\+(160|200).*rescale y") as info:
        fast(NoisyMLPRegressor).fit(X, y)
    assert "NaN" not in str(info.value)


@each(ESTIMATORS)
@pytest.mark.parametrize("magnitude", [1e160, 1e300])
def test_F2_a_feature_whose_standard_scaling_overflows_is_named(cls, iris, magnitude):
    X, y = data_for(cls, iris)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame.loc[4, "x1"] = magnitude
    clf = fast(cls, numeric_scaling="standard")
    # 1e160: the scaled values overflow float32 (training diverged, blaming the noise);
    # 1e300: the variance overflows and the column silently became zeros.
    with pytest.raises(ValueError, match=r"(?s)'x1'.*numeric_scaling='standard'.*overflow"):
        clf.fit(frame, y)
    with pytest.raises(ValueError, match=r"(?s)column 1.*numeric_scaling='standard'"):
        clf.fit(frame.to_numpy(), y)
    # The robust scaling (the default) clips such a value and trains.
    fast(cls).fit(frame, y)


@each(CLASSIFIERS[:1])
def test_F2_a_column_too_small_for_its_scaling_is_named_as_such(cls, iris):
    X, y = iris
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    frame["x2"] *= 1e-300  # its spread underflows: the scaled column became zeros, silently
    with pytest.raises(ValueError, match=r"(?s)'x2'.*zeros.*too small.*[Rr]escale") as info:
        fast(cls, numeric_scaling="standard").fit(frame, y)
    assert "overflow" not in str(info.value)


@each(ESTIMATORS)
@pytest.mark.parametrize("factor", [2.0**130, 2.0**-140], ids=["beyond_float32", "below_float32"])
def test_F2_sample_weights_outside_float32_train_as_their_ratios(cls, iris, factor):
    X, y = data_for(cls, iris)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    # Only the ratios of the weights matter: the same model, bit for bit.
    reference = fast(cls).fit(X, y, sample_weight=w)
    scaled = fast(cls).fit(X, y, sample_weight=w * factor)
    predict = "predict_proba" if cls in CLASSIFIERS else "predict"
    np.testing.assert_array_equal(getattr(scaled, predict)(X), getattr(reference, predict)(X))


# ============================================================================ F3: the streams of a failed call
@each(ESTIMATORS)
@pytest.mark.parametrize("failure", ["callback", "divergence"])
def test_F3_a_failed_partial_fit_leaves_the_next_call_as_without_it(cls, iris, failure):
    X, y = data_for(cls, iris)
    kwargs = {} if cls in REGRESSORS else {"classes": np.unique(y)}
    params = dict(hidden_layer_sizes=(8,), noise="gaussian", noise_scale=0.2, batch_size=32, random_state=0)
    reference = cls(**params, callbacks=[FailMidEpoch()]).partial_fit(X, y, **kwargs)
    reference.partial_fit(X, y)
    failing = FailMidEpoch()
    clf = cls(**params, callbacks=[failing]).partial_fit(X, y, **kwargs)
    if failure == "callback":
        failing.armed = True
        with pytest.raises(RuntimeError, match="mid-epoch"):
            clf.partial_fit(X, y)
        failing.armed = False
    else:
        clf.set_params(noise="cauchy", noise_scale=1e30, lr=1.0)
        with pytest.raises(TrainingDivergedError):
            clf.partial_fit(X, y)
        clf.set_params(noise="gaussian", noise_scale=0.2, lr=params.get("lr", reference.lr))
    clf.partial_fit(X, y)
    assert clf.n_iter_ == reference.n_iter_ == 2
    ref_weights = reference.net_.module_.state_dict()
    assert all(torch.equal(v, ref_weights[k]) for k, v in clf.net_.module_.state_dict().items())


# ============================================================================ F4 (the batches of an index split)
@pytest.mark.parametrize("shuffle, per_class", [(False, False), (True, False), (True, True), (False, True)])
def test_F4_batches_of_an_index_split_hold_the_rows_of_the_copied_split(shuffle, per_class):
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.standard_normal((300, 4)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 3, 300))
    w = torch.from_numpy(rng.uniform(0, 1, 300).astype(np.float32))
    index = torch.from_numpy(np.sort(rng.choice(300, 200, replace=False)))
    table = {"X": X, "sample_weight": w}
    copied = Dataset({"X": X[index], "sample_weight": w[index]}, y[index])
    by_index = Subset(Dataset(table, y), index)
    batches = [TensorBatches(d, 32, shuffle=shuffle, per_class=per_class,
                             generator=torch.Generator().manual_seed(5)) for d in (copied, by_index)]
    assert len(batches[0]) == len(batches[1])
    for (xa, ya), (xb, yb) in zip(*batches, strict=True):
        assert torch.equal(xa["X"], xb["X"]) and torch.equal(xa["sample_weight"], xb["sample_weight"])
        assert torch.equal(ya, yb)
    rows = Rows(X, y, w).subset(index)
    assert len(rows) == 200 and torch.equal(rows.X, X[index]) and torch.equal(rows.subset([3, 1]).y, y[index[[3, 1]]])

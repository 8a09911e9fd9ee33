"""Reliability audit (issue 7) across every exported estimator.

Bad data, bad hyperparameters, divergence, persistence, determinism, interruption
(Ctrl-C) and the memory bound of Monte-Carlo inference. Where the right behaviour is
an error, the test checks that the message names the parameter or the data problem.
Loading a CUDA-fitted model without CUDA is covered by ``tests/test_cuda.py``.
"""

import copy
import json
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from sknoise import TrainingDivergedError, TrainingDivergedWarning

from ._common import CLASSIFIERS as ESTIMATORS
from ._common import each

by_name = each(ESTIMATORS)

# noise="gaussian": noise="auto" (the MLP's default) leaves small tables without noise.
FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, early_stopping=False, random_state=0, noise="gaussian")
# Cauchy noise this large makes the loss overflow within a few SGD steps.
DIVERGING = dict(noise="cauchy", noise_scale=1e30, optimizer="sgd", lr=1.0)


def fast(cls, **params):
    return cls(**{**FAST, **params})


def module_weights(clf) -> dict:
    return {k: v.clone() for k, v in clf.net_.module_.state_dict().items()}


def assert_finished_epochs_only(clf) -> None:
    """Every history row is a finished epoch with a finite training loss."""
    history = clf.history_
    assert clf.n_iter_ == len(history)
    assert all(np.isfinite(row["train_loss"]) for row in history)
    assert [row["epoch"] for row in history] == list(range(1, len(history) + 1))


# ----------------------------------------------------------------------------- bad data
@by_name
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X_is_refused_at_fit_and_predict(cls, iris, bad):
    X, y = iris
    X_bad = X.copy()
    X_bad[5, 2] = bad
    # Without preprocessing the network needs finite numbers.
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        fast(cls, preprocessing=None).fit(X_bad, y)
    clf = fast(cls, preprocessing=None).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        clf.predict_proba(X_bad)
    # The built-in preprocessing imputes missing values, and names infinite ones.
    if np.isnan(bad):
        assert np.isfinite(fast(cls).fit(X_bad, y).predict_proba(X_bad)).all()
    else:
        with pytest.raises(ValueError, match="infinity"):
            fast(cls).fit(X_bad, y)
        frame = pd.DataFrame(X_bad, columns=list("abcd"))
        with pytest.raises(ValueError, match=r"infinity in column\(s\) \['c'\]"):
            fast(cls).fit(frame, y)
        with pytest.raises(ValueError, match="infinity"):
            fast(cls).fit(X, y).predict_proba(X_bad)


@by_name
def test_other_number_of_features_at_predict_is_refused(cls, iris):
    X, y = iris
    clf = fast(cls).fit(X, y)
    for X_other in (X[:, :3], np.hstack([X, X[:, :1]])):
        with pytest.raises(ValueError, match=f"X has {X_other.shape[1]} features.*expecting 4 features"):
            clf.predict(X_other)


@by_name
def test_a_single_class_is_refused(cls, iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"at least 2 classes.*only 1 class: \['setosa'\]"):
        fast(cls).fit(X[:20], np.full(20, "setosa"))
    # partial_fit too, unless `classes` announces the others.
    with pytest.raises(ValueError, match="only 1 class"):
        fast(cls).partial_fit(X[:20], y[:20])
    assert fast(cls).partial_fit(X[:20], y[:20], classes=[0, 1, 2]).classes_.tolist() == [0, 1, 2]


@by_name
def test_empty_X_is_refused(cls):
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        fast(cls).fit(np.empty((0, 4)), np.empty(0))


@by_name
def test_nan_in_y_is_refused(cls, iris):
    X, y = iris
    y_bad = y.astype(float)
    y_bad[7] = np.nan
    # Named as y, with the number of rows (issue 21): scikit-learn's "Input y contains NaN" said neither.
    with pytest.raises(ValueError, match=r"y has missing values in 1 of 150 rows \(None or NaN"):
        fast(cls).fit(X, y_bad)


@by_name
def test_object_columns(cls, iris):
    X, y = iris
    # Numbers stored as objects are converted and train the very same network.
    clf_object = fast(cls).fit(X.astype(object), y)
    np.testing.assert_array_equal(clf_object.predict_proba(X), fast(cls).fit(X, y).predict_proba(X))
    # Text in a DataFrame is a categorical column for the built-in preprocessing ...
    frame = pd.DataFrame(X, columns=list("abcd")).assign(colour="red")
    assert fast(cls).fit(frame, y).predict_proba(frame).shape == (len(X), 3)
    # ... and refused, naming the offending value, without it.
    with pytest.raises(ValueError, match="could not convert string to float: 'red'"):
        fast(cls, preprocessing=None).fit(frame, y)


@by_name
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_X_is_refused_clearly(cls, iris, fmt):
    X, y = iris
    with pytest.raises(TypeError, match=r"Sparse data was passed.*dense data is required.*toarray"):
        fast(cls).fit(sp.csr_matrix(X).asformat(fmt), y)
    clf = fast(cls).fit(X, y)
    with pytest.raises(TypeError, match="dense data is required"):
        clf.predict(sp.csr_matrix(X).asformat(fmt))


@by_name
def test_labels_unseen_by_the_first_partial_fit_are_named(cls, iris):
    X, y = iris
    labels = np.array(["cat", "dog", "zebra"])[y]
    clf = fast(cls).partial_fit(X[y < 2], labels[y < 2])
    before = module_weights(clf)
    with pytest.raises(ValueError, match=r"not seen.*\['zebra'\].*known classes are \['cat', 'dog'\].*classes"):
        clf.partial_fit(X, labels)
    # The refused call did not train.
    assert clf.n_iter_ == 1
    assert all(torch.equal(before[k], v) for k, v in clf.net_.module_.state_dict().items())


@by_name
def test_score_counts_unseen_labels_as_errors(cls, iris):
    """score follows scikit-learn: labels outside classes_ are never predicted, so they count as wrong."""
    X, y = iris
    clf = fast(cls).fit(X[y < 2], y[y < 2])
    assert clf.score(X, y) == pytest.approx(np.mean(clf.predict(X) == y))
    assert clf.score(X[y == 2], y[y == 2]) == 0.0


# ----------------------------------------------------------------------------- bad hyperparameters
@by_name
@pytest.mark.parametrize(
    "params, name",
    [
        (dict(noise_scale=-0.5), "noise_scale"),
        (dict(noise="bogus"), "noise"),
        (dict(inference_noise="bogus"), "inference_noise"),
        (dict(inference_noise_scale=-1.0), "inference_noise_scale"),
        (dict(n_inference_samples=0), "n_inference_samples"),
        (dict(n_inference_samples=2.5), "n_inference_samples"),
        (dict(inference_memory_mb=0), "inference_memory_mb"),
        (dict(hidden_layer_sizes=0), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=(8, -3)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=(2.5,)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes="wide"), "hidden_layer_sizes"),
        (dict(lr=-1.0), "lr"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(optimizer="lbfgs"), "optimizer"),
    ],
)
def test_bad_hyperparameters_raise_a_value_error_naming_them(cls, iris, params, name):
    X, y = iris
    with pytest.raises(ValueError, match=f"\\b{name}\\b"):
        fast(cls, **params).fit(X, y)
    # Checked before any training state exists.
    clf = fast(cls, **params)
    with pytest.raises(ValueError, match=f"\\b{name}\\b"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "net_")


@by_name
def test_a_layer_too_large_to_allocate_is_a_value_error(cls, iris):
    X, y = iris
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        fast(cls, hidden_layer_sizes=(10**12,)).fit(X, y)


@by_name
@pytest.mark.parametrize(
    "params, name",
    [
        (dict(n_inference_samples=0), "n_inference_samples"),
        (dict(inference_noise_scale=-1.0), "inference_noise_scale"),
        (dict(inference_memory_mb=-1.0), "inference_memory_mb"),
    ],
)
def test_bad_inference_parameters_set_after_fit_raise_at_predict(cls, iris, params, name):
    X, y = iris
    clf = fast(cls, inference_noise="same", noise_scale=0.3, n_inference_samples=4).fit(X, y)
    clf.set_params(**params)
    with pytest.raises(ValueError, match=name):
        clf.predict_proba(X)


# ----------------------------------------------------------------------------- divergence
@by_name
def test_on_divergence_is_a_parameter(cls):
    assert cls().get_params()["on_divergence"] == "raise"


@by_name
def test_divergence_raises_naming_the_noise_settings(cls, iris):
    X, y = iris
    clf = fast(cls, **DIVERGING)
    with pytest.raises(TrainingDivergedError, match=r"diverged.*(nan|inf).*noise='cauchy', noise_scale=1e\+30"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")  # no diverged network is kept
    # Retrying with sane settings works on the same object.
    clf.set_params(noise="gaussian", noise_scale=0.1, optimizer="adam", lr=0.05, max_epochs=20)
    assert clf.fit(X, y).score(X, y) > 0.8


@by_name
def test_a_diverged_fit_leaves_an_unfitted_estimator(cls, iris):
    X, y = iris
    clf = fast(cls, **DIVERGING)
    with pytest.raises(TrainingDivergedError):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)


@by_name
def test_divergence_with_warn_keeps_the_last_finished_epoch(cls, iris):
    X, y = iris
    clf = fast(cls, **DIVERGING, max_epochs=20, on_divergence="warn")
    with pytest.warns(TrainingDivergedWarning, match=r"noise='cauchy', noise_scale=1e\+30.*last finished epoch"):
        clf.fit(X, y)
    assert clf.n_iter_ < 20  # stopped early
    assert_finished_epochs_only(clf)
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


@by_name
def test_divergence_in_the_first_epoch_with_warn_gives_empty_curves(cls, iris):
    X, y = iris
    clf = fast(cls, **DIVERGING, batch_size=16, on_divergence="warn")
    with pytest.warns(TrainingDivergedWarning):
        clf.fit(X, y)
    assert clf.n_iter_ == 0
    assert clf.loss_curve_ == []


@by_name
# 'raise' misses a blow-up in the last epoch; 'warn' keeps an epoch whose last step blew up.
@pytest.mark.parametrize("on_divergence, max_epochs", [("raise", 1), ("warn", 3)])
def test_a_step_that_blows_up_the_weights_never_leaves_a_garbage_model(cls, iris, on_divergence, max_epochs):
    X, y = iris
    # One full batch per epoch; a huge learning rate sends the weights past float32 range in one step.
    clf = fast(cls, optimizer="sgd", momentum=0.0, lr=1e38, max_epochs=max_epochs, on_divergence=on_divergence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TrainingDivergedWarning)
        try:
            clf.fit(X, y)
        except TrainingDivergedError:
            return  # refusing to return a model is fine
    assert np.isfinite(clf.predict_proba(X)).all()


# ----------------------------------------------------------------------------- persistence
@by_name
@pytest.mark.parametrize("inference_noise", [None, "same"])
@pytest.mark.parametrize("dumper", ["pickle", "joblib"])
def test_pickle_and_joblib_round_trips_predict_identically(cls, iris, tmp_path, inference_noise, dumper):
    X, y = iris
    labels = np.array(["a", "b", "c"])[y]
    clf = fast(cls, noise_scale=0.3, inference_noise=inference_noise, n_inference_samples=8).fit(X, labels)
    proba, std = clf.predict_proba(X, return_std=True)
    if dumper == "pickle":
        loaded = pickle.loads(pickle.dumps(clf))
    else:
        joblib.dump(clf, tmp_path / "clf.joblib")
        loaded = joblib.load(tmp_path / "clf.joblib")
    loaded_proba, loaded_std = loaded.predict_proba(X, return_std=True)
    np.testing.assert_array_equal(loaded_proba, proba)
    np.testing.assert_array_equal(loaded_std, std)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.get_params() == clf.get_params()
    # Every noise source shares the network's one rng again after loading.
    module = loaded.net_.module_
    assert all(m.rng is module.noise_rng for m in module.modules() if hasattr(m, "rng"))
    # The loaded model can keep training.
    loaded.partial_fit(X, labels)
    assert loaded.n_iter_ == clf.n_iter_ + 1


@by_name
def test_skorch_save_params_and_load_params(cls, iris, tmp_path):
    X, y = iris
    clf = fast(cls, max_epochs=5).fit(X, y)
    files = {name: str(tmp_path / f"{name}.pt") for name in ("f_params", "f_optimizer")}
    files["f_history"] = str(tmp_path / "history.json")
    clf.net_.save_params(**files)
    # A clone fitted with another seed holds other weights until it loads the saved ones.
    other = clone(clf).set_params(random_state=1, max_epochs=2).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), clf.predict_proba(X))
    other.net_.load_params(**files)
    saved, loaded = clf.net_.module_.state_dict(), other.net_.module_.state_dict()
    assert saved.keys() == loaded.keys() and all(torch.equal(saved[k], loaded[k]) for k in saved)
    assert other.n_iter_ == 5 and other.loss_curve_ == pytest.approx(clf.loss_curve_)
    np.testing.assert_array_equal(other.predict(X), clf.predict(X))
    if not hasattr(clf, "temperature_"):  # save_params holds the torch state only, not estimator attributes
        np.testing.assert_array_equal(other.predict_proba(X), clf.predict_proba(X))


# ----------------------------------------------------------------------------- determinism
@by_name
def test_same_random_state_same_predictions_monte_carlo_included(cls, iris):
    X, y = iris
    params = dict(noise_scale=0.3, inference_noise="same", n_inference_samples=16, random_state=7)
    a, b = fast(cls, **params).fit(X, y), fast(cls, **params).fit(X, y)
    proba_a, std_a = a.predict_proba(X, return_std=True)
    proba_b, std_b = b.predict_proba(X, return_std=True)
    np.testing.assert_array_equal(proba_a, proba_b)
    np.testing.assert_array_equal(std_a, std_b)
    assert (std_a > 0).any()  # the passes really were noisy
    # Repeated predictions of one model repeat too.
    np.testing.assert_array_equal(a.predict_proba(X), proba_a)


@by_name
def test_different_random_state_gives_different_noise(cls, iris):
    X, y = iris
    params = dict(noise_scale=0.3, inference_noise="same", n_inference_samples=16)
    a = fast(cls, random_state=0, **params).fit(X, y)
    b = fast(cls, random_state=1, **params).fit(X, y)
    seeds_a, seeds_b = a.net_.module_.noise_rng.seeds, b.net_.module_.noise_rng.seeds
    assert seeds_a["train"] != seeds_b["train"] and seeds_a["inference"] != seeds_b["inference"]
    # Same weights, b's inference seed: other Monte-Carlo draws, hence other probabilities.
    c = copy.deepcopy(a)
    c.net_.module_.noise_rng.reseed("inference", seeds_b["inference"])
    assert np.abs(c.predict_proba(X) - a.predict_proba(X)).max() > 1e-4
    c.net_.module_.noise_rng.reseed("inference", seeds_a["inference"])
    np.testing.assert_array_equal(c.predict_proba(X), a.predict_proba(X))


# ----------------------------------------------------------------------------- interruption (Ctrl-C)
class InterruptAt(Callback):
    """Raise KeyboardInterrupt (what Ctrl-C raises) in the middle of an epoch."""

    def __init__(self, epoch: int, batch: int) -> None:
        self.epoch = epoch
        self.batch = batch
        self.fired = False

    def on_batch_end(self, net, batch=None, training=None, **kwargs) -> None:
        at = len(net.history) == self.epoch and len(net.history[-1]["batches"]) == self.batch
        if training and at and not self.fired:
            self.fired = True  # once, like one press of Ctrl-C
            raise KeyboardInterrupt


@by_name
def test_ctrl_c_mid_epoch_keeps_the_model_of_the_last_finished_epoch(cls, iris):
    X, y = iris
    params = dict(max_epochs=10, batch_size=32, noise_scale=0.2)
    clf = fast(cls, callbacks=[InterruptAt(epoch=3, batch=2)], **params).fit(X, y)
    assert clf.n_iter_ == 2
    assert_finished_epochs_only(clf)
    # Exactly the model that two uninterrupted epochs give.
    reference = fast(cls, **{**params, "max_epochs": 2}).fit(X, y)
    ref_weights = reference.net_.module_.state_dict()
    assert all(torch.equal(v, ref_weights[k]) for k, v in clf.net_.module_.state_dict().items())
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
    # Training continues from there.
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 3


SIGINT_SCRIPT = textwrap.dedent(
    """
    import pickle, signal, sys
    from sklearn.datasets import make_classification
    import sknoise

    # A process started in the background by a non-interactive shell inherits SIGINT as
    # ignored; restore Python's own handler so that the signal raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cls = getattr(sknoise, sys.argv[1])
    X, y = make_classification(n_samples=3000, n_features=10, n_informative=5, random_state=0)
    clf = cls(hidden_layer_sizes=(32,), max_epochs=100000, batch_size=64, early_stopping=False,
              random_state=0, verbose=1)
    clf.fit(X, y)
    with open(sys.argv[2], "wb") as f:
        pickle.dump(clf, f)
    print("SAVED", clf.n_iter_, flush=True)
    """
)


@pytest.mark.slow
@by_name
def test_real_sigint_during_fit_leaves_a_usable_model(cls, tmp_path):
    """Send SIGINT to a process fitting a model once its first epoch is logged, as Ctrl-C would."""
    path = tmp_path / "clf.pkl"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", SIGINT_SCRIPT, cls.__name__, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:  # skorch's table: one row per finished epoch, "1 <loss> <dur>" first
            lines.append(line)
            if line.split()[:1] == ["1"]:
                proc.send_signal(signal.SIGINT)
                break
            assert time.monotonic() < deadline, "".join(lines)
        out, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    output = "".join(lines) + out
    assert proc.returncode == 0, output[-3000:]
    assert "SAVED" in output, output[-3000:]
    with open(path, "rb") as f:
        clf = pickle.load(f)
    assert 1 <= clf.n_iter_ < 100000
    assert_finished_epochs_only(clf)
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=3000, n_features=10, n_informative=5, random_state=0)
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all() and clf.score(X, y) > 0.6
    # Its weights are those of its last finished epoch: an uninterrupted fit of that many epochs.
    reference = cls(
        hidden_layer_sizes=(32,), max_epochs=clf.n_iter_, batch_size=64, early_stopping=False, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(proba, reference.predict_proba(X), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- memory
MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import sknoise
    from sknoise.nn._inference import plan_chunks

    name, n_rows, hidden = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    budget = None if sys.argv[4] == "None" else float(sys.argv[4])
    n_features, n_classes, T = 4, 2, 64
    cls = getattr(sknoise, name)
    rng = np.random.default_rng(0)
    X_train = rng.normal(size=(300, n_features)).astype(np.float32)
    y_train = (X_train[:, 0] > 0).astype(int)
    # noise="gaussian": noise="auto" (the MLP's default) leaves 300 rows without noise (one pass).
    extra = {"noise_placement": "input", "noise": "gaussian"} if name == "NoisyMLPClassifier" else {}
    clf = cls(hidden_layer_sizes=(hidden,), max_epochs=2, early_stopping=False, random_state=0,
              inference_noise="same", n_inference_samples=T, inference_memory_mb=budget, **extra)
    clf.fit(X_train, y_train)
    X = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    widths = clf._layer_widths_
    plan = plan_chunks(T, widths, clf._inference_budget_bytes())
    rows = plan.rows
    def status_kib(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key))

    # The peak of the prediction itself: reset the high-water mark that fit left (Linux),
    # else a fit that peaked higher would hide the prediction's memory.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        baseline, read_peak = status_kib("VmRSS") * 1024, lambda: status_kib("VmHWM") * 1024
    except OSError:
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        read_peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    proba = clf.predict_proba(X)
    peak = read_peak()
    assert proba.shape == (n_rows, n_classes) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    print(json.dumps({
        "baseline": baseline, "peak": peak, "n_rows": n_rows, "n_features": n_features,
        "n_classes": n_classes, "chunk_rows": rows,
        # The documented size of one chunk (plan_chunks): T copies of each row, the input
        # plus three tensors of the widest layer, float32; never above the budget.
        "chunk_bytes": rows * plan.passes * 4 * (widths[0] + 3 * max(widths)),
        "budget_bytes": clf._inference_budget_bytes(),
    }))
    """
)

# Per estimator: hidden widths of a small network (1M rows) and of a wide one whose
# chunk is large enough for the memory budget to matter.
MEMORY_HIDDEN = {"NoisyEBMClassifier": (8, 128)}


def measure_predict_memory(cls, n_rows: int, hidden: int, budget_mb) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, cls.__name__, str(n_rows), str(hidden), str(budget_mb)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    m = json.loads(done.stdout.strip().splitlines()[-1])
    # Input/output arrays: one float32 copy of X; the per-chunk results, their concatenation
    # and the float64 result, for the probabilities and their spread (8 bytes each at most).
    m["io_bytes"] = m["n_rows"] * m["n_features"] * 4 + 2 * 3 * m["n_rows"] * m["n_classes"] * 8
    # The bound the documentation implies: what was there before, the arrays, one chunk
    # (x2 for the temporaries the estimate leaves out) and 64 MiB of allocator slack.
    m["bound"] = m["baseline"] + m["io_bytes"] + 2 * m["chunk_bytes"] + 64 * 2**20
    m["increase"] = m["peak"] - m["baseline"]
    print({k: (round(v / 2**20, 1) if isinstance(v, int) and v > 2**20 else v) for k, v in m.items()})
    return m




@pytest.mark.slow
@by_name
def test_predict_proba_of_a_million_rows_with_T64_stays_within_the_documented_bound(cls):
    small, _ = MEMORY_HIDDEN.get(cls.__name__, (8, 256))
    m = measure_predict_memory(cls, 1_000_000, small, None)
    assert m["chunk_bytes"] <= m["budget_bytes"]
    # Without chunking the 64M row-passes alone would take several GiB.
    assert m["peak"] <= m["bound"], f"peak {m['peak'] / 2**20:.0f} MiB > bound {m['bound'] / 2**20:.0f} MiB"


@pytest.mark.slow
@by_name
def test_a_smaller_inference_memory_budget_gives_a_smaller_peak(cls):
    _, wide = MEMORY_HIDDEN.get(cls.__name__, (8, 256))
    large = measure_predict_memory(cls, 10_000, wide, None)
    small = measure_predict_memory(cls, 10_000, wide, 8)
    assert large["chunk_bytes"] > 20 * small["chunk_bytes"]
    assert small["peak"] <= small["bound"] and large["peak"] <= large["bound"]
    # The chunk is what the budget controls: a far smaller budget, a far smaller increase.
    assert small["increase"] < large["increase"] / 4


# ----------------------------------------------------------------------------- tiny data
@by_name
def test_one_row_with_early_stopping_trains_or_names_the_parameter(cls, iris):
    X, y = iris
    clf = fast(cls, early_stopping=True)
    try:
        clf.partial_fit(X[:1], y[:1], classes=[0, 1, 2])
    except ValueError as error:
        assert "early_stopping" in str(error) or "validation_fraction" in str(error)
    else:
        assert clf.n_iter_ == 1


@by_name
def test_early_stopping_split_adapts_to_later_partial_fit_batches(cls, iris):
    X, y = iris
    clf = fast(cls, early_stopping=True).partial_fit(X[:40], y[:40], classes=[0, 1, 2])
    rows = np.r_[0:40, 50:90, 100]  # class 2 has a single row
    clf.partial_fit(X[rows], y[rows])
    assert clf.n_iter_ == 2

"""NINRClassifier: the noise injection node, NIW-norm history, phases and the sklearn contract."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknoise import NINRClassifier, ninr_phase
from sknoise.nn._layers import NoiseRNG, NoiseSpec
from sknoise.nn._networks import NINRNet, NoiseInjectionNode

from ._common import run_passes

# These tests look at the network itself, on standardized inputs; the built-in preprocessing
# is tested in tests/test_preprocessing.py.
FAST = dict(hidden_layer_sizes=(16,), max_epochs=15, lr=0.01, early_stopping=False, random_state=0, preprocessing=None)


def node(width=8, sigma=2.0, init=1.0, noise="gaussian"):
    torch.manual_seed(0)
    return NoiseInjectionNode(width, noise=NoiseSpec.make(noise, sigma), init_scale=init, rng=NoiseRNG(1, 2))


def test_node_adds_one_scalar_draw_per_row_along_the_niw():
    n = node(width=8, sigma=2.0)
    pre = torch.randn(8000, 8)
    delta = (n(pre) - pre).detach()
    # Each row's perturbation is ε·σ·w: rank one, along the NIW vector.
    coef = delta @ n.niw.detach() / n.niw.detach().square().sum()
    torch.testing.assert_close(delta, coef[:, None] * n.niw.detach()[None, :], atol=1e-4, rtol=1e-4)
    assert coef.mean().abs() < 0.05
    assert coef.std().item() == pytest.approx(2.0, rel=0.03)


def test_node_is_off_in_eval_mode_unless_monte_carlo_passes_run():
    n = node().eval()
    pre = torch.randn(50, 8)
    assert torch.equal(n(pre), pre)
    passes = run_passes(n, pre, 6)
    assert passes.shape == (6, 50, 8)
    # One ε per pass, shared by the rows, along the NIW vector.
    delta = passes - pre
    torch.testing.assert_close(delta, delta[:, :1].expand_as(delta))
    assert torch.equal(n(pre), pre)


def test_niw_initialization_scale_and_gradient():
    n = node(width=20_000, init=3.0)
    assert n.niw.detach().std().item() == pytest.approx(3.0, rel=0.03)
    n(torch.zeros(4, 20_000)).sum().backward()
    assert n.niw.grad is not None and n.niw.grad.abs().sum() > 0


@pytest.mark.parametrize(("placement", "n_nodes"), [("input", 1), ("all", 3)])
def test_placement_connects_nodes_to_first_or_every_layer(placement, n_nodes):
    torch.manual_seed(0)
    net = NINRNet(5, 3, hidden_layer_sizes=(7, 6), activation="relu", noise=NoiseSpec.make("gaussian", 1.0),
                  rng=NoiseRNG(0, 1), nin_placement=placement, niw_init_scale=1.0)
    assert [len(nd.niw) for nd in net.nodes] == [7, 6, 3][:n_nodes]
    assert len(net.niw_norms()) == n_nodes
    x = torch.randn(10, 5)
    assert net(x).shape == (10, 3)
    assert not torch.equal(net(x), net(x))  # training mode: fresh noise each call
    net.eval()
    assert torch.equal(net(x), net(x))


def test_history_records_niw_norms_every_epoch(iris):
    X, y = iris
    clf = NINRClassifier(**{**FAST, "hidden_layer_sizes": (8, 8)}, nin_placement="all").fit(X, y)
    h = clf.history_
    assert len(clf.niw_norm_curve_) == clf.n_iter_ == 15
    assert all(len(row["niw_norm_per_layer"]) == 3 for row in h)
    for prev, row in zip(h[:-1], h[1:]):
        assert row["niw_norm_start"] == pytest.approx(prev["niw_norm"])
    for row in h:
        assert row["niw_norm"] == pytest.approx(np.linalg.norm(row["niw_norm_per_layer"]))
        assert row["niw_norm_max"] >= max(row["niw_norm_start"], row["niw_norm"]) - 1e-6
    final = [float(nd.niw.detach().norm()) for nd in clf.net_.module_.nodes]
    np.testing.assert_allclose(h[-1, "niw_norm_per_layer"], final, rtol=1e-6)


def test_niws_learn_only_when_noise_flows(iris):
    X, y = iris
    still = NINRClassifier(**FAST, noise_scale=0.0).fit(X, y)
    assert np.ptp(still.niw_norm_curve_) == 0
    moved = NINRClassifier(**FAST, noise_scale=2.0).fit(X, y)
    assert moved.niw_norm_curve_[-1] < moved.history_[0, "niw_norm_start"]


def test_strong_noise_under_sgd_makes_the_niws_decay(breast_cancer_split):
    X_train, X_test, y_train, y_test = breast_cancer_split
    clf = NINRClassifier((32,), noise_scale=4.0, optimizer="sgd", lr=0.3, momentum=0.0, batch_size=32,
                         max_epochs=30, early_stopping=False, random_state=0).fit(X_train, y_train)
    assert clf.niw_norm_curve_[-1] < 0.5 * clf.history_[0, "niw_norm_start"]
    assert clf.phase_ == "decay"
    assert clf.score(X_test, y_test) > 0.9


def _rows(norms, losses=None, start=10.0):
    losses = losses or [1.0] * len(norms)
    rows, prev = [], start
    for n, loss in zip(norms, losses):
        peak = max(prev, n) if not isinstance(n, tuple) else n[1]
        end = n if not isinstance(n, tuple) else n[0]
        rows.append({"niw_norm_start": prev, "niw_norm": end, "niw_norm_max": peak, "train_loss": loss})
        prev = end
    return rows


@pytest.mark.parametrize(
    ("norms", "losses", "phase"),
    [
        ([9.8, 9.6, 9.5], None, "decoupled"),
        ([8.0, 5.0, 3.0], None, "decay"),
        ([(4.0, 40.0), 2.0, 1.0], None, "catapult"),  # a peak within the first epoch, then de-noising
        ([30.0, 25.0, 28.0], None, "divergent"),  # rose and stayed up
        ([200.0], None, "divergent"),
        ([5.0, 3.0], [1.0, float("nan")], "divergent"),
    ],
)
def test_phase_criterion(norms, losses, phase):
    assert ninr_phase(_rows(norms, losses)) == phase


def test_phase_thresholds_are_parameters_and_history_is_required():
    rows = _rows([8.0, 6.0])
    assert ninr_phase(rows) == "decoupled"
    assert ninr_phase(rows, decay_to=0.7) == "decay"
    with pytest.raises(ValueError, match="NIWNormRecorder"):
        ninr_phase([{"train_loss": 1.0}])


def test_inference_noise_same_gives_monte_carlo_spread(iris):
    X, y = iris
    clf = NINRClassifier(**FAST, noise_scale=1.0).fit(X, y)
    proba, std = clf.predict_proba(X, return_std=True)
    assert np.all(std == 0)
    clf.set_params(inference_noise="same", n_inference_samples=16)
    noisy, std = clf.predict_proba(X, return_std=True)
    assert std.max() > 0
    np.testing.assert_allclose(noisy.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(noisy, clf.predict_proba(X))  # the inference stream is reseeded
    assert not np.allclose(noisy, proba)


def test_multiplicative_noise_is_rejected(iris):
    X, y = iris
    with pytest.raises(ValueError, match="multiplicative"):
        NINRClassifier(**FAST, noise="dropout", noise_scale=0.2).fit(X, y)
    with pytest.raises(ValueError, match="nin_placement"):
        NINRClassifier(**FAST, nin_placement="hidden").fit(X, y)


@pytest.mark.parametrize("noise", ["uniform", "laplace"])
def test_other_registry_distributions_train(iris, noise):
    X, y = iris
    assert NINRClassifier(**FAST, noise=noise).fit(X, y).score(X, y) > 0.8


def test_string_labels_pipeline_gridsearch_pickle(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    pipe = make_pipeline(StandardScaler(), NINRClassifier(**FAST))
    search = GridSearchCV(pipe, {"ninrclassifier__noise_scale": [0.5, 2.0]}, cv=2).fit(X, labels)
    model = search.best_estimator_
    assert set(model.predict(X)) <= set(labels)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    assert restored[-1].phase_ == model[-1].phase_
    assert not hasattr(clone(model[-1]), "net_")


def test_same_seed_same_trajectory(iris):
    X, y = iris
    a = NINRClassifier(**FAST, noise_scale=2.0).fit(X, y)
    b = NINRClassifier(**FAST, noise_scale=2.0).fit(X, y)
    assert a.niw_norm_curve_ == b.niw_norm_curve_


@pytest.mark.cuda
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_and_predict(iris):
    X, y = iris
    clf = NINRClassifier(**FAST, device="cuda", inference_noise="same").fit(X, y)
    assert clf.device_.startswith("cuda")
    assert clf.score(X, y) > 0.8


def test_divergence_names_the_nin_settings(iris):
    from sknoise import TrainingDivergedError

    X, y = iris
    clf = NINRClassifier(**{**FAST, "lr": 50.0}, optimizer="sgd", momentum=0.0, noise_scale=100.0)
    with pytest.raises(TrainingDivergedError, match="niw_init_scale=1.0"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")

"""NoisyEBMClassifier: the batched class models, one-class training, dropout as activation noise,
energies and their aggregates, the calibrated temperature, the sklearn contract, CUDA."""

import pickle

import numpy as np
import pytest
import torch
from scipy.special import log_softmax
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknoise import NoiseRNG, NoiseSpec, NoisyEBMClassifier, apply_noise, make_activation
from sknoise._runtime._calibration import fit_temperature
from sknoise.nn._networks import BatchedAutoencoderEnergy, BatchedLinear, OwnClassEnergy

# These tests look at the network itself, on standardized inputs; the built-in preprocessing
# is tested in tests/test_preprocessing.py.
FAST = dict(hidden_layer_sizes=(8,), max_epochs=30, lr=0.02, early_stopping=False, inference_noise="same",
            n_inference_samples=8, random_state=0, preprocessing=None)


def fast(**params) -> NoisyEBMClassifier:
    return NoisyEBMClassifier(**{**FAST, **params})


def module(n_features=5, n_classes=3, hidden=(4,), noise="gaussian", scale=0.0, activation="sigmoid", seed=0):
    torch.manual_seed(seed)
    return BatchedAutoencoderEnergy(n_features, n_classes, hidden_layer_sizes=hidden,
                                    activation=lambda width: make_activation(activation),
                                    noise=NoiseSpec.make(noise, scale), rng=NoiseRNG(1, 2))


# ----------------------------------------------------------------------------- the batched module
@pytest.mark.parametrize("hidden", [(4,), (6, 3, 6)])
def test_batched_module_equals_one_autoencoder_per_class(hidden):
    """Every column k of the output is the reconstruction error of class k's own autoencoder."""
    m = module(hidden=hidden).eval()
    x = torch.randn(7, 5)
    linears = [layer for layer in m.layers if isinstance(layer, BatchedLinear)]
    expected = []
    for k in range(3):
        h = x
        for i, layer in enumerate(linears):
            h = h @ layer.weight[k] + layer.bias[k]
            if i < len(linears) - 1:
                h = torch.sigmoid(h)
        expected.append(((h - x) ** 2).mean(dim=1))
    torch.testing.assert_close(m(x), torch.stack(expected, dim=1))


def test_each_row_trains_only_its_own_class_model():
    m = module(scale=0.3).train()
    x, y = torch.randn(20, 5), torch.zeros(20, dtype=torch.long)  # only class 0 in the batch
    OwnClassEnergy()(m(x), y).mean().backward()
    for p in m.parameters():
        assert p.grad[0].abs().sum() > 0
        assert torch.count_nonzero(p.grad[1:]) == 0


def test_own_class_path_equals_the_dense_energies_and_saves_the_other_classes():
    m = module(n_classes=4).eval()
    x, y = torch.randn(30, 5), torch.tensor([3, 0, 0, 2] * 7 + [3, 3])  # class 1 absent
    dense = m(x)
    own = m(x, targets=y)
    assert own.shape == dense.shape
    torch.testing.assert_close(own.gather(1, y[:, None]), dense.gather(1, y[:, None]))
    assert torch.isnan(own).sum() == 30 * 3  # the other classes' energies are never computed


def test_training_steps_hand_the_batch_labels_to_the_module_and_validation_steps_do_not(iris):
    """The generative objective's labels travel with each training batch into forward(); no module state."""
    calls = []

    def record(module, args, kwargs):
        calls.append((module.training, kwargs.get("targets")))

    X, y = iris
    clf = fast(max_epochs=1, early_stopping=True, objective="generative")
    clf.fit(X, y)
    clf.net_.module_.register_forward_pre_hook(record, with_kwargs=True)
    clf.partial_fit(X, y)
    training = [targets for is_training, targets in calls if is_training]
    assert training and all(t is not None and t.dtype == torch.long for t in training)
    assert sum(len(t) for t in training) == len(X)  # every row of the epoch, with its own labels
    assert not hasattr(clf.net_.module_, "targets")
    calls.clear()
    clf.predict_proba(X)
    assert calls and all(targets is None for _, targets in calls)  # prediction: all K class models
    joint = fast(max_epochs=1, objective="joint").fit(X, y)
    assert joint.net_.targets_in_forward is False


def test_loss_is_each_rows_own_class_energy():
    energies = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert OwnClassEnergy()(energies, torch.tensor([2, 0])).tolist() == [3.0, 4.0]


def test_hidden_noise_is_training_only_unless_set_for_inference():
    m = module(scale=0.5)
    x = torch.randn(6, 5)
    m.train()
    assert not torch.equal(m(x), m(x))
    m.eval()
    torch.testing.assert_close(m(x), m(x))


# ----------------------------------------------------------------------------- dropout is activation noise
def test_bernoulli_activation_noise_is_exactly_dropout():
    """t = s + z with z = -b*s, b ~ Bernoulli(p), is dropout's t = m*s with m = 1 - b."""
    p, keep = 0.3, 0.7
    s = torch.rand(200, 16) + 0.1
    u = torch.rand(s.shape, generator=torch.Generator().manual_seed(0))
    b = (u >= keep).float()  # the dropped units: Bernoulli(p)
    t = s + (-b * s)  # additive, signal-dependent activation noise
    m = 1.0 - b
    assert torch.equal(t, m * s)  # plain dropout, bit for bit
    # The library's inverted dropout draws the same mask from the same stream: t / (1 - p).
    inverted = apply_noise(s, "dropout", p, torch.Generator().manual_seed(0))
    torch.testing.assert_close(inverted, t / keep, rtol=1e-6, atol=0)
    assert 0.25 < b.mean() < 0.35


def test_ebm_with_dropout_noise_drops_hidden_units():
    """In the EBM module, noise='dropout' multiplies each hidden activation by m/(1-p), m ~ Bernoulli(1-p)."""
    p = 0.5
    m = module(noise="dropout", scale=p).train()
    x = torch.randn(50, 5)
    first, act_noise = m.layers[0], m.layers[1]
    s = torch.sigmoid(first(x))
    noise_layer = act_noise.noise
    t = act_noise(first(x))
    ratio = t / s
    # Every hidden unit is either dropped or kept and rescaled by 1/(1 - p).
    assert torch.all((ratio == 0) | torch.isclose(ratio, torch.tensor(1 / (1 - p))))
    assert 0.4 < (ratio == 0).float().mean() < 0.6
    assert noise_layer.train_noise.distribution.name == "dropout"


# ----------------------------------------------------------------------------- energies, aggregates, probabilities
def test_predict_is_the_argmin_of_the_energies_and_proba_their_softmax(iris):
    X, y = iris
    clf = fast(noise_scale=0.3).fit(X, y)
    energies = clf.energy(X)
    assert energies.shape == (len(X), 3) and np.all(energies >= 0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[energies.argmin(axis=1)])
    z = -energies / clf.temperature_
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert clf.score(X, y) > 0.9


def test_logmeanexp_is_a_free_energy_below_the_mean(iris):
    X, y = iris
    clf = fast(noise_scale=0.5).fit(X, y)
    mean = clf.energy(X)
    free = clf.set_params(energy_aggregate="logmeanexp").energy(X)
    assert np.all(free <= mean + 1e-6)  # Jensen: -log E[exp(-E)] <= E[E]
    assert np.mean(free < mean - 1e-6) > 0.5  # strictly below wherever the passes differ


def test_inference_settings_apply_to_a_fitted_model_without_refitting(iris):
    X, y = iris
    clf = fast(noise_scale=0.5).fit(X, y)
    noisy, std = clf.predict_proba(X, return_std=True)
    assert (std > 0).any()
    clean, clean_std = clf.set_params(inference_noise=None).predict_proba(X, return_std=True)
    np.testing.assert_array_equal(clean_std, 0)
    assert not np.allclose(noisy, clean)
    one = clf.set_params(inference_noise="same", n_inference_samples=1).energy(X)
    many = clf.set_params(n_inference_samples=64).energy(X)
    # More passes average the noise out towards the smoother mean energy.
    assert np.abs(many - clf.set_params(n_inference_samples=256).energy(X)).mean() < np.abs(one - many).mean()


def test_chunked_inference_equals_one_chunk_when_deterministic(iris):
    X, y = iris
    clf = fast(noise_scale=0.3, inference_noise=None).fit(X, y)
    whole = clf.energy(X)
    np.testing.assert_allclose(clf.set_params(inference_memory_mb=1e-3).energy(X), whole, rtol=1e-5, atol=1e-7)


def _fit_temperature(energies, y, log_prior):
    """The EBM's temperature problem: softmax(-E / tau + log prior)."""
    return fit_temperature(lambda t: log_softmax(-energies / t + log_prior, axis=1), y, float(np.std(energies)))


def test_fitted_temperature_is_the_largest_within_one_standard_error_of_the_best():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    energies = rng.normal(5.0, 1.0, (300, 3))
    energies[np.arange(300), y] -= 1.5  # informative but noisy energies
    log_prior = np.log(np.full(3, 1 / 3))
    tau = _fit_temperature(energies, y, log_prior)

    def losses(t):
        z = -energies / t
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return -np.log(p[np.arange(300), y])

    grid = energies.std() * np.logspace(-3, 3, 121)
    best = grid[np.argmin([losses(t).mean() for t in grid])]
    se = (losses(tau) - losses(best)).std() / np.sqrt(300)
    assert tau >= best
    assert losses(tau).mean() <= losses(best).mean() + 1.01 * se
    # ... and larger temperatures lie outside that band.
    assert losses(tau * 1.5).mean() > losses(best).mean() + se


def test_temperature_is_fitted_on_held_out_rows_and_improves_the_log_loss(breast_cancer_split):
    X_train, X_test, y_train, y_test = breast_cancer_split
    clf = fast(noise_scale=0.5, early_stopping=True, max_epochs=60).fit(X_train, y_train)
    assert clf.temperature_ > 0
    fitted = log_loss(y_test, clf.predict_proba(X_test))
    tau = clf.temperature_
    clf.net_.module_.temperature.fill_(tau / 10)  # sharper than calibrated
    sharp = log_loss(y_test, clf.predict_proba(X_test))
    assert sharp > fitted
    assert clf.calibrate(X_test, y_test).temperature_ != tau / 10
    assert log_loss(y_test, clf.predict_proba(X_test)) < sharp


# ----------------------------------------------------------------------------- learning and the sklearn contract
def test_training_noise_helps_where_the_autoencoders_can_copy_their_input():
    """The claim that reproduced: training with activation noise beats training without.

    Without noise each class's overcomplete autoencoder drifts towards the identity,
    which reconstructs every class alike; the noise keeps the energies class-specific.
    """
    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=600, n_features=20, n_informative=8, n_redundant=4, n_classes=4,
                               n_clusters_per_class=2, class_sep=1.0, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    scores = {}
    for scale in (0.0, 0.5):
        clf = fast(hidden_layer_sizes=(64,), activation="sigmoid", noise_scale=scale, inference_noise=None,
                   lr=0.01, max_epochs=60, objective="generative")
        scores[scale] = make_pipeline(StandardScaler(), clf).fit(X_train, y_train).score(X_test, y_test)
    assert scores[0.5] >= scores[0.0] + 0.05, scores


def test_string_labels_pickle_and_reproducibility(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = fast(noise_scale=0.3).fit(X, labels)
    assert set(clf.predict(X)) <= set(labels)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    again = fast(noise_scale=0.3).fit(X, labels)
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_grid_search_over_noise_in_a_pipeline():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), fast())
    grid = {"noisyebmclassifier__noise_scale": [0.0, 0.5], "noisyebmclassifier__energy_aggregate": ["mean"]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert search.best_score_ > 0.8
    assert search.best_params_["noisyebmclassifier__noise_scale"] in (0.0, 0.5)


def test_partial_fit_keeps_training_and_recalibrates(iris):
    X, y = iris
    clf = fast(noise_scale=0.3)
    for _ in range(3):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 3 and clf.temperature_ > 0
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


@pytest.mark.parametrize("sizes", [(), (4, 0)])
def test_rejects_hidden_sizes_without_a_noisy_layer(iris, sizes):
    X, y = iris
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        fast(hidden_layer_sizes=sizes).fit(X, y)


def test_rejects_an_unknown_aggregate(iris):
    X, y = iris
    with pytest.raises(ValueError, match="energy_aggregate"):
        fast(energy_aggregate="median").fit(X, y)


def test_default_prediction_is_deterministic(iris):
    X, y = iris
    clf = NoisyEBMClassifier((8,), max_epochs=10, early_stopping=False, random_state=0).fit(X, y)
    proba, std = clf.predict_proba(X, return_std=True)
    np.testing.assert_array_equal(std, 0)
    np.testing.assert_array_equal(clf.predict_proba(X[::-1])[::-1], proba)


def test_layer_widths_count_all_class_models():
    clf = fast(hidden_layer_sizes=(16, 4))
    assert clf._architecture.layer_widths(clf, 10, 3) == [10, 48, 12, 30, 3]


# ----------------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_predict_and_pickle_on_cuda(iris):
    X, y = iris
    clf = fast(noise_scale=0.3, device="cuda").fit(X, y)
    assert clf.device_.startswith("cuda")
    assert all(p.is_cuda for p in clf.net_.module_.parameters())
    proba, std = clf.predict_proba(X, return_std=True)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert (std > 0).any() and clf.score(X, y) > 0.9
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), proba)
    cpu = fast(noise_scale=0.3, inference_noise=None).fit(X, y)
    gpu = fast(noise_scale=0.3, inference_noise=None, device="cuda").fit(X, y)
    assert np.mean(cpu.predict(X) == gpu.predict(X)) > 0.9


def test_temperature_does_not_collapse_on_a_separated_sample():
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    energies = rng.uniform(0.5, 1.0, size=(40, 2))
    energies[np.arange(40), y] -= 0.5  # every row's own energy is the lowest: perfectly separated
    tau = _fit_temperature(energies, y, np.log([0.5, 0.5]))
    spread = energies.std()
    # The unsmoothed log loss keeps falling as tau -> 0 (it would stop at the bound spread/1000).
    assert tau > spread / 100
    proba = np.exp(-energies / tau)
    proba /= proba.sum(axis=1, keepdims=True)
    assert proba[np.arange(40), y].mean() < 0.999  # confident, not certain


# ----------------------------------------------------------------------------- per-class batches
def test_per_class_batches_take_batch_size_rows_of_every_class_and_each_row_once():
    from skorch.dataset import Dataset

    from sknoise._runtime._data import TensorBatches

    y = torch.tensor([0] * 10 + [1] * 4 + [2] * 7)
    X = torch.arange(len(y), dtype=torch.float32)[:, None]
    batches = TensorBatches(Dataset(X, y), 3, shuffle=True, generator=torch.Generator().manual_seed(0), per_class=True)
    # A lone trailing row joins the batch before: class 0 (10 rows) in 3 + 3 + 4, class 1
    # in 4, class 2 in 3 + 4; a pass makes as many steps as the largest class needs.
    assert len(batches) == 3
    epochs = [list(batches) for _ in range(2)]
    for epoch in epochs:
        counts = [torch.bincount(yb, minlength=3).tolist() for _, yb in epoch]
        assert counts == [[3, 4, 3], [3, 0, 4], [4, 0, 0]]
        rows = torch.cat([xb[:, 0] for xb, _ in epoch]).long()
        assert sorted(rows.tolist()) == list(range(len(y)))  # every row once per epoch
        assert all(torch.equal(y[xb[:, 0].long()], yb) for xb, yb in epoch)  # labels travel with their rows
    assert not torch.equal(epochs[0][0][0], epochs[1][0][0])  # a fresh permutation each epoch


def test_per_class_batching_makes_k_times_fewer_steps_and_still_learns(iris):
    X, y = iris
    X = StandardScaler().fit_transform(X)
    rows = fast(batch_size=16, max_epochs=40).fit(X, y)
    per_class = fast(batch_size=16, max_epochs=40, batching="per_class").fit(X, y)
    assert [e["train_batch_count"] for e in rows.history_][:1] == [10]
    assert [e["train_batch_count"] for e in per_class.history_][:1] == [4]  # 50 rows a class in 16s
    assert per_class.score(X, y) > 0.85

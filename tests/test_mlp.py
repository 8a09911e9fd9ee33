"""NoisyMLPClassifier: learning, labels, inputs, partial_fit, history, placements, inference, seeding, validation."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import accuracy_score
from torch import nn

from sknoise import ActivationNoise, NoiseLayer, NoisyMLPClassifier
from sknoise._runtime._data import Rows
from sknoise.nn._inference import plan_chunks
from sknoise.nn._layers import InferenceNoise

from ._common import run_passes

# These tests look at the network itself, on standardized inputs; the built-in preprocessing
# is tested in tests/test_preprocessing.py.
# noise="gaussian": these tests exercise the noise, which noise="auto" (the default) leaves off on small tables;
# noise_scale=0.2 is the scale they were written for (the classifier's default is now 0.4, tuned on large tables,
# which leaves iris underfitted after 30 epochs).
FAST = dict(hidden_layer_sizes=(16,), max_epochs=30, lr=0.02, early_stopping=False, random_state=0, preprocessing=None,
            noise="gaussian", noise_scale=0.2)


def fast(**params) -> NoisyMLPClassifier:
    return NoisyMLPClassifier(**{**FAST, **params})


def noise_layers(clf):
    return [m for m in clf.net_.module_.modules() if isinstance(m, NoiseLayer)]


def hidden_kinds(clf) -> list[str]:
    """The hidden block as a list of short names, noise layers told apart by what they do."""
    names = []
    for m in clf.net_.module_.hidden:
        if isinstance(m, nn.Linear):
            names.append("linear")
        elif isinstance(m, nn.BatchNorm1d):
            names.append("bn")
        elif isinstance(m, ActivationNoise):
            names += ["act", "noise"]
        elif isinstance(m, NoiseLayer):
            names.append("dropout" if m.train_noise.distribution.name == "dropout" else "noise")
        else:
            names.append("act")
    return names


# ----------------------------------------------------------------------------- learning
def test_learns_iris(iris_split):
    X_train, X_test, y_train, y_test = iris_split
    clf = fast().fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.9


def test_learns_breast_cancer_with_defaults_noise(breast_cancer_split):
    X_train, X_test, y_train, y_test = breast_cancer_split
    clf = fast(hidden_layer_sizes=(32,), noise_scale=0.3, max_epochs=20).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.94
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[proba.argmax(axis=1)])


def test_hidden_layer_sizes_forms(iris):
    X, y = iris
    deep = fast(hidden_layer_sizes=[8, 6]).fit(X, y)
    assert [m.out_features for m in deep.net_.module_.modules() if isinstance(m, nn.Linear)] == [8, 6, 3]
    single = fast(hidden_layer_sizes=5).fit(X, y)
    assert [m.out_features for m in single.net_.module_.modules() if isinstance(m, nn.Linear)] == [5, 3]
    linear = fast(hidden_layer_sizes=()).fit(X, y)
    assert [type(m) for m in linear.net_.module_.hidden] == []
    assert linear.score(X, y) > 0.8


# ----------------------------------------------------------------------------- labels and inputs
@pytest.mark.parametrize(
    "labels",
    [np.array(["setosa", "versicolor", "virginica"]), np.array([-5, 7, 100]), np.array([1.0, 2.0, 5.0])],
    ids=["str", "noncontiguous-int", "float"],
)
def test_any_labels_through_classes(iris, labels):
    X, y = iris
    reference = fast(max_epochs=10).fit(X, y)
    clf = fast(max_epochs=10).fit(X, labels[y])
    np.testing.assert_array_equal(clf.classes_, labels)
    # Sorted labels keep the encoding, so the very same network is trained.
    np.testing.assert_array_equal(clf.predict(X), labels[reference.predict(X)])
    np.testing.assert_allclose(clf.predict_proba(X), reference.predict_proba(X))
    assert clf.predict(X).dtype == labels.dtype


def test_unsorted_string_labels_follow_sorted_classes(iris):
    X, y = iris
    names = np.array(["c", "a", "b"])
    clf = fast(max_epochs=60).fit(X, names[y])
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])
    assert accuracy_score(names[y], clf.predict(X)) > 0.9
    proba = clf.predict_proba(X)
    # Column j is the probability of classes_[j].
    assert proba[y == 0][:, 2].mean() > 0.8  # true class "c"


def test_dataframe_sets_feature_names(iris):
    X, y = iris
    columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    df = pd.DataFrame(X, columns=columns)
    clf = fast(max_epochs=5).fit(df, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, columns)
    assert clf.n_features_in_ == 4
    np.testing.assert_array_equal(clf.predict(df), clf.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df[columns[::-1]])
    plain = fast(max_epochs=5).fit(X, y)
    assert not hasattr(plain, "feature_names_in_")


def test_float32_and_float64_inputs_train_the_same_network(iris):
    X, y = iris
    # Without preprocessing the network sees float32 either way: the very same network.
    p64 = fast(max_epochs=10, preprocessing=None).fit(X, y).predict_proba(X)
    p32 = fast(max_epochs=10, preprocessing=None).fit(X.astype(np.float32), y).predict_proba(X.astype(np.float32))
    np.testing.assert_array_equal(p32, p64)
    assert p64.dtype == np.float64
    # The preprocessing computes in float64: the same up to float32 rounding of the inputs.
    p64 = fast(max_epochs=10).fit(X, y).predict_proba(X)
    p32 = fast(max_epochs=10).fit(X.astype(np.float32), y).predict_proba(X.astype(np.float32))
    np.testing.assert_allclose(p32, p64, atol=1e-4)


def test_int_and_bool_inputs(rng):
    X_int = rng.integers(0, 5, size=(200, 6))
    y = (X_int[:, 0] + X_int[:, 1] > 4).astype(int)
    clf = fast(max_epochs=40).fit(X_int, y)
    assert clf.score(X_int, y) > 0.85
    X_bool = X_int > 2
    y_bool = X_bool[:, 0] ^ X_bool[:, 1]
    clf = fast(hidden_layer_sizes=(32,), max_epochs=60).fit(X_bool, y_bool)
    np.testing.assert_array_equal(clf.classes_, [False, True])
    assert clf.score(X_bool, y_bool) > 0.9


def test_wrong_number_of_features_at_predict(iris):
    X, y = iris
    clf = fast(max_epochs=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


# ----------------------------------------------------------------------------- partial_fit and history
def test_partial_fit_runs_one_epoch_per_call(iris):
    X, y = iris
    clf = fast()
    for epoch in range(1, 4):
        clf.partial_fit(X, y)
        assert clf.n_iter_ == epoch
        assert len(clf.loss_curve_) == epoch
    # Continuing from the current weights, the loss keeps falling.
    for _ in range(20):
        clf.partial_fit(X, y)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    # fit starts again from scratch.
    clf.fit(X, y)
    assert clf.n_iter_ == FAST["max_epochs"]


def test_partial_fit_after_fit_continues(iris):
    X, y = iris
    clf = fast(max_epochs=5).fit(X, y)
    weights = clf.net_.module_.output.weight.detach().clone()
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 6
    assert not torch.equal(weights, clf.net_.module_.output.weight)


def test_partial_fit_needs_classes_when_the_first_batch_lacks_one(iris):
    X, y = iris
    first = y != 2
    clf = fast().partial_fit(X[first], y[first])
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    with pytest.raises(ValueError, match=r"\[2\]"):
        clf.partial_fit(X, y)

    clf = fast().partial_fit(X[first], y[first], classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    clf.partial_fit(X, y)
    assert clf.predict_proba(X).shape == (len(X), 3)


def test_partial_fit_with_string_labels_and_unseen_label(iris):
    X, y = iris
    names = np.array(["a", "b", "c"])[y]
    clf = fast().partial_fit(X, names)
    bad = names.astype(object)
    bad[0] = "zebra"
    with pytest.raises(ValueError, match="zebra"):
        clf.partial_fit(X, bad)


def test_history_and_curves_without_early_stopping(iris):
    X, y = iris
    clf = fast(max_epochs=7).fit(X, y)
    assert clf.n_iter_ == 7 == len(clf.history_) == len(clf.loss_curve_)
    assert clf.validation_loss_curve_ is None
    assert clf.loss_curve_ == clf.history_[:, "train_loss"]
    assert all(np.isfinite(clf.loss_curve_))
    assert clf.device_ == "cpu"


def test_early_stopping_stops_early_and_restores_best_weights(iris):
    X, y = iris
    clf = fast(max_epochs=1000, early_stopping=True, n_iter_no_change=5).fit(X, y)
    assert clf.n_iter_ < 1000
    curve = clf.validation_loss_curve_
    assert len(curve) == clf.n_iter_ == len(clf.loss_curve_)
    best = int(np.argmin(curve))
    assert best < len(curve) - 1, "expected the last epochs to be no better than the best one"
    assert clf.best_epoch_ == best + 1
    # Recompute the validation loss of the returned model on the estimator's own split.
    net = clf.net_
    valid = clf._split(Rows(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)))[1]
    X_valid, y_valid = valid.X, valid.y
    assert len(X_valid) == math.ceil(0.1 * len(X))
    net.module_.eval()
    with torch.no_grad():
        loss = nn.functional.cross_entropy(net.module_(X_valid), y_valid).item()
    assert loss == pytest.approx(curve[best], rel=1e-5)
    assert loss < curve[-1]


def test_early_stopping_validation_split_is_stratified(iris):
    X, y = iris
    clf = fast(max_epochs=2, early_stopping=True, validation_fraction=0.2).fit(X, y)
    valid = clf._split(Rows(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)))[1]
    np.testing.assert_array_equal(np.bincount(valid.y.numpy()), [10, 10, 10])


# ----------------------------------------------------------------------------- placements and architecture
PLACEMENTS = [
    "input",
    "pre_activation",
    "post_activation",
    ("input", "post_activation"),
    ["pre_activation", "post_activation"],
    ("input", "pre_activation", "post_activation"),
]


@pytest.mark.parametrize("placement", PLACEMENTS, ids=str)
def test_noise_placements(iris, placement):
    X, y = iris
    places = {placement} if isinstance(placement, str) else set(placement)
    clf = fast(hidden_layer_sizes=(16, 8), noise_placement=placement, noise_scale=0.2).fit(X, y)
    module = clf.net_.module_
    assert isinstance(module.input_noise, NoiseLayer) == ("input" in places)
    expected = []
    for _ in range(2):
        expected += ["linear", *(["noise"] if "pre_activation" in places else []), "act"]
        expected += ["noise"] if "post_activation" in places else []
    assert hidden_kinds(clf) == expected
    assert all(layer.train_noise.scale == 0.2 for layer in noise_layers(clf))
    # Noise is on in training mode and off in eval mode.
    Xt = torch.as_tensor(X[:20], dtype=torch.float32)
    module.train()
    assert not torch.equal(module(Xt), module(Xt))
    module.eval()
    assert torch.equal(module(Xt), module(Xt))
    assert clf.score(X, y) > 0.85


@pytest.mark.parametrize("batch_norm", ["before", "after"])
def test_block_order_with_batch_norm_and_dropout(iris, batch_norm):
    X, y = iris
    clf = fast(
        hidden_layer_sizes=(8, 8),
        noise_placement=("pre_activation", "post_activation"),
        batch_norm=batch_norm,
        dropout=0.2,
        max_epochs=3,
    ).fit(X, y)
    block = ["linear", "bn", "noise", "act", "noise", "dropout"]
    if batch_norm == "after":
        block = ["linear", "noise", "act", "noise", "bn", "dropout"]
    assert hidden_kinds(clf) == block * 2
    dropout = [m for m in noise_layers(clf) if m.train_noise.distribution.name == "dropout"]
    assert [m.train_noise.scale for m in dropout] == [0.2, 0.2]
    # Dropout stays off at inference even when inference noise is on.
    assert all(m.inference_spec(InferenceNoise()) is None for m in dropout)
    assert all(m.inference_spec(InferenceNoise()) is not None for m in noise_layers(clf) if m not in dropout)


def test_dropout_trains_and_is_off_at_inference(iris):
    X, y = iris
    clf = fast(noise="none", dropout=0.3, hidden_layer_sizes=(32,)).fit(X, y)
    assert hidden_kinds(clf) == ["linear", "act", "noise", "dropout"]
    assert not clf.net_.module_.hidden[1].noise.train_noise.active
    assert clf.score(X, y) > 0.9
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("noise", ["dropout", "gaussian_dropout"])
def test_multiplicative_noise_as_activation_noise(iris, noise):
    X, y = iris
    clf = fast(noise=noise, noise_scale=0.3, hidden_layer_sizes=(32,)).fit(X, y)
    assert clf.score(X, y) > 0.85


def test_max_norm_bounds_each_hidden_units_incoming_weights(iris):
    X, y = iris
    unconstrained = fast(hidden_layer_sizes=(16, 16), lr=0.05, max_epochs=40).fit(X, y)
    norms = [m.weight.norm(dim=1) for m in unconstrained.net_.module_.hidden if isinstance(m, nn.Linear)]
    assert max(n.max().item() for n in norms) > 0.6, "the bound below must bind"

    clf = fast(hidden_layer_sizes=(16, 16), lr=0.05, max_epochs=40, max_norm=0.6).fit(X, y)
    hidden = [m for m in clf.net_.module_.hidden if isinstance(m, nn.Linear)]
    assert len(hidden) == 2
    for layer in hidden:
        assert layer.weight.norm(dim=1).max().item() <= 0.6 + 1e-5
    assert clf.score(X, y) > 0.8


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "rmsprop", torch.optim.Adagrad])
def test_optimizers(iris, optimizer):
    X, y = iris
    lr = 0.005 if optimizer == "rmsprop" else 0.05
    clf = fast(optimizer=optimizer, lr=lr, weight_decay=1e-4, momentum=0.8).fit(X, y)
    expected = {
        "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW,
        "sgd": torch.optim.SGD,
        "rmsprop": torch.optim.RMSprop,
    }.get(optimizer, optimizer)
    opt = clf.net_.optimizer_
    assert type(opt) is expected
    group = opt.param_groups[0]
    assert group["lr"] == lr and group["weight_decay"] == 1e-4
    if optimizer in ("sgd", "rmsprop"):
        assert group["momentum"] == 0.8
    assert clf.score(X, y) > 0.85


def test_batch_size(iris):
    X, y = iris
    clf = fast(batch_size=32, max_epochs=2).fit(X, y)
    assert clf.net_.batch_size == 32
    assert fast(max_epochs=1).fit(X, y).net_.batch_size == len(X)  # 'auto' is min(256, n)


# ----------------------------------------------------------------------------- inference noise
@pytest.fixture(scope="module")
def fitted(iris):
    X, y = iris
    return fast(noise_scale=0.5, max_epochs=20).fit(X, y)


def test_without_inference_noise_predictions_are_deterministic(fitted, iris):
    X, _ = iris
    clf = fitted.set_params(inference_noise=None)
    proba, std = clf.predict_proba(X, return_std=True)
    np.testing.assert_array_equal(std, 0.0)
    np.testing.assert_array_equal(proba, clf.predict_proba(X))
    clf.set_params(inference_noise="none")
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_monte_carlo_inference_averages_T_passes(fitted, iris):
    X, _ = iris
    clf = fitted
    clf.set_params(inference_noise=None)
    clean = clf.predict_proba(X)
    clf.set_params(inference_noise="same", n_inference_samples=16)
    try:
        proba, std = clf.predict_proba(X, return_std=True)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
        assert (std > 0).any() and (std >= 0).all()
        assert not np.allclose(proba, clean)
        # Repeated calls give identical output: the inference stream restarts every call.
        again, again_std = clf.predict_proba(X, return_std=True)
        np.testing.assert_array_equal(again, proba)
        np.testing.assert_array_equal(again_std, std)
        np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])

        # Manually: T noisy passes seeded by the inference seed, softmax, mean and spread.
        module = clf.net_.module_
        Xt = torch.as_tensor(X, dtype=torch.float32)
        passes = torch.softmax(run_passes(module, Xt, 16, seed=module.noise_rng.seeds["inference"]), dim=-1)
        np.testing.assert_allclose(proba, passes.mean(0).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(std, passes.std(0, correction=0).numpy(), rtol=1e-4, atol=1e-6)
    finally:
        clf.set_params(inference_noise=None, n_inference_samples=32)


def test_inference_parameters_take_effect_without_refit(fitted, iris):
    X, _ = iris
    clf = fitted
    module = clf.net_.module_
    weights = module.output.weight.detach().clone()
    try:
        clf.set_params(inference_noise=None)
        clean = clf.predict_proba(X)
        clf.set_params(inference_noise="same", n_inference_samples=4)
        p4, s4 = clf.predict_proba(X, return_std=True)
        clf.set_params(n_inference_samples=64)
        p64 = clf.predict_proba(X)
        assert not np.allclose(p4, p64)
        # A larger inference scale spreads the passes more; a zero scale is the clean network.
        clf.set_params(n_inference_samples=4, inference_noise_scale=2.0)
        _, s_big = clf.predict_proba(X, return_std=True)
        assert s_big.mean() > 2 * s4.mean()
        clf.set_params(inference_noise_scale=0.0)
        np.testing.assert_array_equal(clf.predict_proba(X), clean)
        # Another distribution than the training one.
        clf.set_params(inference_noise="uniform", inference_noise_scale=None)
        p_uniform = clf.predict_proba(X)
        assert not np.allclose(p_uniform, p4)
        assert clf.net_.module_ is module
        assert torch.equal(module.output.weight, weights)
    finally:
        clf.set_params(inference_noise=None, inference_noise_scale=None, n_inference_samples=32)


def count_forward_calls(clf, X) -> tuple[int, np.ndarray, np.ndarray]:
    calls = []
    handle = clf.net_.module_.register_forward_hook(lambda *args: calls.append(1))
    try:
        proba, std = clf.predict_proba(X, return_std=True)
    finally:
        handle.remove()
    return len(calls), proba, std


@pytest.mark.parametrize("inference_noise", [None, "same"])
def test_chunked_inference_matches_one_chunk(fitted, iris, inference_noise):
    X, _ = iris
    clf = fitted
    T = 50
    try:
        clf.set_params(inference_noise=inference_noise, n_inference_samples=T, inference_memory_mb=None)
        n_calls, proba, std = count_forward_calls(clf, X)
        assert n_calls == 1
        mb = 0.01
        clf.set_params(inference_memory_mb=mb)
        n_passes = T if inference_noise else 1
        plan = plan_chunks(n_passes, clf._layer_widths_, mb * 2**20)
        assert plan.rows < len(X) and plan.passes == n_passes
        n_calls, chunked, chunked_std = count_forward_calls(clf, X)
        assert n_calls == math.ceil(len(X) / plan.rows) > 1
        # Common random numbers: the draws are shared by the rows, so chunks change nothing.
        np.testing.assert_allclose(chunked, proba, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(chunked_std, std, rtol=1e-4, atol=1e-6)
    finally:
        clf.set_params(inference_noise=None, n_inference_samples=32, inference_memory_mb=None)


def test_working_memory_sets_the_default_budget(fitted, iris):
    import sklearn

    X, _ = iris
    clf = fitted
    try:
        clf.set_params(inference_noise="same", n_inference_samples=50)
        with sklearn.config_context(working_memory=0.01):
            n_calls, _, _ = count_forward_calls(clf, X)
        assert n_calls > 1
    finally:
        clf.set_params(inference_noise=None, n_inference_samples=32)


# ----------------------------------------------------------------------------- seeding
def test_same_seed_same_model_different_seed_different_weights(iris):
    X, y = iris
    params = dict(noise_scale=0.3, max_epochs=5, early_stopping=True, inference_noise="same", n_inference_samples=8)
    a = fast(**params).fit(X, y)
    b = fast(**params).fit(X, y)
    c = fast(**{**params, "random_state": 1}).fit(X, y)
    for pa, pb in zip(a.net_.module_.parameters(), b.net_.module_.parameters()):
        assert torch.equal(pa, pb)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.loss_curve_ == b.loss_curve_
    assert not torch.equal(a.net_.module_.output.weight, c.net_.module_.output.weight)


def test_random_state_instance_is_accepted(iris):
    X, y = iris
    a = fast(max_epochs=3, random_state=np.random.RandomState(3)).fit(X, y)
    b = fast(max_epochs=3, random_state=np.random.RandomState(3)).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_fit_leaves_global_random_states_alone(iris):
    X, y = iris
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    clf = fast(max_epochs=3, early_stopping=True, inference_noise="same", n_inference_samples=4).fit(X, y)
    clf.predict_proba(X)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)


def test_training_noise_depends_on_the_seed_only(iris):
    X, y = iris
    # Same weights init and shuffling would need the same seed; a different noise
    # scale with the same seed must change the training trajectory.
    a = fast(noise_scale=0.0, max_epochs=3).fit(X, y)
    b = fast(noise_scale=0.5, max_epochs=3).fit(X, y)
    assert a.loss_curve_ != b.loss_curve_


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "params, name",
    [
        (dict(noise_scale=-0.1), "noise_scale"),
        (dict(noise="nope"), "noise"),
        (dict(inference_noise="nope"), "inference_noise"),
        (dict(n_inference_samples=0), "n_inference_samples"),
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=(8, -1)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=0), "hidden_layer_sizes"),
        (dict(noise="dropout", noise_scale=1.0), "noise"),
        (dict(noise="gaussian_dropout", noise_scale=1.5), "noise"),
        (dict(inference_noise="dropout", inference_noise_scale=1.0), "inference_noise"),
        (dict(noise_placement="middle"), "noise_placement"),
        (dict(noise_placement=("input", "middle")), "noise_placement"),
        (dict(batch_norm="sideways"), "batch_norm"),
        (dict(activation="nope"), "activation"),
        (dict(optimizer="lbfgs"), "optimizer"),
        (dict(dropout=1.0), "dropout"),
        (dict(max_norm=0.0), "max_norm"),
        (dict(lr=0.0), "lr"),
        (dict(batch_size=0), "batch_size"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(validation_fraction=1.0), "validation_fraction"),
        (dict(inference_memory_mb=0), "inference_memory_mb"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(iris, params, name):
    X, y = iris
    with pytest.raises(ValueError, match=name):
        fast(**params).fit(X, y)


def test_dropout_rate_error_says_drop_rate(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"drop rate.*\[0, 1\)"):
        fast(noise="dropout", noise_scale=1.0).fit(X, y)


def test_bad_parameters_raise_in_partial_fit_too(iris):
    X, y = iris
    with pytest.raises(ValueError, match="noise_scale"):
        fast(noise_scale=-1.0).partial_fit(X, y)


def test_single_class_raises(iris):
    X, y = iris
    with pytest.raises(ValueError, match="class"):
        fast().fit(X[y == 0], y[y == 0])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_raises(iris, bad):
    X, y = iris
    X = X.copy()
    X[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        fast().fit(X, y)
    clf = fast(max_epochs=1).fit(iris[0], y)
    with pytest.raises(ValueError, match="NaN|infinity"):
        clf.predict(X)


def test_continuous_target_raises(iris):
    X, _ = iris
    with pytest.raises(ValueError, match="Unknown label type"):
        fast().fit(X, np.linspace(0, 1, len(X)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without CUDA")
def test_cuda_without_cuda_raises(iris):
    X, y = iris
    with pytest.raises(ValueError, match="CUDA"):
        fast(device="cuda").fit(X, y)
    assert fast(device="auto", max_epochs=1).fit(X, y).device_ == "cpu"


def test_predict_before_fit_raises(iris):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        fast().predict(iris[0])

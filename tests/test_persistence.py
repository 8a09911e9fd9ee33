"""sknoise.save / sknoise.load: round trips of every estimator, continued training, refusals.

The round trips compare bit for bit: the loaded model's predictions (Monte-Carlo passes
included) and, after one more ``partial_fit`` on both, its weights and optimizer state.
"""

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import safetensors
import safetensors.torch
import sklearn
import torch
from sklearn.pipeline import make_pipeline
from skorch.callbacks import Callback

import sknoise
from sknoise import ModelFileError, load, save
from sknoise._persistence import FORMAT_VERSION

from ._common import CLASSIFIERS, ESTIMATORS, LOGIT_CLASSIFIERS, REGRESSORS, each

# The fits are a few epochs long: they predict badly, which is beside the point here.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(8,), max_epochs=4, early_stopping=False, random_state=0, preprocessing=None)
LABELS = np.array(["setosa", "versicolor", "virginica"])

def is_classifier(cls) -> bool:
    return cls in CLASSIFIERS


def targets(cls, X, n_outputs=1):
    if is_classifier(cls):
        return LABELS[np.digitize(X[:, 2], np.quantile(X[:, 2], [1 / 3, 2 / 3]))]
    y = X[:, 3] * 2.0 + 10.0
    return y if n_outputs == 1 else np.column_stack([y, -3 * X[:, 0]])


def predictions(model, X):
    """Everything the model predicts: probabilities or values, with their Monte-Carlo spread."""
    if hasattr(model, "predict_proba"):
        return (*model.predict_proba(X, return_std=True), model.predict(X))
    intervals = model.predict_interval(X, alpha=0.2) if model.interval_calibration_ != "training" else ()
    return (*model.predict(X, return_std=True), *intervals)


def assert_same_predictions(a, b, X):
    for left, right in zip(predictions(a, X), predictions(b, X)):
        np.testing.assert_array_equal(left, right)


def assert_same_training_state(a, b):
    for part in ("module_", "criterion_"):
        sa, sb = getattr(a.net_, part).state_dict(), getattr(b.net_, part).state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), (part, key)
    oa, ob = a.net_.optimizer_.state_dict(), b.net_.optimizer_.state_dict()
    assert oa["param_groups"] == ob["param_groups"]
    assert oa["state"].keys() == ob["state"].keys()
    for index in oa["state"]:
        for key, value in oa["state"][index].items():
            other = ob["state"][index][key]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other
    assert a.net_.module_.noise_rng.calls == b.net_.module_.noise_rng.calls


def round_trip(model, tmp_path, **load_kwargs):
    path = tmp_path / "model.safetensors"
    save(model, path)
    return load(path, **load_kwargs)


def assert_round_trip_continues_exactly(model, X, y, tmp_path):
    loaded = round_trip(model, tmp_path)
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    assert_same_predictions(model, loaded, X)
    assert loaded.loss_curve_ == model.loss_curve_
    for name in ("classes_", "temperature_", "target_mean_", "target_scale_", "n_outputs_", "n_features_in_",
                 "best_epoch_", "best_loss_", "_seeds_", "_layer_widths_", "class_prior_"):
        if hasattr(model, name):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
            assert type(getattr(loaded, name)) is type(getattr(model, name)) or name == "best_loss_"
    assert_same_training_state(model, loaded)
    # One more call on both: the same weights, optimizer state, noise draws and shuffling.
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert_same_training_state(model, loaded)
    assert_same_predictions(model, loaded, X)
    assert loaded.n_iter_ == model.n_iter_
    return loaded


# ----------------------------------------------------------------------------- round trips
VARIANTS = {
    # Monte-Carlo inference on, so that identical predictions need identical noise streams.
    "arrays": dict(inference_noise="same", n_inference_samples=8, noise_scale=0.3),
    "members": dict(n_members=3, inference_noise="same", n_inference_samples=4, noise_scale=0.3),
    "early_stopping": dict(early_stopping=True, max_epochs=6, n_iter_no_change=2, lr_schedule="cosine"),
}


@each(ESTIMATORS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_round_trip_predicts_identically_and_partial_fit_continues_exactly(cls, variant, iris, tmp_path):
    X, _ = iris
    y = targets(cls, X)
    params = dict(VARIANTS[variant])
    if cls.__name__.startswith("NINR"):
        params["noise_scale"] = 0.5
    model = cls(**{**FAST, **params}).fit(X, y)
    assert_round_trip_continues_exactly(model, X, y, tmp_path)


@each(CLASSIFIERS)
def test_round_trip_keeps_the_calibration_temperature(cls, iris, tmp_path):
    X, _ = iris
    y = targets(cls, X)
    model = cls(**{**FAST, "early_stopping": True, "max_epochs": 5}, calibration="temperature").fit(X, y)
    loaded = assert_round_trip_continues_exactly(model, X, y, tmp_path)
    assert loaded.temperature_ == model.temperature_


@each(REGRESSORS)
def test_round_trip_of_a_multi_output_regressor(cls, iris, tmp_path):
    X, _ = iris
    y = targets(cls, X, n_outputs=2)
    model = cls(**FAST).fit(X, y)
    loaded = assert_round_trip_continues_exactly(model, X, y, tmp_path)
    assert loaded.predict(X).shape == (len(X), 2)


@each(REGRESSORS)
def test_round_trip_of_a_gaussian_head_and_its_calibrated_intervals(cls, iris, tmp_path):
    X, _ = iris
    y = targets(cls, X, n_outputs=2)
    model = cls(**{**FAST, "early_stopping": True, "max_epochs": 5}, loss="gaussian_nll", n_members=2).fit(X, y)
    assert model.interval_calibration_ == "held-out"
    loaded = assert_round_trip_continues_exactly(model, X, y, tmp_path)
    model.conformalize(X, y)
    loaded.conformalize(X, y)
    assert_same_predictions(model, loaded, X)
    loaded = round_trip(loaded, tmp_path)
    assert loaded.interval_calibration_ == "user"
    for name in ("noise_floor_", "std_scale_", "conformity_scores_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))


def test_round_trip_of_the_mlp_with_batch_norm_dropout_max_norm_and_noisy_activations(iris, tmp_path):
    X, y = iris
    model = sknoise.NoisyMLPClassifier(**{**FAST, "hidden_layer_sizes": (8, 8)}, batch_norm="before", dropout=0.2,
                                       max_norm=2.0, activation="nan_tanh", noise_schedule="linear",
                                       inference_dropout=True, optimizer="sgd").fit(X, y)
    assert_round_trip_continues_exactly(model, X, y, tmp_path)


@each(LOGIT_CLASSIFIERS)
def test_round_trip_keeps_the_noise_the_network_carries_after_set_params(cls, iris, tmp_path):
    # inference_noise='same' uses the noise the network was trained with, not a noise_scale set since.
    X, y = iris
    model = cls(**FAST, noise_scale=0.3, inference_noise="same", n_inference_samples=8).fit(X, y)
    model.set_params(noise_scale=0.05, lr=0.5)
    loaded = round_trip(model, tmp_path)
    assert loaded.noise_scale == 0.05
    assert_same_predictions(model, loaded, X)
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert_same_training_state(model, loaded)


def test_round_trip_keeps_reseeded_noise_streams(iris, tmp_path):
    X, y = iris
    model = sknoise.NINRClassifier(**FAST, inference_noise="same", n_inference_samples=8).fit(X, y)
    model.net_.module_.noise_rng.reseed("inference", 12345)
    loaded = round_trip(model, tmp_path)
    assert loaded.net_.module_.noise_rng.seeds == model.net_.module_.noise_rng.seeds
    assert_same_predictions(model, loaded, X)


def test_round_trip_of_the_ebm_generative_objective_and_logmeanexp(iris, tmp_path):
    X, y = iris
    model = sknoise.NoisyEBMClassifier(**FAST, objective="generative", energy_aggregate="logmeanexp",
                                       inference_noise="same", n_inference_samples=4, batching="per_class",
                                       n_members=2).fit(X, y)
    assert_round_trip_continues_exactly(model, X, y, tmp_path)


@each(ESTIMATORS)
def test_an_unfitted_estimator_round_trips_its_parameters(cls, tmp_path):
    params = dict(hidden_layer_sizes=[12, 6], random_state=np.random.RandomState(3), device=torch.device("cpu"),
                  n_inference_samples=np.int64(5), noise_scale=np.float64(0.25))
    if is_classifier(cls):
        params["class_weight"] = {"a": 2.0, 1: 0.5}
    model = cls(**params)
    loaded = round_trip(model, tmp_path)
    assert not loaded.__sklearn_is_fitted__()
    got, expected = loaded.get_params(), model.get_params()
    assert got.pop("random_state").get_state()[1].tolist() == expected.pop("random_state").get_state()[1].tolist()
    assert got == expected
    assert type(got["hidden_layer_sizes"]) is list and isinstance(got["device"], torch.device)


def test_metadata_requests_round_trip(iris, tmp_path):
    with sklearn.config_context(enable_metadata_routing=True):
        model = sknoise.NoisyMLPClassifier(**FAST).set_fit_request(sample_weight=True)
        model.set_score_request(sample_weight="w")
        loaded = round_trip(model, tmp_path)
        assert loaded.get_metadata_routing()._serialize() == model.get_metadata_routing()._serialize()


def test_a_model_pickled_and_saved_predicts_alike(iris, tmp_path):
    X, y = iris
    model = sknoise.NINRClassifier(**FAST, inference_noise="same", n_inference_samples=8).fit(X, y)
    assert_same_predictions(pickle.loads(pickle.dumps(model)), round_trip(model, tmp_path), X)


# ----------------------------------------------------------------------------- the built-in preprocessing
def table(n=240, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.normal(40, 10, n),
        "income": rng.lognormal(10, 1, n),
        "city": pd.Categorical(rng.choice(["Oslo", "Lima", "Pune"], n)),
        "shop": rng.choice([f"s{i}" for i in range(30)], n).astype(object),  # embedded (> max_onehot)
    })
    frame.loc[::7, "age"] = np.nan
    frame.loc[::11, "shop"] = None
    frame.loc[::13, "city"] = np.nan
    return frame


@each(ESTIMATORS)
@pytest.mark.parametrize("data", ["dataframe", "arrays"])
def test_round_trip_with_the_builtin_preprocessing(cls, data, tmp_path):
    frame = table()
    X = frame if data == "dataframe" else frame[["age", "income"]].to_numpy()
    y = targets(cls, np.column_stack([frame["age"].fillna(40), frame["income"], frame["age"].fillna(40),
                                      np.log(frame["income"])]))
    model = cls(**{**FAST, "preprocessing": "auto"}, inference_noise="same", n_inference_samples=4).fit(X, y)
    loaded = assert_round_trip_continues_exactly(model, X, y, tmp_path)
    if data == "dataframe":
        np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
        np.testing.assert_array_equal(loaded.transform_input(frame), model.transform_input(frame))


# ----------------------------------------------------------------------------- no code runs
def test_load_unpickles_nothing(iris, tmp_path, monkeypatch):
    X, y = iris
    model = sknoise.NoisyEBMClassifier(**FAST, n_members=2, inference_noise="same", n_inference_samples=4).fit(X, y)
    path = tmp_path / "ebm.safetensors"
    save(model, path)

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(torch.serialization, "load", refuse)
    loaded = load(path)
    assert_same_predictions(model, loaded, X)
    loaded.partial_fit(X, y)


def user_noise(shape, generator=None, device=None, dtype=None):
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)


class MyCallback(Callback):
    pass


@pytest.mark.parametrize("params, what", [
    (dict(noise=user_noise), "callable"),
    (dict(noise=torch.distributions.Laplace(0.0, 1.0)), "Distribution"),
    (dict(inference_noise=user_noise), "callable"),
    (dict(activation=torch.tanh), "callable"),
    (dict(noise_schedule=lambda epoch, n: 1.0), "callable"),
    (dict(optimizer=torch.optim.Adam), "class"),
    (dict(callbacks=[MyCallback()]), "callbacks"),
])
def test_save_refuses_code_and_says_so(params, what, iris, tmp_path):
    model = sknoise.NoisyMLPClassifier(**FAST, **params)
    for candidate in (model, sknoise.NoisyMLPClassifier(**FAST, **params).fit(*iris)):
        with pytest.raises(ValueError, match=what) as info:
            save(candidate, tmp_path / "m.safetensors")
        assert "code" in str(info.value) and "pickle" in str(info.value)
    assert not (tmp_path / "m.safetensors").exists()


def test_save_refuses_code_the_network_was_built_with(iris, tmp_path):
    X, y = iris
    model = sknoise.NoisyMLPClassifier(**FAST, noise=user_noise).fit(X, y)
    model.set_params(noise="gaussian")  # the fitted network still carries the callable
    with pytest.raises(ValueError, match="code"):
        save(model, tmp_path / "m.safetensors")


def test_save_refuses_what_it_does_not_know(iris, tmp_path):
    X, y = iris
    with pytest.raises(TypeError, match="sknoise's own classes"):
        save(make_pipeline(sknoise.NoisyMLPClassifier(**FAST)), tmp_path / "m.safetensors")
    model = sknoise.NoisyMLPClassifier(**FAST).fit(X, y)
    model.extra_fitted_ = 1.0
    with pytest.raises(ValueError, match="extra_fitted_"):
        save(model, tmp_path / "m.safetensors")


# ----------------------------------------------------------------------------- tampered files
@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A fitted EBM (temperature, prior, class counts, criterion weights) and its file."""
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model = sknoise.NoisyEBMClassifier(**FAST).fit(X, LABELS[y])
    path = tmp_path_factory.mktemp("saved") / "ebm.safetensors"
    save(model, path)
    return path


def rewrite(source, target, edit_doc=None, edit_tensors=None):
    tensors = safetensors.torch.load_file(source)
    with safetensors.safe_open(source, framework="pt") as f:
        doc = json.loads(f.metadata()["sknoise"])
    if edit_doc:
        edit_doc(doc)
    if edit_tensors:
        edit_tensors(tensors)
    safetensors.torch.save_file(tensors, target, metadata={"sknoise": json.dumps(doc)})
    return target


def weight_name(tensors):
    return next(name for name in tensors if name.startswith("module/") and name.endswith("weight"))


def set_key(*keys, value):
    def edit(doc):
        for key in keys[:-1]:
            doc = doc[key]
        doc[keys[-1]] = value
    return edit


TAMPERING = {
    "unknown class": (dict(edit_doc=set_key("estimator", value="os.system")), "not one of sknoise's"),
    "newer format": (dict(edit_doc=set_key("format_version", value=FORMAT_VERSION + 1)), "upgrade sknoise"),
    "parameter outside its constraint": (dict(edit_doc=set_key("params", "noise_scale", value=-1.0)), "noise_scale"),
    "network parameter outside its constraint": (
        dict(edit_doc=set_key("fitted", "fit_params", "hidden_layer_sizes", value={"__tuple__": [0]})),
        "hidden_layer_sizes"),
    "unknown parameter": (dict(edit_doc=set_key("params", "evil", value=1)), "unexpected keys"),
    "extra metadata key": (dict(edit_doc=set_key("fitted", "attributes", "evil_", value=1)), "unexpected keys"),
    "extra top-level key": (dict(edit_doc=set_key("__reduce__", value="os.system")), "unexpected keys"),
    "unknown tagged value": (dict(edit_doc=set_key("params", "activation", value={"__import__": "os"})),
                             "unknown tagged value"),
    "invalid attribute": (dict(edit_doc=set_key("fitted", "attributes", "best_epoch_", value=-3)), "best_epoch_"),
    "shape mismatch": (dict(edit_tensors=lambda t: t.__setitem__(weight_name(t), torch.zeros(2, 2, 2))),
                       "shape"),
    "dtype mismatch": (dict(edit_tensors=lambda t: t.__setitem__(weight_name(t), t[weight_name(t)].double())),
                       "float64"),
    "extra tensor": (dict(edit_tensors=lambda t: t.__setitem__("module/evil", torch.zeros(3))), "belong to nothing"),
    "missing tensor": (dict(edit_tensors=lambda t: t.pop(weight_name(t))), "missing"),
    "optimizer state of another shape": (
        dict(edit_tensors=lambda t: t.__setitem__("optimizer/0/exp_avg", torch.zeros(1)),), "exp_avg"),
    "class counts of another shape": (
        dict(edit_doc=set_key("fitted", "attributes", "_class_counts_", "shape", value=[2])), "_class_counts_"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_load_refuses_a_tampered_file_with_a_clear_error(case, saved, tmp_path):
    edits, message = TAMPERING[case]
    path = rewrite(saved, tmp_path / "tampered.safetensors", **edits)
    with pytest.raises(ModelFileError, match=message):
        load(path)


def test_load_refuses_a_truncated_file(saved, tmp_path):
    data = saved.read_bytes()
    for size in (0, 5, 100, len(data) // 2, len(data) - 1):
        path = tmp_path / f"cut{size}.safetensors"
        path.write_bytes(data[:size])
        with pytest.raises(ModelFileError, match="truncated"):
            load(path)


def test_load_refuses_a_pickle_and_other_files(iris, tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(sknoise.NoisyMLPClassifier()))
    with pytest.raises(ModelFileError, match="pickle"):
        load(path)
    other = tmp_path / "other.safetensors"
    safetensors.torch.save_file({"w": torch.zeros(2)}, other)
    with pytest.raises(ModelFileError, match="not an sknoise model file"):
        load(other)
    with pytest.raises(ModelFileError, match="Cannot read"):
        load(tmp_path / "missing.safetensors")


def test_the_file_is_one_safetensors_file_with_one_json_document(saved):
    with safetensors.safe_open(saved, framework="pt") as f:
        metadata, names = f.metadata(), set(f.keys())
    assert set(metadata) == {"sknoise"}
    doc = json.loads(metadata["sknoise"])
    assert doc["format"] == "sknoise-model" and doc["format_version"] == FORMAT_VERSION
    assert doc["sknoise_version"] == sknoise.__version__ and doc["estimator"] == "NoisyEBMClassifier"
    assert doc["fitted"]["attributes"]["classes_"]["__values__"] == LABELS.tolist()
    assert {"module/temperature", "module/log_prior", "criterion/log_temperature", "net/shuffle_generator"} <= names
    assert any(name.startswith("optimizer/") for name in names)


# ----------------------------------------------------------------------------- size and history
def test_without_optimizer_state_the_file_is_smaller_and_predicts_alike(iris, tmp_path):
    X, y = iris
    model = sknoise.NoisyMLPClassifier(**{**FAST, "hidden_layer_sizes": (64, 64)}).fit(X, y)
    full, light = tmp_path / "full.safetensors", tmp_path / "light.safetensors"
    save(model, full)
    save(model, light, optimizer_state=False)
    assert light.stat().st_size < 0.5 * full.stat().st_size
    loaded = load(light)
    assert_same_predictions(model, loaded, X)
    assert loaded.net_.optimizer_.state_dict()["state"] == {}
    loaded.partial_fit(X, y)  # a fresh optimizer state
    assert loaded.n_iter_ == model.n_iter_ + 1


def test_a_long_history_keeps_its_epochs_and_drops_its_batches(iris, tmp_path, monkeypatch):
    X, y = iris
    model = sknoise.NoisyMLPRegressor(**FAST, batch_size=16).fit(X, X[:, 0])
    monkeypatch.setattr(sknoise._persistence, "MAX_BATCH_ROWS_KEPT", 10)
    loaded = round_trip(model, tmp_path)
    assert loaded.loss_curve_ == model.loss_curve_
    assert [row["batches"] for row in loaded.history_] == [[]] * model.n_iter_
    loaded.partial_fit(X, X[:, 0])
    assert len(loaded.history_[-1]["batches"]) == 10


# ----------------------------------------------------------------------------- devices
def test_load_on_a_named_device(iris, tmp_path):
    X, y = iris
    model = sknoise.NoisyMLPClassifier(**FAST).fit(X, y)
    loaded = round_trip(model, tmp_path, device="cpu")
    assert loaded.device_ == "cpu" and loaded.device == "cpu"
    with pytest.raises(ValueError, match="not a torch device"):
        load(tmp_path / "model.safetensors", device="gpu7")


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without CUDA")
def test_a_model_saved_on_cuda_loads_on_the_cpu_of_a_machine_without_one(iris, tmp_path):
    X, y = iris
    model = sknoise.NoisyMLPClassifier(**FAST).fit(X, y)
    save(model, tmp_path / "cpu.safetensors")

    def on_cuda(doc):
        doc["params"]["device"] = doc["fitted"]["fit_params"]["device"] = "cuda"
        doc["fitted"]["net"]["device"] = "cuda:0"

    path = rewrite(tmp_path / "cpu.safetensors", tmp_path / "cuda.safetensors", edit_doc=on_cuda)
    with pytest.raises(ValueError, match="not available"):
        load(path, device="cuda")
    with pytest.warns(UserWarning, match="loaded on the CPU"):
        loaded = load(path)
    assert loaded.device_ == "cpu" and loaded.device == "cpu"
    assert_same_predictions(model, loaded, X)
    loaded.partial_fit(X, y)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@each(ESTIMATORS)
def test_cuda_round_trip(cls, iris, tmp_path):
    X, _ = iris
    y = targets(cls, X)
    model = cls(**FAST, device="cuda", n_members=2, inference_noise="same", n_inference_samples=8).fit(X, y)
    path = tmp_path / "model.safetensors"
    save(model, path)
    assert_round_trip_continues_exactly(model, X, y, tmp_path)
    on_gpu, on_cpu = load(path), load(path, device="cpu")
    assert on_gpu.device_.startswith("cuda")
    assert on_cpu.device_ == "cpu" and on_cpu.device == "cpu"
    assert all(not p.is_cuda for p in on_cpu.net_.module_.parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for left, right in zip(predictions(on_gpu, X), predictions(on_cpu, X)):
            if left.dtype.kind == "f":
                np.testing.assert_allclose(left, right, atol=1e-4)
    on_cpu.partial_fit(X, y)

"""sknoise.to_onnx: the exported graph, run in onnxruntime, matches predict_proba / predict."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

import sknoise
from sknoise import NoisyEBMClassifier, NoisyMLPClassifier, NoisyMLPRegressor, to_onnx

from ._common import CLASSIFIERS, ESTIMATORS, each

onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_epochs=5, early_stopping=False, random_state=0)
TOLERANCE = 1e-5


def table(n=300, seed=0, categorical=True):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"age": rng.normal(40, 10, n), "income": rng.lognormal(10, 1, n),
                          "score": rng.normal(size=n)})
    frame.loc[::7, "age"] = np.nan
    if categorical:
        frame["city"] = pd.Categorical(rng.choice(["Oslo", "Lima", "Pune"], n))  # one-hot
        frame["shop"] = rng.choice([f"s{i}" for i in range(40)], n).astype(object)  # embedded codes
        frame.loc[::11, "shop"] = None
    return frame


def target(cls, frame):
    signal = frame["age"].fillna(40).to_numpy() / 10 + frame["score"].to_numpy()
    if cls in CLASSIFIERS:
        return np.where(signal > np.median(signal), "high", "low")
    return 3.0 * signal + 100.0


def run(path, features):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": features})[0]


def expected(model, X):
    return model.predict_proba(X) if hasattr(model, "predict_proba") else model.predict(X)


@each(ESTIMATORS)
def test_the_graph_matches_the_prediction_on_a_table_with_categories(cls, tmp_path):
    frame = table()
    # max_onehot=5 embeds the 40 shops (codes) for the networks that embed; the EBM one-hot encodes them.
    params = dict(max_onehot=5, n_members=2) if cls._architecture.embeds_inputs else dict(n_members=2)
    model = cls(**FAST, **params).fit(frame, target(cls, frame))
    if cls._architecture.embeds_inputs:
        assert model.preprocessor_.layout_.codes  # embedded categorical codes are in the graph
    path = tmp_path / "model.onnx"
    to_onnx(model, path)
    got = run(path, model.transform_input(frame))
    np.testing.assert_allclose(got, expected(model, frame), rtol=TOLERANCE, atol=TOLERANCE)
    # Any number of rows, one included.
    np.testing.assert_allclose(run(path, model.transform_input(frame.head(1))), expected(model, frame.head(1)),
                               rtol=TOLERANCE, atol=TOLERANCE)


def test_periodic_embeddings_and_multi_output_regression(tmp_path):
    frame = table()
    y = np.column_stack([target(NoisyMLPRegressor, frame), frame["income"].to_numpy()])
    model = NoisyMLPRegressor(**FAST, numeric_embedding="periodic").fit(frame, y)
    path = tmp_path / "model.onnx"
    to_onnx(model, path)
    got = run(path, model.transform_input(frame))
    assert got.dtype == np.float64 and got.shape == (len(frame), 2)
    np.testing.assert_allclose(got, model.predict(frame), rtol=TOLERANCE, atol=TOLERANCE)


@each([NoisyMLPClassifier, sknoise.NINRClassifier])
def test_the_calibration_temperature_is_in_the_graph(cls, tmp_path):
    frame = table(categorical=False)
    y = target(cls, frame)
    model = cls(**{**FAST, "early_stopping": True}, calibration="temperature").fit(frame, y)
    model.temperature_ = 2.5  # far from 1, so that a graph without it would differ
    path = tmp_path / "model.onnx"
    to_onnx(model, path)
    np.testing.assert_allclose(run(path, model.transform_input(frame)), model.predict_proba(frame),
                               rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize("aggregate", ["mean", "logmeanexp"])
def test_the_ebm_posterior_with_members(aggregate, iris, tmp_path):
    X, y = iris
    model = NoisyEBMClassifier((8,), max_epochs=5, n_members=3, energy_aggregate=aggregate, random_state=0,
                               preprocessing=None).fit(X, y)
    path = tmp_path / "ebm.onnx"
    to_onnx(model, path)
    np.testing.assert_allclose(run(path, model.transform_input(X)), model.predict_proba(X), rtol=TOLERANCE,
                               atol=TOLERANCE)


@pytest.mark.parametrize("scaling", ["robust", "standard"])
@each([NoisyMLPClassifier, NoisyMLPRegressor])
def test_the_numeric_preprocessing_can_go_into_the_graph(cls, scaling, tmp_path):
    frame = table(categorical=False)
    y = target(cls, frame)
    frame.loc[5, "income"] = 1e9  # an outlier the smooth clip tames
    frame.loc[::5, "score"] = np.nan  # a second column with missing values (and its indicator)
    model = cls(**FAST, numeric_scaling=scaling).fit(frame, y)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, preprocessing=True)
    got = run(path, frame.to_numpy(dtype=np.float64))
    np.testing.assert_allclose(got, expected(model, frame), rtol=TOLERANCE, atol=TOLERANCE)


def test_what_the_graph_cannot_hold_is_refused(iris, tmp_path):
    frame = table()
    with_categories = NoisyMLPClassifier(**FAST).fit(frame, target(NoisyMLPClassifier, frame))
    with pytest.raises(ValueError, match="categorical columns"):
        to_onnx(with_categories, tmp_path / "m.onnx", preprocessing=True)
    numeric = table(categorical=False)
    quantile = NoisyMLPClassifier(**FAST, numeric_scaling="quantile").fit(numeric, target(NoisyMLPClassifier,
                                                                                           numeric))
    with pytest.raises(ValueError, match="quantile"):
        to_onnx(quantile, tmp_path / "m.onnx", preprocessing=True)
    X, y = iris
    without = NoisyMLPClassifier(**FAST, preprocessing=None).fit(X, y)
    with pytest.raises(ValueError, match="no preprocessing"):
        to_onnx(without, tmp_path / "m.onnx", preprocessing=True)
    with pytest.raises(NotFittedError):
        to_onnx(NoisyMLPClassifier(), tmp_path / "m.onnx")


def test_monte_carlo_models_export_their_deterministic_prediction_with_a_warning(iris, tmp_path):
    X, y = iris
    model = NoisyMLPClassifier(**FAST, preprocessing=None, inference_noise="same", n_inference_samples=8).fit(X, y)
    path = tmp_path / "model.onnx"
    with pytest.warns(UserWarning, match="deterministic"):
        to_onnx(model, path)
    model.set_params(inference_noise=None)
    np.testing.assert_allclose(run(path, model.transform_input(X)), model.predict_proba(X), rtol=TOLERANCE,
                               atol=TOLERANCE)


def test_transform_input_validates_as_predict_does(iris):
    X, y = iris
    model = NoisyMLPClassifier(**FAST).fit(X, y)
    features = model.transform_input(X)
    assert features.dtype == np.float32 and features.shape == (len(X), 4)
    with pytest.raises(ValueError, match="features"):
        model.transform_input(X[:, :3])
    with pytest.raises(ValueError, match="infinity"):
        model.transform_input(np.where(X == X[0, 0], np.inf, X))
    with pytest.raises(NotFittedError):
        NoisyMLPClassifier().transform_input(X)


@pytest.mark.parametrize("params", [
    dict(batch_norm="after", activation="nah_sigmoid", dropout=0.2, noise_placement=("input", "pre_activation")),
    dict(batch_norm="before", activation="nani_tanh", n_members=2, hidden_layer_sizes=(8, 8)),
])
def test_the_mlp_variants_export(params, iris, tmp_path):
    X, y = iris
    model = NoisyMLPClassifier(**{**FAST, **params}, preprocessing=None).fit(X, y)
    path = tmp_path / "model.onnx"
    to_onnx(model, path)
    np.testing.assert_allclose(run(path, model.transform_input(X)), model.predict_proba(X), rtol=TOLERANCE,
                               atol=TOLERANCE)


@each([NoisyMLPRegressor, sknoise.NINRRegressor])
def test_a_gaussian_head_exports_its_mean(cls, iris, tmp_path):
    X, y = iris
    model = cls(**FAST, loss="gaussian_nll", n_members=2, preprocessing=None).fit(X, X[:, :2])
    path = tmp_path / "model.onnx"
    to_onnx(model, path)
    np.testing.assert_allclose(run(path, model.transform_input(X)), model.predict(X), rtol=TOLERANCE,
                               atol=TOLERANCE)


def test_ninr_with_a_node_at_every_layer(iris, tmp_path):
    X, y = iris
    model = sknoise.NINRRegressor(**FAST, nin_placement="all", preprocessing=None).fit(X, X[:, 0])
    path = tmp_path / "model.onnx"
    to_onnx(model, path)
    np.testing.assert_allclose(run(path, model.transform_input(X)), model.predict(X), rtol=TOLERANCE,
                               atol=TOLERANCE)

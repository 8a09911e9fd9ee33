"""CUDA: training, Monte-Carlo inference and noise draws on the GPU; loading a GPU model on the CPU.

Skipped without a CUDA device.
"""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from sknoise import NoiseLayer, NoiseRNG, NoiseSpec, NoisyMLPClassifier, apply_noise, available_noises

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

# These tests look at the network itself, on standardized inputs; the built-in preprocessing
# is tested in tests/test_preprocessing.py.
FAST = dict(hidden_layer_sizes=(16,), max_epochs=30, lr=0.02, early_stopping=False, random_state=0, preprocessing=None)


@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_fit_and_predict_on_cuda(iris_split, device):
    X_train, X_test, y_train, y_test = iris_split
    clf = NoisyMLPClassifier(device=device, noise_placement=("input", "post_activation"), **FAST)
    clf.fit(X_train, y_train)
    assert clf.device_.startswith("cuda")
    assert all(p.is_cuda for p in clf.net_.module_.parameters())
    assert clf.score(X_test, y_test) >= 0.9
    proba = clf.predict_proba(X_test)
    assert isinstance(proba, np.ndarray) and proba.shape == (len(X_test), 3)


def test_early_stopping_and_batch_norm_on_cuda(iris):
    X, y = iris
    clf = NoisyMLPClassifier(
        **{**FAST, "early_stopping": True, "max_epochs": 200, "n_iter_no_change": 5},
        batch_norm="before",
        dropout=0.1,
        max_norm=2.0,
        device="cuda",
    ).fit(X, y)
    assert clf.n_iter_ < 200
    assert clf.score(X, y) > 0.9


def test_monte_carlo_inference_on_cuda(iris):
    X, y = iris
    clf = NoisyMLPClassifier(device="cuda", noise_scale=0.5, inference_noise="same", n_inference_samples=16, **FAST)
    clf.fit(X, y)
    proba, std = clf.predict_proba(X, return_std=True)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (std > 0).any()
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    # The training generator lives on the GPU (Monte-Carlo draws are made there per call).
    assert any(device.startswith("cuda") for device in clf.net_.module_.noise_rng._generators)
    # Chunked passes agree with one chunk up to the Monte-Carlo error.
    clf.set_params(inference_memory_mb=0.01)
    chunked = clf.predict_proba(X)
    assert np.abs(chunked - proba).mean() < 0.03


@pytest.mark.parametrize("inference_noise", [None, "same"])
def test_cuda_model_loads_on_a_machine_without_cuda(iris, tmp_path, inference_noise):
    """Pickle on the GPU, unpickle in a process that sees no GPU: skorch maps the net to the CPU."""
    X, y = iris
    clf = NoisyMLPClassifier(
        device="cuda", noise_scale=0.3, inference_noise=inference_noise, n_inference_samples=16, **FAST
    ).fit(X, y)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", clf.predict(X))
    with open(tmp_path / "clf.pkl", "wb") as f:
        pickle.dump(clf, f)
    script = textwrap.dedent(
        """
        import pickle, sys, warnings
        import numpy as np, torch
        assert not torch.cuda.is_available()
        folder = sys.argv[1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skorch warns that it maps CUDA to the CPU
            with open(folder + "/clf.pkl", "rb") as f:
                clf = pickle.load(f)
        assert clf.device_ == "cpu", clf.device_
        assert not any(p.is_cuda for p in clf.net_.module_.parameters())
        np.save(folder + "/predicted.npy", clf.predict(np.load(folder + "/X.npy")))
        """
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    predicted, expected = np.load(tmp_path / "predicted.npy"), np.load(tmp_path / "expected.npy")
    agreement = (predicted == expected).mean()
    # Deterministic: the same classes; with inference noise the CPU draws differ from the GPU ones.
    assert agreement == 1.0 if inference_noise is None else agreement > 0.95


def test_cuda_model_pickles_on_the_gpu(iris):
    X, y = iris
    clf = NoisyMLPClassifier(device="cuda", inference_noise="same", n_inference_samples=8, **FAST).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.device_.startswith("cuda")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("name", [n for n in available_noises() if n != "none"])
def test_noise_draws_happen_on_the_cuda_device(name):
    x = torch.ones(1000, 8, device="cuda")
    g = torch.Generator(device="cuda").manual_seed(0)
    out = apply_noise(x, name, 0.3, g)
    assert out.is_cuda and out.dtype == x.dtype
    assert not torch.equal(out, x)
    again = apply_noise(x, name, 0.3, torch.Generator(device="cuda").manual_seed(0))
    assert torch.equal(out, again)


def test_noise_layer_creates_its_generator_on_the_tensor_device():
    rng = NoiseRNG(0, 1)
    layer = NoiseLayer(NoiseSpec.make("gaussian", 1.0), rng).train()
    out = layer(torch.zeros(100, device="cuda"))
    assert out.is_cuda
    assert rng.generator(torch.device("cuda", 0)).device.type == "cuda"

"""Noise schedules."""

import math

import pytest
import torch

from sknoise._runtime._schedules import noise_schedule_factor
from sknoise.nn._layers import NoiseLayer, NoiseRNG, NoiseSpec


@pytest.mark.parametrize("schedule", ["linear", "exponential", "cosine"])
def test_decaying_schedules_start_at_one_end_at_end_and_decrease(schedule):
    factors = [noise_schedule_factor(schedule, e, 11, end=0.1) for e in range(11)]
    assert factors[0] == pytest.approx(1.0)
    assert factors[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(factors, factors[1:]))
    # Past the horizon (partial_fit keeps going) the factor stays at the end value.
    assert noise_schedule_factor(schedule, 50, 11, end=0.1) == pytest.approx(0.1)


def test_schedule_shapes_differ_in_the_middle():
    mid = {s: noise_schedule_factor(s, 5, 11, end=0.0) for s in ["linear", "exponential", "cosine"]}
    assert mid["linear"] == pytest.approx(0.5)
    assert mid["cosine"] == pytest.approx(0.5)
    assert mid["exponential"] == pytest.approx(math.sqrt(1e-3))
    assert noise_schedule_factor("cosine", 2, 11) > noise_schedule_factor("linear", 2, 11)


def test_constant_and_callable_schedules():
    assert noise_schedule_factor("constant", 7, 10, end=0.0) == 1.0
    assert noise_schedule_factor(lambda e, n: 2.0 / (1 + e), 3, 10) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="finite factor"):
        noise_schedule_factor(lambda e, n: -1.0, 0, 10)
    with pytest.raises(ValueError, match="valid names"):
        noise_schedule_factor("sawtooth", 0, 10)


def test_noise_layer_reads_the_schedule_factor_in_training_only():
    rng = NoiseRNG(0, 1)
    layer = NoiseLayer(NoiseSpec.make("gaussian", 1.0), rng).train()
    x = torch.zeros(20000)
    full = layer(x).std()
    layer.schedule_factor = 0.25
    assert layer(x).std() == pytest.approx(0.25 * float(full), rel=0.05)
    from ._common import run_passes

    # Monte-Carlo inference noise is not annealed (one draw per pass, shared by the rows).
    passes = run_passes(layer.eval(), torch.zeros(1, 50), 2000)
    assert passes.std() == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("estimator", ["NoisyMLPClassifier", "NINRClassifier"])
def test_estimators_record_the_annealed_noise_scale(estimator):
    import numpy as np
    from sklearn.datasets import load_iris

    import sknoise

    X, y = load_iris(return_X_y=True)
    clf = getattr(sknoise, estimator)(
        (8,), noise="gaussian", noise_scale=0.4, noise_schedule="linear", noise_schedule_end=0.0, max_epochs=5,
        early_stopping=False, random_state=0,
    ).fit(X, y)
    np.testing.assert_allclose(clf.history_[:, "noise_scale"], [0.4, 0.3, 0.2, 0.1, 0.0])
    sources = [s for s in clf.net_.module_.noise_sources() if s.follows_schedule]
    assert sources and all(s.schedule_factor == 0.0 for s in sources)
    # A constant schedule records the same noise every epoch.
    constant = getattr(sknoise, estimator)(
        (8,), noise="gaussian", noise_scale=0.4, max_epochs=5, early_stopping=False, random_state=0
    ).fit(X, y)
    assert constant.history_[:, "noise_scale"] == [0.4] * 5


def test_unknown_schedule_is_rejected_at_fit():
    from sklearn.datasets import load_iris

    from sknoise import NoisyMLPClassifier

    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="noise_schedule"):
        NoisyMLPClassifier(noise_schedule="sawtooth").fit(X, y)

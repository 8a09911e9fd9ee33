"""Noise layers: train vs inference behaviour, activation noise, the dropout identity, seeded streams."""

import copy
import pickle

import pytest
import torch
from torch import nn

from sknoise import ActivationNoise, NoiseLayer, NoiseRNG, NoiseSpec, get_noise
from sknoise._layers import set_inference_noise

CPU = torch.device("cpu")


def clone_generator(g: torch.Generator) -> torch.Generator:
    twin = torch.Generator()
    twin.set_state(g.get_state())
    return twin


def test_noise_spec_activity():
    assert NoiseSpec.make("gaussian", 0.1).active
    assert not NoiseSpec.make("gaussian", 0.0).active
    assert not NoiseSpec.make("none", 0.5).active
    assert not NoiseSpec.make(None, 0.5).active
    assert NoiseSpec.make("laplace", 1).scale == 1.0


def test_rng_streams_start_from_their_seeds():
    rng = NoiseRNG(train_seed=3, inference_seed=4)
    train = torch.randn(5, generator=rng.generator(CPU, training=True))
    infer = torch.randn(5, generator=rng.generator(CPU, training=False))
    assert torch.equal(train, torch.randn(5, generator=torch.Generator().manual_seed(3)))
    assert torch.equal(infer, torch.randn(5, generator=torch.Generator().manual_seed(4)))
    # One generator per stream and device, kept between calls.
    assert rng.generator(CPU, True) is rng.generator(CPU, True)
    assert rng.generator(CPU, True) is not rng.generator(CPU, False)


def test_train_and_inference_streams_are_independent():
    a, b = NoiseRNG(1, 2), NoiseRNG(1, 2)
    torch.rand(1000, generator=a.generator(CPU, True))  # spend training draws on `a` only
    assert torch.equal(
        torch.rand(10, generator=a.generator(CPU, False)),
        torch.rand(10, generator=b.generator(CPU, False)),
    )
    same_seed = NoiseRNG(7, 7)
    assert same_seed.generator(CPU, True) is not same_seed.generator(CPU, False)


def test_reseed_restarts_only_the_named_stream():
    rng = NoiseRNG(1, 2)
    first_infer = torch.rand(4, generator=rng.generator(CPU, False))
    torch.rand(4, generator=rng.generator(CPU, True))
    second_train = torch.rand(4, generator=rng.generator(CPU, True))
    rng.reseed("inference")
    assert torch.equal(torch.rand(4, generator=rng.generator(CPU, False)), first_infer)
    # The training stream continues where it was.
    third_train = torch.rand(4, generator=rng.generator(CPU, True))
    assert not torch.equal(third_train, second_train)
    rng.reseed("inference", seed=9)
    assert rng.seeds["inference"] == 9
    assert torch.equal(
        torch.rand(4, generator=rng.generator(CPU, False)), torch.rand(4, generator=torch.Generator().manual_seed(9))
    )


def test_rng_pickles_without_generators_and_restarts_from_seeds():
    rng = NoiseRNG(11, 12)
    fresh = torch.rand(6, generator=rng.generator(CPU, True))
    torch.rand(6, generator=rng.generator(CPU, False))
    state = rng.__getstate__()
    assert state["seeds"] == {"train": 11, "inference": 12}
    assert all(v is not rng._generators for v in state.values())
    assert not any(isinstance(v, torch.Generator) for v in state.values())
    loaded = pickle.loads(pickle.dumps(rng))
    assert loaded._generators == {}
    assert loaded.seeds == rng.seeds
    assert torch.equal(torch.rand(6, generator=loaded.generator(CPU, True)), fresh)
    # A deep copy (used by clone and skorch) behaves the same way.
    assert copy.deepcopy(rng)._generators == {}


def test_noise_layer_applies_train_noise_in_train_mode():
    rng = NoiseRNG(5, 6)
    layer = NoiseLayer(NoiseSpec.make("gaussian", 0.3), rng).train()
    x = torch.randn(50, 4)
    twin = clone_generator(rng.generator(CPU, True))
    out = layer(x)
    torch.testing.assert_close(out, x + 0.3 * torch.randn(50, 4, generator=twin))


def test_noise_layer_is_identity_in_eval_mode_without_inference_noise():
    layer = NoiseLayer(NoiseSpec.make("gaussian", 0.3), NoiseRNG(5, 6)).eval()
    x = torch.randn(50, 4)
    assert layer(x) is x


def test_noise_layer_uses_inference_noise_and_stream_in_eval_mode():
    rng = NoiseRNG(5, 6)
    layer = NoiseLayer(NoiseSpec.make("gaussian", 0.3), rng)
    layer.set_inference_noise(NoiseSpec.make("uniform", 0.5))
    layer.eval()
    x = torch.randn(50, 4)
    twin = clone_generator(rng.generator(CPU, False))
    expected = x + 0.5 * (torch.rand(50, 4, generator=twin) - 0.5) * 2 * 3**0.5
    torch.testing.assert_close(layer(x), expected)
    # Training draws are untouched by eval-mode noise.
    assert torch.equal(
        torch.rand(3, generator=rng.generator(CPU, True)), torch.rand(3, generator=torch.Generator().manual_seed(5))
    )
    layer.set_inference_noise(None)
    assert layer(x) is x


def test_inactive_inference_noise_is_stored_as_off():
    layer = NoiseLayer(NoiseSpec.make("gaussian", 0.3), NoiseRNG(0, 1))
    layer.set_inference_noise(NoiseSpec.make("gaussian", 0.0))
    assert layer.inference_noise is None
    assert "inference=off" in repr(layer)


def test_layer_not_following_inference_noise_ignores_it():
    layer = NoiseLayer(NoiseSpec.make("dropout", 0.5), NoiseRNG(0, 1), follows_inference_noise=False)
    layer.set_inference_noise(NoiseSpec.make("gaussian", 1.0))
    assert layer.inference_noise is None
    x = torch.randn(20, 3)
    assert layer.eval()(x) is x
    assert (layer.train()(x) == 0).any()


def test_set_inference_noise_reaches_nested_layers():
    rng = NoiseRNG(0, 1)
    spec = NoiseSpec.make("gaussian", 0.2)
    net = nn.Sequential(
        NoiseLayer(spec, rng),
        nn.Linear(3, 3),
        ActivationNoise(nn.ReLU(), spec, rng),
        NoiseLayer(NoiseSpec.make("dropout", 0.5), rng, follows_inference_noise=False),
    )
    inference = NoiseSpec.make("laplace", 0.1)
    set_inference_noise(net, inference)
    assert net[0].inference_noise == inference
    assert net[2].noise.inference_noise == inference
    assert net[3].inference_noise is None
    set_inference_noise(net, None)
    assert net[0].inference_noise is None and net[2].noise.inference_noise is None


@pytest.mark.parametrize("name", ["gaussian", "cauchy", "rademacher"])
def test_activation_noise_is_f_of_a_plus_alpha_z(name):
    rng = NoiseRNG(21, 22)
    alpha = 0.4
    layer = ActivationNoise(nn.Tanh(), NoiseSpec.make(name, alpha), rng).train()
    a = torch.randn(30, 7, dtype=torch.float64)
    twin = clone_generator(rng.generator(CPU, True))
    z = get_noise(name).sample((30, 7), generator=twin, device=CPU, dtype=torch.float64)
    torch.testing.assert_close(layer(a), torch.tanh(a) + alpha * z)
    # Eval mode without inference noise: the clean activation (the noise's expectation).
    torch.testing.assert_close(layer.eval()(a), torch.tanh(a))


def test_activation_noise_generalizes_dropout():
    """methods.md section 1: dropout t = m·s is activation noise t = s + z with z = (m/(1-p) - 1)·s."""
    p = 0.4
    rng = NoiseRNG(8, 9)
    layer = ActivationNoise(nn.ReLU(), NoiseSpec.make("dropout", p), rng).train()
    a = torch.randn(200, 16, dtype=torch.float64)
    twin = clone_generator(rng.generator(CPU, True))
    t = layer(a)

    # The same Bernoulli(1-p) keep mask m, from the same stream.
    m = (torch.rand(200, 16, generator=twin, dtype=torch.float64) < 1 - p).to(torch.float64)
    s = torch.relu(a)
    z = (m / (1 - p) - 1) * s
    torch.testing.assert_close(t, s + z)
    # ... which is exactly inverted dropout of the activation.
    torch.testing.assert_close(t, m * s / (1 - p))
    # The additive noise is signal dependent: zero wherever the activation is zero.
    assert torch.all(z[s == 0] == 0)
    assert (z != 0).any()


def test_noise_layers_in_a_module_survive_pickling():
    rng = NoiseRNG(1, 2)
    net = nn.Sequential(nn.Linear(3, 4), ActivationNoise(nn.ReLU(), NoiseSpec.make("gaussian", 0.5), rng))
    x = torch.randn(8, 3)
    net.train()
    out = net(x)
    loaded = pickle.loads(pickle.dumps(net))
    # The loaded layers share one rng again, restarted from its seed.
    assert loaded[1].noise.rng.seeds == rng.seeds
    torch.testing.assert_close(loaded.train()(x), out)

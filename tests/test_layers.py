"""Noise layers: train vs inference behaviour, activation noise, the dropout identity, seeded streams."""

import copy
import pickle

import pytest
import torch
from torch import nn

from sknoise import ActivationNoise, NoiseLayer, NoiseRNG, NoiseSpec, get_noise
from sknoise.nn._layers import InferenceNoise, NoisyModule

from ._common import run_passes

CPU = torch.device("cpu")


def clone_generator(g: torch.Generator) -> torch.Generator:
    twin = torch.Generator()
    twin.set_state(g.get_state())
    return twin


def first_training_draw(rng: NoiseRNG, name: str, shape, dtype=torch.float32) -> torch.Tensor:
    """What a fresh ``rng``'s first training draw of ``name`` noise must be: a window of
    the bank of exact draws for the built-in additive kinds, a fresh draw otherwise."""
    import math
    import random

    from sknoise.nn._layers import BANK_MIN_SIZE, BANK_WINDOWS

    twin, distribution = clone_generator(rng.generator(CPU)), get_noise(name)
    if not distribution.banked:
        return distribution.sample(shape, generator=twin, device=CPU, dtype=dtype)
    n = math.prod(shape)
    size = max(BANK_MIN_SIZE, BANK_WINDOWS * n)
    bank = distribution.sample((size,), generator=twin, device=CPU, dtype=dtype)
    start = random.Random(rng.seeds["train"]).randrange(size - n + 1)
    return bank[start:start + n].view(shape)


def test_noise_spec_activity():
    assert NoiseSpec.make("gaussian", 0.1).active
    assert not NoiseSpec.make("gaussian", 0.0).active
    assert not NoiseSpec.make("none", 0.5).active
    assert not NoiseSpec.make(None, 0.5).active
    assert NoiseSpec.make("laplace", 1).scale == 1.0


def test_rng_train_stream_starts_from_its_seed_and_is_kept():
    rng = NoiseRNG(train_seed=3, inference_seed=4)
    train = torch.randn(5, generator=rng.generator(CPU))
    assert torch.equal(train, torch.randn(5, generator=torch.Generator().manual_seed(3)))
    # One generator per device, kept between calls.
    assert rng.generator(CPU) is rng.generator(CPU)


def test_reseed_restarts_the_named_stream():
    rng = NoiseRNG(1, 2)
    first = torch.rand(4, generator=rng.generator(CPU))
    rng.reseed("inference", seed=9)
    assert rng.seeds["inference"] == 9
    # The training stream continues where it was, until it is reseeded itself.
    assert not torch.equal(torch.rand(4, generator=rng.generator(CPU)), first)
    rng.reseed("train")
    assert torch.equal(torch.rand(4, generator=rng.generator(CPU)), first)
    with pytest.raises(ValueError, match="stream"):
        rng.reseed("test")


def test_rng_pickles_without_generators_and_restarts_from_seeds():
    rng = NoiseRNG(11, 12)
    fresh = torch.rand(6, generator=rng.generator(CPU))
    state = rng.__getstate__()
    assert state["seeds"] == {"train": 11, "inference": 12}
    assert not any(isinstance(v, torch.Generator) for v in state.values())
    loaded = pickle.loads(pickle.dumps(rng))
    assert loaded._generators == {}
    assert loaded.seeds == rng.seeds
    assert torch.equal(torch.rand(6, generator=loaded.generator(CPU)), fresh)
    # A deep copy (used by clone and skorch) behaves the same way.
    assert copy.deepcopy(rng)._generators == {}


def test_noise_layer_applies_train_noise_in_train_mode():
    rng = NoiseRNG(5, 6)
    layer = NoiseLayer(NoiseSpec.make("gaussian", 0.3), rng).train()
    x = torch.randn(50, 4)
    expected = x + 0.3 * first_training_draw(rng, "gaussian", (50, 4))
    torch.testing.assert_close(layer(x), expected)


@pytest.mark.parametrize("noise", ["gaussian", "uniform", "rademacher"])
def test_banked_training_noise_has_the_distribution_and_is_redrawn(noise):
    from sknoise.nn._layers import BANK_MIN_SIZE, BANK_REUSE

    rng = NoiseRNG(5, 6)
    layer = NoiseLayer(NoiseSpec.make(noise, 1.0), rng).train()
    x = torch.zeros(256, 128)
    draws = torch.stack([layer(x) for _ in range(4 * BANK_REUSE * BANK_MIN_SIZE // x.numel())])
    assert abs(float(draws.mean())) < 0.01 and abs(float(draws.std()) - 1) < 0.01
    # Rows of one draw are not copies of each other, draws of two steps differ,
    # and the bank was redrawn (new values, not only new windows).
    assert not torch.equal(draws[0, 0], draws[0, 1]) and not torch.equal(draws[0], draws[1])
    if noise == "gaussian":
        first, last = set(draws[0].flatten().tolist()), set(draws[-1].flatten().tolist())
        assert len(first & last) < 0.01 * len(first)


def test_a_layer_too_large_for_the_bank_draws_fresh_noise_and_keeps_no_bank():
    # A full-batch fit of 10^6 rows x 256 neurons asked for a bank of 8 x 256M draws (8 GB).
    from sknoise.nn._layers import BANK_MAX_SIZE, BANK_WINDOWS

    rng = NoiseRNG(5, 6)
    layer = NoiseLayer(NoiseSpec.make("gaussian", 1.0), rng).train()
    x = torch.zeros(BANK_MAX_SIZE // BANK_WINDOWS + 1)
    first, second = layer(x), layer(x)
    assert not rng._banks
    assert abs(float(first.std()) - 1) < 0.01 and not torch.equal(first, second)


def test_banked_noise_is_reproducible_and_restarts_with_its_seed():
    def run(rng):
        layer = NoiseLayer(NoiseSpec.make("gaussian", 0.5), rng).train()
        return torch.stack([layer(torch.zeros(64, 32)) for _ in range(5)])

    rng = NoiseRNG(3, 4)
    first = run(rng)
    torch.testing.assert_close(run(NoiseRNG(3, 4)), first)
    assert not torch.equal(run(rng), first)  # the stream moved on
    rng.reseed("train")
    torch.testing.assert_close(run(rng), first)
    torch.testing.assert_close(run(pickle.loads(pickle.dumps(NoiseRNG(3, 4)))), first)


def test_noise_layer_is_identity_in_eval_mode_without_monte_carlo():
    layer = NoiseLayer(NoiseSpec.make("gaussian", 0.3), NoiseRNG(5, 6)).eval()
    x = torch.randn(50, 4)
    assert layer(x) is x


def test_monte_carlo_draws_are_common_to_all_rows():
    rng = NoiseRNG(5, 6)
    layer = NoiseLayer(NoiseSpec.make("gaussian", 0.3), rng).eval()
    x = torch.randn(7, 4)
    out = run_passes(layer, x, 10)
    assert out.shape == (10, 7, 4)
    noise = out - x
    # One draw per pass and feature, shared by the rows, at the training scale.
    torch.testing.assert_close(noise, noise[:, :1].expand_as(noise))
    assert 0.15 < float(noise[:, 0].std()) < 0.45
    # A row alone gets exactly what it got among the others.
    torch.testing.assert_close(run_passes(layer, x[3:4], 10)[:, 0], out[:, 3])
    # The training stream is untouched by Monte-Carlo draws.
    assert torch.equal(torch.rand(3, generator=rng.generator(CPU)),
                       torch.rand(3, generator=torch.Generator().manual_seed(5)))


def test_monte_carlo_draws_do_not_depend_on_how_passes_are_chunked():
    layer = NoiseLayer(NoiseSpec.make("laplace", 0.5), NoiseRNG(0, 1)).eval()
    x = torch.randn(3, 5)
    whole = run_passes(layer, x, 150)
    torch.testing.assert_close(run_passes(layer, x, 150, pass_chunks=[1, 70, 79]), whole)
    assert not torch.equal(run_passes(layer, x, 150, seed=1), whole)


def test_monte_carlo_noise_can_name_another_distribution_and_scale():
    layer = NoiseLayer(NoiseSpec.make("gaussian", 0.3), NoiseRNG(5, 6)).eval()
    x = torch.zeros(2, 400)
    out = run_passes(layer, x, 4, InferenceNoise(get_noise("uniform"), 0.5))
    assert float(out.abs().max()) <= 0.5 * 3**0.5 + 1e-6
    # A zero scale draws nothing: the rows come back once, unchanged.
    assert torch.equal(run_passes(layer, x, 4, InferenceNoise(None, 0.0)), x[None])


def test_a_dropout_layer_stays_off_under_monte_carlo_noise():
    layer = NoiseLayer(NoiseSpec.make("dropout", 0.5), NoiseRNG(0, 1), role="dropout")
    x = torch.randn(20, 3)
    assert torch.equal(run_passes(layer.eval(), x, 3), x[None])
    assert (layer.train()(x) == 0).any()


def test_a_network_knows_whether_monte_carlo_noise_reaches_it():
    rng = NoiseRNG(0, 1)
    spec = NoiseSpec.make("gaussian", 0.2)

    class Net(NoisyModule):
        def __init__(self, spec):
            super().__init__(rng)
            self.body = nn.Sequential(nn.Linear(3, 3), ActivationNoise(nn.ReLU(), spec, rng),
                                      NoiseLayer(NoiseSpec.make("dropout", 0.5), rng, role="dropout"))

        def forward(self, x):
            return self.body(x)

    net = Net(spec)
    assert len(net.noise_sources()) == 2
    assert net.draws_inference_noise(InferenceNoise())
    assert not net.draws_inference_noise(InferenceNoise(get_noise("none")))
    assert not Net(NoiseSpec.make("gaussian", 0.0)).draws_inference_noise(InferenceNoise())
    # The layers before the first noise source run once per row: the output has T x rows rows.
    out = run_passes(net.eval(), torch.randn(4, 3), 5)
    assert out.shape == (5, 4, 3)


@pytest.mark.parametrize("name", ["gaussian", "cauchy", "rademacher"])
def test_activation_noise_is_f_of_a_plus_alpha_z(name):
    rng = NoiseRNG(21, 22)
    alpha = 0.4
    layer = ActivationNoise(nn.Tanh(), NoiseSpec.make(name, alpha), rng).train()
    a = torch.randn(30, 7, dtype=torch.float64)
    z = first_training_draw(rng, name, (30, 7), torch.float64)
    torch.testing.assert_close(layer(a), torch.tanh(a) + alpha * z)
    # Eval mode without inference noise: the clean activation (the noise's expectation).
    torch.testing.assert_close(layer.eval()(a), torch.tanh(a))


def test_activation_noise_generalizes_dropout():
    """methods.md section 1: dropout t = m·s is activation noise t = s + z with z = (m/(1-p) - 1)·s."""
    p = 0.4
    rng = NoiseRNG(8, 9)
    layer = ActivationNoise(nn.ReLU(), NoiseSpec.make("dropout", p), rng).train()
    a = torch.randn(200, 16, dtype=torch.float64)
    twin = clone_generator(rng.generator(CPU))
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

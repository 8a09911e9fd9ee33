"""The noise registry: normalization, seeding, dtype/device, multiplicative kinds, custom noise."""

import math
import pickle

import numpy as np
import pytest
import torch

from sknoise import NoiseDistribution, apply_noise, available_noises, get_noise
from sknoise.nn._noise import MULTIPLICATIVE_NOISES

N_DRAWS = 200_000
ADDITIVE = [n for n in available_noises() if get_noise(n).kind == "additive"]
WITH_VARIANCE = [n for n in ADDITIVE if n != "cauchy"]

# Excess kurtosis (and skewness) of each unit-variance distribution: they tell the
# samplers apart, so a registry entry wired to the wrong sampler fails here.
EXCESS_KURTOSIS = {"gaussian": 0.0, "uniform": -1.2, "laplace": 3.0, "logistic": 1.2, "gumbel": 2.4, "rademacher": -2.0}
SKEWNESS = {"gaussian": 0.0, "uniform": 0.0, "laplace": 0.0, "logistic": 0.0, "gumbel": 1.1395, "rademacher": 0.0}


def draw(noise, n=N_DRAWS, seed=0, dtype=torch.float64, scale=None):
    g = torch.Generator().manual_seed(seed)
    return get_noise(noise).sample((n,), generator=g, device="cpu", dtype=dtype, scale=scale)


def test_registry_offers_the_documented_distributions():
    names = set(available_noises())
    assert {"none", "gaussian", "uniform", "laplace", "logistic", "cauchy", "gumbel", "rademacher"} <= names
    assert {"dropout", "gaussian_dropout"} <= MULTIPLICATIVE_NOISES <= names
    for name in names:
        assert get_noise(name).name == name


@pytest.mark.parametrize("name", WITH_VARIANCE)
def test_additive_noise_has_zero_mean_unit_variance(name):
    z = draw(name).numpy()
    assert np.isfinite(z).all()
    assert abs(z.mean()) < 0.015
    assert abs(z.var() - 1.0) < 0.03


@pytest.mark.parametrize("name", sorted(EXCESS_KURTOSIS))
def test_additive_noise_has_the_shape_of_its_distribution(name):
    z = draw(name).numpy()
    z = (z - z.mean()) / z.std()
    tol = 0.4 if EXCESS_KURTOSIS[name] > 2 else 0.1
    assert abs((z**4).mean() - 3.0 - EXCESS_KURTOSIS[name]) < tol
    assert abs((z**3).mean() - SKEWNESS[name]) < 0.05


def test_rademacher_is_plus_or_minus_one():
    z = draw("rademacher").numpy()
    assert set(np.unique(z)) == {-1.0, 1.0}
    assert abs((z > 0).mean() - 0.5) < 0.01


def test_uniform_noise_is_bounded_by_sqrt3():
    z = draw("uniform").numpy()
    assert z.min() >= -math.sqrt(3) and z.max() <= math.sqrt(3)
    assert z.min() < -1.7 and z.max() > 1.7


def test_cauchy_has_unit_scale():
    z = draw("cauchy").numpy()
    q1, median, q3 = np.quantile(z, [0.25, 0.5, 0.75])
    assert abs(median) < 0.02
    # A standard Cauchy has quartiles at -1 and +1.
    assert abs((q3 - q1) - 2.0) < 0.04
    assert abs(q1 + 1.0) < 0.03 and abs(q3 - 1.0) < 0.03


@pytest.mark.parametrize("name", [*ADDITIVE, *sorted(MULTIPLICATIVE_NOISES)])
def test_draws_come_from_the_passed_generator(name):
    scale = 0.3 if name in MULTIPLICATIVE_NOISES else None
    a = draw(name, n=1000, seed=1, scale=scale)
    torch.manual_seed(12345)  # the global RNG must play no part
    global_state = torch.get_rng_state()
    b = draw(name, n=1000, seed=1, scale=scale)
    assert torch.equal(torch.get_rng_state(), global_state)
    c = draw(name, n=1000, seed=2, scale=scale)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_successive_draws_advance_the_generator():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(100)
    first = apply_noise(x, "gaussian", 1.0, g)
    second = apply_noise(x, "gaussian", 1.0, g)
    assert not torch.equal(first, second)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", [*ADDITIVE, *sorted(MULTIPLICATIVE_NOISES)])
def test_noise_follows_dtype_and_device_of_the_tensor(name, dtype):
    x = torch.ones(64, 3, dtype=dtype)
    out = apply_noise(x, name, 0.2, torch.Generator().manual_seed(0))
    assert out.dtype == dtype
    assert out.device == x.device
    assert out.shape == x.shape
    assert not torch.equal(out, x)
    assert torch.equal(x, torch.ones(64, 3, dtype=dtype)), "the input must not be modified in place"


@pytest.mark.parametrize("name", ADDITIVE)
def test_additive_noise_is_scaled_by_alpha(name):
    x = torch.linspace(-1, 1, 500, dtype=torch.float64)
    z = draw(name, n=500, seed=3)
    out = apply_noise(x, name, 0.25, torch.Generator().manual_seed(3))
    torch.testing.assert_close(out, x + 0.25 * z)


def test_dropout_keeps_the_mean_and_drops_a_fraction_rate():
    rate = 0.3
    x = torch.full((N_DRAWS,), 2.0, dtype=torch.float64)
    out = apply_noise(x, "dropout", rate, torch.Generator().manual_seed(0))
    dropped = (out == 0).double().mean().item()
    assert abs(dropped - rate) < 0.005
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 2.0 / (1 - rate)))
    assert abs(out.mean().item() - 2.0) < 0.01


def test_gaussian_dropout_multiplies_by_normal_one_rate_over_one_minus_rate():
    rate = 0.2
    mask = draw("gaussian_dropout", scale=rate).numpy()
    assert abs(mask.mean() - 1.0) < 0.01
    assert abs(mask.var() - rate / (1 - rate)) < 0.01
    x = torch.full((1000,), 3.0, dtype=torch.float64)
    out = apply_noise(x, "gaussian_dropout", rate, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, x * draw("gaussian_dropout", n=1000, scale=rate))


@pytest.mark.parametrize("noise", ["none", None])
def test_none_is_identity(noise):
    x = torch.randn(10, 4)
    assert apply_noise(x, noise, 0.5, torch.Generator().manual_seed(0)) is x
    assert get_noise(noise).name == "none"


@pytest.mark.parametrize("name", [*ADDITIVE, *sorted(MULTIPLICATIVE_NOISES)])
def test_zero_scale_returns_x_unchanged(name):
    x = torch.randn(10, 4)
    g = torch.Generator().manual_seed(0)
    state = g.get_state()
    assert apply_noise(x, name, 0.0, g) is x
    assert torch.equal(g.get_state(), state), "no draw should be spent on a zero scale"


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="nope") as excinfo:
        get_noise("nope")
    for name in available_noises():
        assert name in str(excinfo.value)


def test_other_types_are_rejected():
    with pytest.raises(TypeError, match="noise"):
        get_noise(3)


def test_noise_distribution_passes_through():
    dist = get_noise("laplace")
    assert get_noise(dist) is dist


def test_user_callable_is_used_as_given():
    calls = []

    def constant_two(shape, *, generator, device, dtype):
        calls.append((tuple(shape), generator, dtype))
        return torch.full(shape, 2.0, device=device, dtype=dtype)

    g = torch.Generator().manual_seed(0)
    x = torch.zeros(5, 3, dtype=torch.float64)
    out = apply_noise(x, constant_two, 0.5, g)
    torch.testing.assert_close(out, torch.ones(5, 3, dtype=torch.float64))
    assert calls == [((5, 3), g, torch.float64)]
    assert get_noise(constant_two).name == "constant_two"


def test_user_callable_drawing_from_the_generator_is_reproducible():
    def student_t(shape, *, generator, device, dtype):
        return torch.randn(shape, generator=generator, device=device, dtype=dtype) * 0.5

    x = torch.zeros(100)
    a = apply_noise(x, student_t, 1.0, torch.Generator().manual_seed(4))
    b = apply_noise(x, student_t, 1.0, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_user_callable_with_the_wrong_shape_raises_a_clear_error():
    def flat(shape, *, generator, device, dtype):
        return torch.zeros(int(np.prod(shape)), device=device, dtype=dtype)

    with pytest.raises(ValueError, match=r"shape \(4, 3\).*flat"):
        apply_noise(torch.zeros(4, 3), flat, 1.0, torch.Generator().manual_seed(0))


def test_user_callable_returning_a_non_tensor_raises():
    def as_numpy(shape, *, generator, device, dtype):
        return np.zeros(shape)

    with pytest.raises(ValueError, match="tensor"):
        apply_noise(torch.zeros(4, 3), as_numpy, 1.0, torch.Generator().manual_seed(0))


def test_torch_distribution_is_sampled_reproducibly_from_the_generator():
    laplace = torch.distributions.Laplace(0.0, 1.0)
    torch.manual_seed(0)
    a = draw(laplace, seed=5)
    torch.manual_seed(1)  # the global RNG must play no part
    b = draw(laplace, seed=5)
    c = draw(laplace, seed=6)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # Used as given, not standardized: Laplace(0, 1) has variance 2.
    assert abs(a.mean().item()) < 0.02
    assert abs(a.var().item() - 2.0) < 0.06


def test_torch_distribution_without_icdf_is_reproducible_and_leaves_global_rng_alone():
    gamma = torch.distributions.Gamma(2.0, 1.0)  # no inverse CDF in torch
    with pytest.raises(NotImplementedError):
        gamma.icdf(torch.tensor(0.5))
    state = torch.get_rng_state()
    a = draw(gamma, n=20_000, seed=5, dtype=torch.float32)
    assert torch.equal(torch.get_rng_state(), state)
    b = draw(gamma, n=20_000, seed=5, dtype=torch.float32)
    c = draw(gamma, n=20_000, seed=6, dtype=torch.float32)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert abs(a.mean().item() - 2.0) < 0.05


def test_non_scalar_torch_distribution_raises():
    batched = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    with pytest.raises(ValueError, match="scalar"):
        apply_noise(torch.zeros(4, 3), batched, 1.0, torch.Generator().manual_seed(0))


def test_registry_entries_pickle():
    # Estimators hold their noise through parameters that must survive pickling.
    for name in available_noises():
        assert pickle.loads(pickle.dumps(get_noise(name))) == get_noise(name)


def test_noise_distribution_is_frozen():
    dist = get_noise("gaussian")
    assert isinstance(dist, NoiseDistribution)
    with pytest.raises(AttributeError):
        dist.name = "other"

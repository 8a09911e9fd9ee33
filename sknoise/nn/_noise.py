"""Registry of normalized noise distributions and their sampling on torch tensors.

Every *additive* distribution here is normalized: zero mean and unit variance where
both exist, unit scale otherwise (Cauchy). The noise scale ``α`` then means the same
thing for every distribution: ``t = s + α z``. *Multiplicative* kinds (dropout and
Gaussian dropout) multiply the signal instead, with ``α`` read as the drop rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.distributions import Distribution

__all__ = [
    "NoiseDistribution",
    "available_noises",
    "get_noise",
    "apply_noise",
]

# Keeps inverse-CDF samplers away from the infinities at u = 0 and u = 1.
_EPS = 1e-6
_EULER_GAMMA = 0.5772156649015329


def _uniform(shape, generator, device, dtype, low=_EPS, high=1.0 - _EPS):
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return u.mul_(high - low).add_(low)


def _gaussian(shape, generator, device, dtype):
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)


def _uniform_noise(shape, generator, device, dtype):
    # U(-sqrt(3), sqrt(3)) has unit variance.
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return u.sub_(0.5).mul_(2.0 * math.sqrt(3.0))


def _laplace(shape, generator, device, dtype):
    # Scale b = 1/sqrt(2) gives variance 2 b^2 = 1.
    u = _uniform(shape, generator, device, dtype).sub_(0.5)
    return -u.sign() * torch.log1p(-2.0 * u.abs()) / math.sqrt(2.0)


def _logistic(shape, generator, device, dtype):
    # Scale s = sqrt(3)/pi gives variance s^2 pi^2 / 3 = 1.
    u = _uniform(shape, generator, device, dtype)
    return torch.logit(u) * (math.sqrt(3.0) / math.pi)


def _cauchy(shape, generator, device, dtype):
    # No variance exists: unit scale (median 0, half width at half maximum 1).
    u = _uniform(shape, generator, device, dtype)
    return torch.tan(math.pi * (u - 0.5))


def _gumbel(shape, generator, device, dtype):
    # Scale beta = sqrt(6)/pi gives unit variance; subtracting beta*gamma centres it.
    beta = math.sqrt(6.0) / math.pi
    u = _uniform(shape, generator, device, dtype)
    return -beta * (torch.log(-torch.log(u)) + _EULER_GAMMA)


def _rademacher(shape, generator, device, dtype):
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return torch.where(u < 0.5, -1.0, 1.0).to(dtype)


def _dropout_mask(shape, generator, device, dtype, rate):
    # Inverted dropout: keep with probability 1 - rate, scale kept units by 1/(1 - rate).
    keep = 1.0 - rate
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return (u < keep).to(dtype).div_(keep)


def _gaussian_dropout_mask(shape, generator, device, dtype, rate):
    # Keras GaussianDropout: multiply by N(1, rate / (1 - rate)).
    std = math.sqrt(rate / (1.0 - rate))
    return torch.randn(shape, generator=generator, device=device, dtype=dtype).mul_(std).add_(1.0)


@dataclass(frozen=True)
class NoiseDistribution:
    """A named noise distribution that knows how to perturb a tensor.

    Parameters
    ----------
    name : str
        Registry name, or a description for user-supplied noise.
    kind : {"additive", "multiplicative", "none"}
        ``"additive"``: ``x + scale * z`` with ``z`` drawn by ``sampler``.
        ``"multiplicative"``: ``x * m`` with the mask ``m`` drawn by ``sampler`` for
        the rate ``scale`` (which must lie in ``[0, 1)``). ``"none"``: identity.
    sampler : callable
        ``sampler(shape, generator, device, dtype)`` for additive noise and
        ``sampler(shape, generator, device, dtype, rate)`` for multiplicative noise.
    description : str
        One line for documentation and error messages.
    banked : bool, default=False
        Whether training may take this noise from a :class:`~sknoise.nn.NoiseRNG`'s
        bank of exact draws (the built-in additive kinds) rather than drawing afresh.
    """

    name: str
    kind: str
    sampler: Callable | None
    description: str = ""
    banked: bool = False

    def sample(
        self,
        shape: tuple[int, ...],
        *,
        generator: torch.Generator | None,
        device: torch.device | str,
        dtype: torch.dtype = torch.float32,
        scale: float | None = None,
    ) -> torch.Tensor:
        """Draw normalized noise (additive kinds) or a mask (multiplicative kinds)."""
        if self.kind == "multiplicative":
            return self.sampler(shape, generator, device, dtype, scale)
        if self.kind == "none":
            return torch.zeros(shape, device=device, dtype=dtype)
        return self.sampler(shape, generator, device, dtype)

    def apply(self, x: torch.Tensor, scale: float, generator: torch.Generator | None) -> torch.Tensor:
        """Return ``x`` perturbed by this noise at ``scale`` (never in place)."""
        if self.kind == "none" or scale == 0:
            return x
        draw = self.sample(x.shape, generator=generator, device=x.device, dtype=x.dtype, scale=scale)
        # The fresh draw's buffer takes the result: no allocation beyond the draw itself
        # (autograd allows in-place ops on a tensor that needs no gradient of its own).
        if self.kind == "multiplicative":
            return draw.mul_(x)
        return draw.mul_(scale).add_(x)


_REGISTRY: dict[str, NoiseDistribution] = {
    d.name: d
    for d in [
        NoiseDistribution("none", "none", None, "no noise"),
        NoiseDistribution("gaussian", "additive", _gaussian, "standard normal N(0, 1)", banked=True),
        NoiseDistribution("uniform", "additive", _uniform_noise, "U(-sqrt 3, sqrt 3), unit variance", banked=True),
        NoiseDistribution("laplace", "additive", _laplace, "Laplace, scale 1/sqrt 2 (unit variance)", banked=True),
        NoiseDistribution("logistic", "additive", _logistic, "logistic, scale sqrt 3/pi (unit variance)", banked=True),
        NoiseDistribution("cauchy", "additive", _cauchy, "standard Cauchy (unit scale; no variance)", banked=True),
        NoiseDistribution("gumbel", "additive", _gumbel, "centred Gumbel, unit variance", banked=True),
        NoiseDistribution("rademacher", "additive", _rademacher, "+1 or -1 with equal probability", banked=True),
        NoiseDistribution("dropout", "multiplicative", _dropout_mask, "inverted Bernoulli dropout, scale = rate"),
        NoiseDistribution(
            "gaussian_dropout", "multiplicative", _gaussian_dropout_mask, "Keras GaussianDropout, scale = rate"
        ),
    ]
}

MULTIPLICATIVE_NOISES = frozenset(n for n, d in _REGISTRY.items() if d.kind == "multiplicative")


def available_noises() -> list[str]:
    """Names of the built-in noise distributions.

    Returns
    -------
    names : list of str
        Valid values for the ``noise`` and ``inference_noise`` parameters.

    Examples
    --------
    >>> from sknoise import available_noises
    >>> "gaussian" in available_noises()
    True
    """
    return list(_REGISTRY)


class _CallableSampler:
    """Draws additive noise from a user's ``fn(shape, generator=, device=, dtype=)``.

    A class rather than a closure, so that a fitted model pickles whenever ``fn`` does.
    """

    def __init__(self, fn: Callable) -> None:
        self.fn = fn

    def __call__(self, shape, generator, device, dtype):
        z = self.fn(shape, generator=generator, device=device, dtype=dtype)
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != tuple(shape):
            raise ValueError(
                f"A noise callable must return a tensor of shape {tuple(shape)}; "
                f"{getattr(self.fn, '__name__', self.fn)!r} returned {type(z).__name__} "
                f"of shape {tuple(getattr(z, 'shape', ()))}."
            )
        return z.to(device=device, dtype=dtype)


class _TorchDistributionSampler:
    """Draws from a scalar ``torch.distributions.Distribution`` on the caller's seeded generator."""

    def __init__(self, dist: Distribution) -> None:
        self.dist = dist

    def __call__(self, shape, generator, device, dtype):
        dist = self.dist
        if dist.batch_shape != torch.Size() or dist.event_shape != torch.Size():
            raise ValueError("A torch Distribution used as noise must be scalar (empty batch and event shape).")
        u = _uniform(shape, generator, device, dtype)
        try:
            # Inverse-CDF sampling keeps the draws on our seeded generator.
            z = dist.icdf(u)
        except NotImplementedError:
            # No inverse CDF: draw from the global RNG forked and seeded from our generator.
            seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=u.device).item())
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                z = dist.sample(shape)
        return z.to(device=device, dtype=dtype)


def _callable_noise(fn: Callable) -> NoiseDistribution:
    return NoiseDistribution(getattr(fn, "__name__", "callable"), "additive", _CallableSampler(fn), "user callable")


def _torch_distribution_noise(dist: Distribution) -> NoiseDistribution:
    return NoiseDistribution(
        type(dist).__name__, "additive", _TorchDistributionSampler(dist), f"torch distribution {dist!r}"
    )


def get_noise(noise: str | Callable | Distribution | NoiseDistribution | None) -> NoiseDistribution:
    """Resolve a noise specification into a :class:`NoiseDistribution`.

    Parameters
    ----------
    noise : str, callable, torch Distribution, NoiseDistribution or None
        A registry name (see :func:`available_noises`); ``None`` means ``"none"``.
        A callable is called as ``fn(shape, generator=g, device=d, dtype=t)`` and must
        return normalized noise of that shape; it is used as given (``t = s + α fn(...)``).
        A scalar ``torch.distributions.Distribution`` is sampled by its inverse CDF
        from the estimator's seeded generator (or, lacking one, from a forked global
        RNG seeded from it); its samples are used as given, not standardized.

    Returns
    -------
    distribution : NoiseDistribution

    Raises
    ------
    ValueError
        If ``noise`` is a string that is not a registered name; the message lists
        the valid names.
    """
    if noise is None:
        return _REGISTRY["none"]
    if isinstance(noise, NoiseDistribution):
        return noise
    if isinstance(noise, str):
        try:
            return _REGISTRY[noise]
        except KeyError:
            raise ValueError(
                f"Unknown noise distribution {noise!r}. Valid names are: {', '.join(sorted(_REGISTRY))}; "
                "or pass a callable or a torch.distributions.Distribution."
            ) from None
    if isinstance(noise, Distribution):
        return _torch_distribution_noise(noise)
    if callable(noise):
        return _callable_noise(noise)
    raise TypeError(
        f"noise must be a name among {sorted(_REGISTRY)}, a callable or a torch Distribution; "
        f"got {type(noise).__name__}."
    )


def apply_noise(
    x: torch.Tensor,
    noise: str | Callable | Distribution | NoiseDistribution | None,
    scale: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Perturb a tensor with noise: ``x + scale * z`` or ``x * mask(rate=scale)``.

    Parameters
    ----------
    x : torch.Tensor
        The clean signal; noise is drawn on its device and dtype.
    noise : str, callable, torch Distribution or NoiseDistribution
        See :func:`get_noise`.
    scale : float
        The noise scale ``α`` (additive kinds) or the drop rate (multiplicative kinds).
    generator : torch.Generator, optional
        Source of randomness, on ``x``'s device.

    Returns
    -------
    torch.Tensor
        A new tensor; ``x`` itself is returned unchanged when the scale is 0.

    Examples
    --------
    >>> import torch
    >>> from sknoise import apply_noise
    >>> g = torch.Generator().manual_seed(0)
    >>> apply_noise(torch.zeros(4), "rademacher", 0.5, g).abs().tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    return get_noise(noise).apply(x, scale, generator)

"""Hard-saturating activations and the noisy activation functions of Gulcehre et al. (2016).

``hard_sigmoid(x) = clip(0.25 x + 0.5, 0, 1)`` (the paper's, not PyTorch's ``x/6 + 0.5``)
and ``hard_tanh(x) = clip(x, -1, 1)``, with linearizations ``u(x) = 0.25 x + 0.5`` and
``u(x) = x``. ``Δ = h(x) - u(x)`` is zero in the linear region and non-zero only where
the unit saturates. The noisy activation is

    φ(x, ξ) = α h(x) + (1 - α) u(x) + d(x) σ(x) ε,
    σ(x) = c (sigmoid(p Δ) - 0.5)²,   d(x) = -sgn(x) sgn(1 - α),

with ``ε = ξ ~ N(0, 1)`` (NAN) or ``|ξ|`` (NAH) and ``p`` learned per unit. NANI adds
noise to the input everywhere, ``h(x + c ξ)``; NANIS only where the unit saturates. At
inference the noise is replaced by its expectation (0, or ``sqrt(2/π)`` for the
half-normal), unless Monte-Carlo inference is switched on.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._layers import InferenceNoise, NoiseRNG, NoiseSource, NoiseSpec, expand_passes, flatten_passes

__all__ = ["HardSigmoid", "HardTanh", "NoisyHardActivation", "NOISY_ACTIVATIONS", "hard_sigmoid", "hard_tanh"]

VARIANTS = ("nan", "nah", "nani", "nanis")

# Reference defaults (mixing constant α, noise constant c) from the authors' code.
_REFERENCE = {
    ("tanh", "nan"): (1.15, 0.5),
    ("tanh", "nah"): (1.15, 0.5),
    ("sigmoid", "nan"): (1.1, 0.15),
    ("sigmoid", "nah"): (1.1, 0.15),
    ("tanh", "nani"): (1.0, 0.05),
    ("sigmoid", "nani"): (1.0, 0.05),
    ("tanh", "nanis"): (1.0, 0.25),
    ("sigmoid", "nanis"): (1.0, 0.25),
}

#: Activation names built here: ``'<variant>_<tanh|sigmoid>'``, e.g. ``'nan_tanh'``.
NOISY_ACTIVATIONS = tuple(f"{v}_{k}" for v in VARIANTS for k in ("tanh", "sigmoid"))


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``clip(0.25 x + 0.5, 0, 1)``."""
    return torch.clamp(0.25 * x + 0.5, 0.0, 1.0)


def hard_tanh(x: torch.Tensor) -> torch.Tensor:
    """``clip(x, -1, 1)``."""
    return torch.clamp(x, -1.0, 1.0)


class HardSigmoid(nn.Module):
    """The paper's hard sigmoid, ``clip(0.25 x + 0.5, 0, 1)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return hard_sigmoid(x)


class HardTanh(nn.Module):
    """The hard tanh, ``clip(x, -1, 1)``: linear in [-1, 1], saturated outside."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return hard_tanh(x)


_HARD = {"tanh": (hard_tanh, lambda x: x), "sigmoid": (hard_sigmoid, lambda x: 0.25 * x + 0.5)}


class NoisyHardActivation(NoiseSource):
    """A noisy hard-saturating activation (NAN, NAH, NANI or NANIS).

    Parameters
    ----------
    kind : {'tanh', 'sigmoid'}
        The hard function ``h``.
    variant : {'nan', 'nah', 'nani', 'nanis'}
        Normal output noise, half-normal output noise, input noise everywhere, input
        noise only where saturated.
    width : int
        Number of units (for the learned per-unit ``p``).
    rng : NoiseRNG
        Shared, seeded source of randomness. A noise schedule's factor
        (``schedule_factor``) multiplies ``c`` during training.
    mixing : float, optional
        The mixing constant ``α`` (default: the reference value of the variant).
    noise_constant : float, optional
        The noise constant ``c`` (default: the reference value of the variant).

    Notes
    -----
    With ``α > 1`` (NAN, NAH) the deterministic part ``α h(x) + (1 - α) u(x)`` is not
    monotone: for hard tanh it falls past saturation and changes sign at
    ``|x| = α / (α - 1)`` (7.7 for α = 1.15). This is the paper's formula; it keeps a
    gradient in saturation at the price of erasing the signal of very saturated units.
    """

    def __init__(
        self,
        kind: str,
        variant: str,
        width: int,
        rng: NoiseRNG,
        *,
        mixing: float | None = None,
        noise_constant: float | None = None,
    ) -> None:
        ref_mixing, ref_c = _REFERENCE[(kind, variant)]
        # ξ ~ N(0, 1); the noise constant c scales it inside the formula, the schedule scales c.
        super().__init__(NoiseSpec.make("gaussian", 1.0), rng, role="activation")
        self.kind, self.variant = kind, variant
        self.mixing = ref_mixing if mixing is None else float(mixing)
        self.noise_constant = ref_c if noise_constant is None else float(noise_constant)
        # p is learned per unit, initialized uniform in [-1, 1] as in the reference code,
        # from its own generator so that the surrounding layers' weights do not change.
        self.p = nn.Parameter(torch.empty(width).uniform_(-1.0, 1.0, generator=rng.parameter_generator()))

    def inference_spec(self, noise: InferenceNoise) -> NoiseSpec:
        """Monte-Carlo inference turns this activation's own noise back on, whatever distribution it names."""
        return self.train_noise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            xi = torch.randn(x.shape, generator=self.rng.generator(x.device), device=x.device, dtype=x.dtype)
            return self._phi(x, xi, self.noise_constant * self.schedule_factor)
        active = self.monte_carlo_spec()
        if active is None:
            return self._phi(x, None, self.noise_constant)
        mc, spec = active
        xi = self.monte_carlo_draws(mc, spec, (*x.shape[:-2], 1, x.shape[-1]), x).movedim(0, -3)
        return flatten_passes(self._phi(expand_passes(x, mc), xi, self.noise_constant), mc)

    def _phi(self, x: torch.Tensor, xi: torch.Tensor | None, c: float) -> torch.Tensor:
        """The activation for input ``x`` and noise ``ξ`` (None: the noise's expectation); they broadcast."""
        h, u = _HARD[self.kind]
        if self.variant in ("nani", "nanis"):
            if xi is None:
                return h(x)  # E[ξ] = 0 replaces the input noise
            shift = c * xi
            if self.variant == "nanis":
                shift = shift * (h(x) != u(x))
            return h(x + shift)
        hx, ux = h(x), u(x)
        delta = hx - ux
        sigma = c * (torch.sigmoid(self.p * delta) - 0.5) ** 2
        direction = -torch.sign(x) * math.copysign(1.0, 1.0 - self.mixing)
        if xi is None:
            eps = math.sqrt(2.0 / math.pi) if self.variant == "nah" else 0.0
        else:
            eps = xi.abs() if self.variant == "nah" else xi
        return self.mixing * hx + (1.0 - self.mixing) * ux + direction * sigma * eps

    def extra_repr(self) -> str:
        return f"{self.variant}_{self.kind}, mixing={self.mixing}, noise_constant={self.noise_constant}"

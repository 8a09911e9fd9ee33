"""Torch building blocks shared by the estimators: seeded noise sources and noise layers."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._noise import NoiseDistribution, get_noise

__all__ = ["NoiseRNG", "NoiseSpec", "NoiseLayer", "ActivationNoise"]


class NoiseRNG:
    """Seeded torch generators shared by every noise layer of one network.

    Two independent streams exist: ``"train"`` feeds the noise drawn while the module
    is in training mode and ``"inference"`` the noise drawn in eval mode. Estimators
    reseed the inference stream at the start of every prediction, so Monte-Carlo
    predictions of a fitted model are repeatable. Generators are created lazily on the
    device of the tensor being perturbed, and are not pickled (a CUDA generator cannot
    be loaded on a machine without CUDA): after unpickling, each stream restarts from
    its seed.

    Parameters
    ----------
    train_seed, inference_seed : int
        Seeds of the two streams.
    """

    def __init__(self, train_seed: int, inference_seed: int) -> None:
        self.seeds = {"train": int(train_seed), "inference": int(inference_seed)}
        self._generators: dict[tuple[str, str], torch.Generator] = {}
        # Multiplies every training noise scale; a noise schedule moves it between epochs.
        self.train_scale_factor = 1.0

    def generator(self, device: torch.device, training: bool) -> torch.Generator:
        """The generator of the training or inference stream on ``device``."""
        stream = "train" if training else "inference"
        key = (stream, str(device))
        gen = self._generators.get(key)
        if gen is None:
            gen = torch.Generator(device=device)
            gen.manual_seed(self.seeds[stream])
            self._generators[key] = gen
        return gen

    def parameter_generator(self) -> torch.Generator:
        """A fresh CPU generator for initializing a noise source's own parameters.

        Each call gives the next one of a seeded sequence, so such parameters are
        reproducible and leave the global RNG (and with it the weight
        initialization of the layers around them) untouched.
        """
        self._n_parameter_generators = getattr(self, "_n_parameter_generators", 0) + 1
        return torch.Generator().manual_seed(self.seeds["train"] * 7919 + self._n_parameter_generators)

    def reseed(self, stream: str, seed: int | None = None) -> None:
        """Restart ``stream`` ("train" or "inference") from ``seed`` (default: its own seed)."""
        if seed is not None:
            self.seeds[stream] = int(seed)
        for key in [k for k in self._generators if k[0] == stream]:
            del self._generators[key]

    def __getstate__(self) -> dict:
        return {"seeds": dict(self.seeds), "train_scale_factor": self.train_scale_factor}

    def __setstate__(self, state: dict) -> None:
        self.seeds = state["seeds"]
        self.train_scale_factor = state.get("train_scale_factor", 1.0)
        self._generators = {}


@dataclass(frozen=True)
class NoiseSpec:
    """A noise distribution and its scale ``α`` (the rate, for multiplicative kinds)."""

    distribution: NoiseDistribution
    scale: float

    @classmethod
    def make(cls, noise, scale: float) -> NoiseSpec:
        """Build a spec from anything :func:`sknoise.get_noise` accepts."""
        return cls(get_noise(noise), float(scale))

    @property
    def active(self) -> bool:
        """Whether applying this spec changes its input."""
        return self.distribution.kind != "none" and self.scale != 0


class NoiseLayer(nn.Module):
    """Perturb its input with noise, with separate training and inference settings.

    In training mode the layer applies ``train_noise``. In eval mode it applies
    ``inference_noise`` when that is set (Monte-Carlo inference) and is the identity
    otherwise, which is the expectation of every zero-mean additive noise and of
    inverted dropout.

    Parameters
    ----------
    train_noise : NoiseSpec
        Noise used in training mode.
    rng : NoiseRNG
        Shared source of randomness.
    follows_inference_noise : bool, default=True
        Whether :meth:`set_inference_noise` reaches this layer. Plain dropout layers
        pass ``False`` and stay off at inference.
    """

    def __init__(self, train_noise: NoiseSpec, rng: NoiseRNG, follows_inference_noise: bool = True) -> None:
        super().__init__()
        self.train_noise = train_noise
        self.inference_noise: NoiseSpec | None = None
        self.rng = rng
        self.follows_inference_noise = follows_inference_noise

    def set_inference_noise(self, spec: NoiseSpec | None) -> bool:
        """Set (or with ``None`` remove) the noise applied in eval mode; return whether it draws noise."""
        if self.follows_inference_noise:
            self.inference_noise = spec if spec is not None and spec.active else None
        return self.inference_noise is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.train_noise if self.training else self.inference_noise
        if spec is None or not spec.active:
            return x
        scale = spec.scale * self.rng.train_scale_factor if self.training else spec.scale
        return spec.distribution.apply(x, scale, self.rng.generator(x.device, self.training))

    def extra_repr(self) -> str:
        infer = "off" if self.inference_noise is None else f"{self.inference_noise.distribution.name}"
        return f"train={self.train_noise.distribution.name}({self.train_noise.scale:g}), inference={infer}"


class ActivationNoise(nn.Module):
    """Activation noise ``t = f(a) + α z`` (Eq. 1 of the activation-noise paper).

    Parameters
    ----------
    activation : nn.Module
        The activation function ``f``.
    train_noise : NoiseSpec
        Distribution of ``z`` and scale ``α`` in training mode.
    rng : NoiseRNG
        Shared source of randomness.

    Notes
    -----
    With ``train_noise`` set to dropout this computes ``t = m·f(a)``, which is
    ``f(a) + z`` with the signal-dependent noise ``z = (m - 1)·f(a)``: dropout is the
    multiplicative special case of activation noise.
    """

    def __init__(self, activation: nn.Module, train_noise: NoiseSpec, rng: NoiseRNG) -> None:
        super().__init__()
        self.activation = activation
        self.noise = NoiseLayer(train_noise, rng)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return self.noise(self.activation(a))


def set_inference_noise(module: nn.Module, spec: NoiseSpec | None) -> bool:
    """Set the eval-mode noise of every noise source inside ``module``.

    Every submodule with a ``set_inference_noise`` method is reached: the
    :class:`NoiseLayer` instances and any other noise source that follows the same
    protocol (noisy activations): ``None`` switches Monte-Carlo noise off, a spec
    switches it on (an inactive spec, e.g. ``'none'``, still reaches sources that
    carry their own noise).

    Returns
    -------
    bool
        Whether any source draws noise in eval mode, i.e. whether passes differ.
    """
    active = False
    for layer in module.modules():
        if layer is not module and hasattr(layer, "set_inference_noise"):
            active |= bool(layer.set_inference_noise(spec))
    return active

"""Torch building blocks shared by every network: seeded noise streams, noise sources and
the Monte-Carlo inference context.

This module (like the other torch-side modules: ``_noise``, ``_activations``,
``_noisy_activations`` and the network modules) imports neither scikit-learn nor skorch.

The contract every network follows:

- A :class:`NoisyModule` owns one :class:`NoiseRNG` (``noise_rng``) shared by all its
  noise sources, lists them with :meth:`NoisyModule.noise_sources` and the layers a
  max-norm constraint applies to with :meth:`NoisyModule.max_norm_layers`.
- A :class:`NoiseSource` is any submodule that draws noise, in one of three roles
  (:data:`NOISE_ROLES`): the estimator's noise, an activation's own noise, or dropout.
  In training mode it draws from the ``"train"`` stream, scaled by its
  ``schedule_factor`` (which :meth:`NoisyModule.set_schedule_factor` sets on the
  sources whose role follows a noise schedule). In eval mode it is deterministic (the
  noise replaced by its expectation) unless a :class:`MonteCarlo` context is active,
  which asks it for ``T`` noisy passes.
- Monte-Carlo noise uses *common random numbers*: the ``T`` draws of a source are made
  once per prediction call and shared by every row, so a row's prediction depends on
  that row, the model and the seed only (not on the other rows of the call, nor on how
  the call is chunked). The rows enter a network un-repeated; the first source that
  draws noise broadcasts them to ``T`` passes, so the layers before it run once per row.
"""

from __future__ import annotations

import contextvars
import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._noise import NoiseDistribution, get_noise

__all__ = [
    "NOISE_ROLES",
    "NoiseRNG",
    "NoiseSpec",
    "InferenceNoise",
    "NoiseSource",
    "NoisyModule",
    "NoiseLayer",
    "ActivationNoise",
    "MonteCarlo",
    "monte_carlo",
    "active_monte_carlo",
    "expand_passes",
    "flatten_passes",
    "match_passes",
    "noise_sources",
]


#: A training-noise bank holds at least this many draws, and this many windows of the largest draw...
BANK_MIN_SIZE, BANK_WINDOWS = 1 << 18, 8
#: ...and is redrawn once its values have been used this many times over, on average.
BANK_REUSE = 8
#: A layer whose bank would exceed this many draws (64 MB of float32) draws fresh noise.
BANK_MAX_SIZE = 1 << 24


class NoiseRNG:
    """Seeded torch generators shared by every noise source of one network.

    The ``"train"`` stream feeds the noise drawn in training mode. The ``"inference"``
    seed seeds the Monte-Carlo draws, which are made afresh on every prediction call
    from generators of their own (see :class:`MonteCarlo`), so predictions are
    repeatable and safe to make from several threads. Generators are created lazily on
    the device of the tensor being perturbed, and are not pickled (a CUDA generator
    cannot be loaded on a machine without CUDA): after unpickling, the training stream
    restarts at the start of the current call's stream. Estimators start every
    training call with :meth:`next_call`, so a call's noise never depends on whether
    the network was pickled in between.

    Parameters
    ----------
    train_seed, inference_seed : int
        Seeds of the two streams.
    """

    def __init__(self, train_seed: int, inference_seed: int) -> None:
        self.seeds = {"train": int(train_seed), "inference": int(inference_seed)}
        # Training calls started (see next_call); each seeds its own training stream.
        self.calls = 0
        self._restart_stream()

    def _stream_seed(self) -> int:
        if self.calls == 0:
            return self.seeds["train"]
        return int(np.random.SeedSequence([self.seeds["train"], self.calls]).generate_state(1)[0])

    def next_call(self) -> None:
        """Start the training stream of the next training call (``fit``, each ``partial_fit``).

        Call ``k`` draws from a stream seeded by ``(train seed, k)``, so its noise is the
        same whether or not the network was pickled since the last call (a cluster
        ships it between data blocks), and never repeats an earlier call's.
        """
        self.calls += 1
        self._restart_stream()

    def restore_call(self, calls: int) -> None:
        """Put the training stream back to the call count ``calls`` (a :attr:`calls` read before a call).

        Undoes a training call that failed: training calls start with :meth:`next_call`,
        so the next one draws exactly what it would have drawn had the failed call never
        been made.
        """
        self.calls = int(calls)
        self._restart_stream()

    def _restart_stream(self) -> None:
        self._generators: dict[str, torch.Generator] = {}
        self._banks: dict[tuple, list] = {}
        self._offsets = random.Random(self._stream_seed())

    def generator(self, device: torch.device) -> torch.Generator:
        """The generator of the training stream on ``device``."""
        key = str(device)
        gen = self._generators.get(key)
        if gen is None:
            gen = torch.Generator(device=device)
            gen.manual_seed(self._stream_seed())
            self._generators[key] = gen
        return gen

    def banked_draw(self, distribution, shape: torch.Size, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Training noise of ``shape``: a random window of a bank of exact draws.

        Drawing fresh numbers costs the CPU about as much as the layer's matrix
        product; a window costs one offset. Every element of a window is its own
        exact draw of ``distribution``, independent of the window's other elements;
        windows of different steps share values at random offsets, and the bank is
        redrawn (seeded, from the training stream) once its windows have used its
        values :data:`BANK_REUSE` times over on average.
        """
        n = math.prod(shape)
        key = (distribution.name, str(device), dtype)
        bank = self._banks.get(key)
        if bank is None or len(bank[0]) < BANK_WINDOWS * n or bank[1] >= BANK_REUSE * len(bank[0]):
            size = max(BANK_MIN_SIZE, BANK_WINDOWS * n)
            # A new tensor, never refilled in place: autograd may still hold old windows.
            values = distribution.sample((size,), generator=self.generator(device), device=device, dtype=dtype)
            bank = self._banks[key] = [values, 0]
        values = bank[0]
        bank[1] += n
        start = self._offsets.randrange(len(values) - n + 1)
        return values[start:start + n].view(shape)

    def perturb(self, x: torch.Tensor, distribution, scale: float) -> torch.Tensor:
        """``x`` with training noise of ``distribution`` at ``scale`` (never in place).

        The built-in additive kinds come from the bank (:meth:`banked_draw`) in one fused
        add, unless the bank would exceed :data:`BANK_MAX_SIZE` draws (very large
        batches); the others (user callables, multiplicative masks) are drawn afresh.
        """
        if distribution.banked and scale != 0 and BANK_WINDOWS * x.numel() <= BANK_MAX_SIZE:
            return torch.add(x, self.banked_draw(distribution, x.shape, x.device, x.dtype), alpha=scale)
        return distribution.apply(x, scale, self.generator(x.device))

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
        if stream not in self.seeds:
            raise ValueError(f"stream must be 'train' or 'inference'; got {stream!r}.")
        if seed is not None:
            self.seeds[stream] = int(seed)
        if stream == "train":
            self.calls = 0
            self._restart_stream()

    def __getstate__(self) -> dict:
        return {"seeds": dict(self.seeds), "calls": self.calls}

    def __setstate__(self, state: dict) -> None:
        self.seeds = state["seeds"]
        self.calls = state.get("calls", 0)
        self._restart_stream()


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


@dataclass(frozen=True)
class InferenceNoise:
    """What Monte-Carlo inference asks of the noise sources.

    Parameters
    ----------
    distribution : NoiseDistribution or None, default=None
        The distribution every source that follows inference noise draws from;
        ``None``: each source's own training distribution (``inference_noise='same'``).
    scale : float or None, default=None
        Its scale; ``None``: each source's own training scale.
    dropout : bool, default=False
        Whether the sources that stay off at inference otherwise (dropout layers) draw
        their training noise too: Monte-Carlo dropout.
    """

    distribution: NoiseDistribution | None = None
    scale: float | None = None
    dropout: bool = False


# How many consecutive passes share one seeded generator: the draws of pass t never
# depend on how the passes are chunked, because a chunk takes its slices of whole blocks.
_PASS_BLOCK = 64


class MonteCarlo:
    """The state of one Monte-Carlo prediction call: what noise, which seed, which passes.

    Created by :func:`monte_carlo`; noise sources read it through
    :func:`active_monte_carlo`. Draws are cached per source and block of passes, so
    every chunk of rows reuses them (common random numbers) and a second chunk costs
    no draws.

    Parameters
    ----------
    noise : InferenceNoise
    seed : int
        The network's inference seed.
    sources : list of NoiseSource
        The network's noise sources, in a fixed order (their index seeds their draws).
    """

    def __init__(self, noise: InferenceNoise, seed: int, sources: list) -> None:
        self.noise = noise
        self.seed = int(seed)
        self._index = {id(s): i for i, s in enumerate(sources)}
        self._cache: dict[tuple[int, int], torch.Tensor] = {}
        self.n_passes = 1
        self.pass_offset = 0
        self.rows = 0

    def set_chunk(self, rows: int, n_passes: int, pass_offset: int = 0) -> None:
        """The chunk about to go through the network: ``rows`` rows, passes ``pass_offset`` onwards."""
        self.rows, self.n_passes, self.pass_offset = int(rows), int(n_passes), int(pass_offset)

    def draws(self, source: NoiseSource, shape: tuple[int, ...], make: Callable, device, dtype) -> torch.Tensor:
        """The draws of this chunk's passes for ``source``: shape ``(n_passes, *shape)``.

        ``make(full_shape, generator)`` draws a tensor of ``full_shape`` from ``generator``.
        """
        index = self._index[id(source)]
        first, stop = self.pass_offset, self.pass_offset + self.n_passes
        parts = []
        for block in range(first // _PASS_BLOCK, (stop - 1) // _PASS_BLOCK + 1):
            key = (index, block)
            drawn = self._cache.get(key)
            if drawn is None:
                entropy = np.random.SeedSequence([self.seed, index, block]).generate_state(2)
                generator = torch.Generator(device=device)
                generator.manual_seed(int(entropy[0]) << 32 | int(entropy[1]))
                drawn = make((_PASS_BLOCK, *shape), generator).to(dtype)
                self._cache[key] = drawn
            lo = max(first - block * _PASS_BLOCK, 0)
            hi = min(stop - block * _PASS_BLOCK, _PASS_BLOCK)
            parts.append(drawn[lo:hi])
        return parts[0] if len(parts) == 1 else torch.cat(parts)


_ACTIVE: contextvars.ContextVar[MonteCarlo | None] = contextvars.ContextVar("sknoise_monte_carlo", default=None)


def active_monte_carlo() -> MonteCarlo | None:
    """The Monte-Carlo context of the current prediction call (per thread), or None."""
    return _ACTIVE.get()


@contextmanager
def monte_carlo(module: nn.Module, noise: InferenceNoise, seed: int) -> Iterator[MonteCarlo]:
    """Switch the noise sources of ``module`` (in eval mode) to Monte-Carlo passes.

    The context is local to the calling thread: other threads predicting with the same
    module are unaffected. Inside it, call :meth:`MonteCarlo.set_chunk` before each
    forward pass; a network fed ``R`` rows then returns ``n_passes * R`` rows (pass-major)
    if any of its sources draws noise, and ``R`` rows otherwise.

    Parameters
    ----------
    module : nn.Module
    noise : InferenceNoise
    seed : int

    Yields
    ------
    MonteCarlo
    """
    mc = MonteCarlo(noise, seed, noise_sources(module))
    token = _ACTIVE.set(mc)
    try:
        yield mc
    finally:
        _ACTIVE.reset(token)


def _passes_in(x: torch.Tensor, mc: MonteCarlo) -> int:
    n = x.shape[-2]
    if n == mc.rows:
        return 1
    if n == mc.rows * mc.n_passes:
        return mc.n_passes
    raise RuntimeError(f"A tensor of {n} rows inside a Monte-Carlo chunk of {mc.rows} rows x {mc.n_passes} passes.")


def expand_passes(x: torch.Tensor, mc: MonteCarlo) -> torch.Tensor:
    """View ``(..., N, width)`` as ``(..., P, rows, width)``: P = 1 before the first noise draw, else T."""
    passes = _passes_in(x, mc)
    return x.reshape(*x.shape[:-2], passes, mc.rows, x.shape[-1])


def flatten_passes(y: torch.Tensor, mc: MonteCarlo) -> torch.Tensor:
    """``(..., P, rows, width)`` back to ``(..., P * rows, width)``."""
    return y.reshape(*y.shape[:-3], y.shape[-3] * y.shape[-2], y.shape[-1])


def match_passes(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Repeat the un-repeated rows ``x`` to the pass-major row count of ``like`` (e.g. to compare with inputs)."""
    mc = active_monte_carlo()
    if mc is None or x.shape[-2] == like.shape[-2]:
        return x
    passes = like.shape[-2] // x.shape[-2]
    expanded = x.unsqueeze(-3).expand(*x.shape[:-2], passes, *x.shape[-2:])
    return expanded.reshape(*x.shape[:-2], passes * x.shape[-2], x.shape[-1])


#: The roles of noise sources: what each follows.
#:
#: - ``'noise'``: the estimator's noise (noise layers, noise injection nodes): set by its
#:   ``noise`` / ``noise_scale`` parameters, annealed by a noise schedule, switched on by
#:   Monte-Carlo inference;
#: - ``'activation'``: an activation's own noise (the noisy activations): its constants
#:   are its own; annealed by a schedule, switched on by Monte-Carlo inference;
#: - ``'dropout'``: a regularizer of its own: its rate is its own, never annealed, off at
#:   inference unless Monte-Carlo dropout asks for it.
NOISE_ROLES = ("noise", "activation", "dropout")


class NoiseSource(nn.Module):
    """Base class of every module that draws noise.

    Parameters
    ----------
    train_noise : NoiseSpec
        The noise drawn in training mode.
    rng : NoiseRNG
        The network's shared source of randomness.
    role : {'noise', 'activation', 'dropout'}, default='noise'
        What the source follows (see :data:`NOISE_ROLES`).

    Attributes
    ----------
    schedule_factor : float
        Multiplies the training noise scale (1 unless a noise schedule set it through
        :meth:`NoisyModule.set_schedule_factor`).
    """

    def __init__(self, train_noise: NoiseSpec, rng: NoiseRNG, *, role: str = "noise") -> None:
        super().__init__()
        if role not in NOISE_ROLES:
            raise ValueError(f"role must be one of {NOISE_ROLES}; got {role!r}.")
        self.train_noise = train_noise
        self.rng = rng
        self.role = role
        self.schedule_factor = 1.0

    @property
    def follows_schedule(self) -> bool:
        """Whether a noise schedule anneals this source's training noise."""
        return self.role != "dropout"

    def set_train_noise(self, spec: NoiseSpec) -> None:
        """Replace the training noise (when the estimator's noise parameters changed)."""
        if self.role == "noise":
            self.train_noise = spec

    def training_scale(self) -> float:
        """The training noise scale in force, the schedule factor applied."""
        return self.train_noise.scale * self.schedule_factor

    def inference_spec(self, noise: InferenceNoise) -> NoiseSpec | None:
        """The spec this source draws under Monte-Carlo ``noise``; None: it stays deterministic."""
        if self.role == "dropout":
            return self.train_noise if noise.dropout and self.train_noise.active else None
        own = self.train_noise
        spec = NoiseSpec(
            own.distribution if noise.distribution is None else noise.distribution,
            own.scale if noise.scale is None else noise.scale,
        )
        return spec if spec.active else None

    def monte_carlo_spec(self) -> tuple[MonteCarlo, NoiseSpec] | None:
        """The active context and this source's spec in it, or None (deterministic eval)."""
        if self.training:
            return None
        mc = active_monte_carlo()
        if mc is None:
            return None
        spec = self.inference_spec(mc.noise)
        return None if spec is None else (mc, spec)

    def monte_carlo_draws(self, mc: MonteCarlo, spec: NoiseSpec, shape: tuple[int, ...], like: torch.Tensor):
        """Per-pass perturbations of ``shape``: ``scale * z`` (additive) or the mask (multiplicative)."""
        distribution, scale = spec.distribution, spec.scale

        def make(full_shape, generator):
            draw = distribution.sample(full_shape, generator=generator, device=like.device, dtype=like.dtype,
                                       scale=scale)
            return draw if distribution.kind == "multiplicative" else draw.mul_(scale)

        return mc.draws(self, shape, make, like.device, like.dtype)


class NoiseLayer(NoiseSource):
    """Perturb its input with noise: the training noise in training mode, Monte-Carlo
    noise under an active :class:`MonteCarlo` context, and the identity otherwise (the
    expectation of every zero-mean additive noise and of inverted dropout).

    Parameters
    ----------
    train_noise : NoiseSpec
        Noise used in training mode.
    rng : NoiseRNG
        Shared source of randomness.
    role : {'noise', 'activation', 'dropout'}, default='noise'
        See :class:`NoiseSource`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            spec = self.train_noise
            if not spec.active:
                return x
            return self.rng.perturb(x, spec.distribution, self.training_scale())
        active = self.monte_carlo_spec()
        if active is None:
            return x
        mc, spec = active
        # One draw per pass and feature, shared by the rows: (..., T, 1, width).
        lead = x.shape[:-2]
        draws = self.monte_carlo_draws(mc, spec, (*lead, 1, x.shape[-1]), x).movedim(0, -3)
        rows = expand_passes(x, mc)
        out = rows * draws if spec.distribution.kind == "multiplicative" else rows + draws
        return flatten_passes(out, mc)

    def extra_repr(self) -> str:
        return f"train={self.train_noise.distribution.name}({self.train_noise.scale:g})"


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


def noise_sources(module: nn.Module) -> list[NoiseSource]:
    """Every :class:`NoiseSource` inside ``module``, in module order."""
    return [m for m in module.modules() if isinstance(m, NoiseSource)]


class NoisyModule(nn.Module):
    """Base class of the networks the estimators train.

    Parameters
    ----------
    rng : NoiseRNG
        The one source of randomness every noise source of the network shares.
    """

    def __init__(self, rng: NoiseRNG) -> None:
        super().__init__()
        self.noise_rng = rng

    def noise_sources(self) -> list[NoiseSource]:
        """The network's noise sources, in a fixed order."""
        return noise_sources(self)

    def max_norm_layers(self) -> list[nn.Module]:
        """Layers whose incoming weights a max-norm constraint bounds (none by default)."""
        return []

    def set_train_noise(self, spec: NoiseSpec) -> None:
        """Give every source that follows the estimator's noise parameters the training noise ``spec``."""
        for source in self.noise_sources():
            source.set_train_noise(spec)

    def set_schedule_factor(self, factor: float) -> None:
        """Multiply the training noise of every source that follows a noise schedule by ``factor``."""
        for source in self.noise_sources():
            if source.follows_schedule:
                source.schedule_factor = float(factor)

    def draws_inference_noise(self, noise: InferenceNoise) -> bool:
        """Whether any source draws noise under Monte-Carlo ``noise`` (i.e. whether passes differ)."""
        return any(source.inference_spec(noise) is not None for source in self.noise_sources())

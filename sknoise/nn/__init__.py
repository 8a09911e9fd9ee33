"""The torch side of sknoise: the noise vocabulary and the networks, for PyTorch users.

Nothing here imports scikit-learn or skorch. The estimators of :mod:`sknoise` are built
on these pieces; a torch user can put them in networks of their own: a
:class:`NoisyModule` that owns a :class:`NoiseRNG`, :class:`NoiseLayer` /
:class:`ActivationNoise` / :class:`NoiseInjectionNode` sources, and
:func:`monte_carlo` / :func:`predict_passes` for sampling at inference.
"""

from ._activations import available_activations, make_activation
from ._inference import PRECISIONS, ChunkPlan, PassStatistics, autocast, plan_chunks, predict_passes
from ._layers import (
    ActivationNoise,
    InferenceNoise,
    MonteCarlo,
    NoiseLayer,
    NoiseRNG,
    NoiseSource,
    NoiseSpec,
    NoisyModule,
    monte_carlo,
)
from ._networks import (
    BatchedAutoencoderEnergy,
    BatchedLinear,
    EmbeddedInput,
    JointEnergyLoss,
    MemberMean,
    NINRNet,
    NoiseInjectionNode,
    NoisyMLP,
    OwnClassEnergy,
    PeriodicEmbedding,
)
from ._noise import NoiseDistribution, apply_noise, available_noises, get_noise
from ._noisy_activations import HardSigmoid, HardTanh, NoisyHardActivation

__all__ = [
    "PRECISIONS",
    "ActivationNoise",
    "BatchedAutoencoderEnergy",
    "BatchedLinear",
    "ChunkPlan",
    "autocast",
    "EmbeddedInput",
    "HardSigmoid",
    "HardTanh",
    "InferenceNoise",
    "JointEnergyLoss",
    "MemberMean",
    "MonteCarlo",
    "NINRNet",
    "NoiseDistribution",
    "NoiseInjectionNode",
    "NoiseLayer",
    "NoiseRNG",
    "NoiseSource",
    "NoiseSpec",
    "NoisyHardActivation",
    "NoisyMLP",
    "NoisyModule",
    "OwnClassEnergy",
    "PassStatistics",
    "PeriodicEmbedding",
    "apply_noise",
    "available_activations",
    "available_noises",
    "get_noise",
    "make_activation",
    "monte_carlo",
    "plan_chunks",
    "predict_passes",
]

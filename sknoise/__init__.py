"""sknoise: noise-injection training of neural networks for scikit-learn.

Estimators wrap PyTorch modules through skorch and follow the scikit-learn API:
``fit``/``predict``/``predict_proba``, pipelines, ``clone``, grid search, pickling.
"""

from ._activations import available_activations, make_activation
from ._ebm import BatchedAutoencoderEnergy, NoisyEBMClassifier
from ._layers import ActivationNoise, NoiseLayer, NoiseRNG, NoiseSpec
from ._mlp import NoisyMLP, NoisyMLPClassifier
from ._net import TrainingDivergedError, TrainingDivergedWarning
from ._ninr import NINRClassifier, NINRNet, NIWNormRecorder, NoiseInjectionNode, ninr_phase
from ._noise import NoiseDistribution, apply_noise, available_noises, get_noise
from ._noisy_activations import HardSigmoid, HardTanh, NoisyHardActivation
from ._robustness import available_corruptions, corrupt, plot_robustness, robustness_curve
from ._schedules import noise_schedule_factor
from ._search import suggest_params

__version__ = "0.1.0"

__all__ = [
    "ActivationNoise",
    "BatchedAutoencoderEnergy",
    "NoisyEBMClassifier",
    "NINRClassifier",
    "NINRNet",
    "NIWNormRecorder",
    "NoiseInjectionNode",
    "HardSigmoid",
    "HardTanh",
    "NoisyHardActivation",
    "NoiseDistribution",
    "NoiseLayer",
    "NoiseRNG",
    "NoiseSpec",
    "NoisyMLP",
    "NoisyMLPClassifier",
    "TrainingDivergedError",
    "TrainingDivergedWarning",
    "apply_noise",
    "available_corruptions",
    "corrupt",
    "ninr_phase",
    "plot_robustness",
    "robustness_curve",
    "available_activations",
    "available_noises",
    "get_noise",
    "make_activation",
    "noise_schedule_factor",
    "suggest_params",
]

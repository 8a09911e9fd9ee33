"""sknoise: noise-injection training of neural networks for scikit-learn.

Estimators wrap PyTorch modules through skorch and follow the scikit-learn API:
``fit``/``predict``/``predict_proba``, pipelines, ``clone``, grid search, pickling.
"""

from ._activations import available_activations, make_activation
from ._layers import ActivationNoise, NoiseLayer, NoiseRNG, NoiseSpec
from ._mlp import NoisyMLP, NoisyMLPClassifier
from ._net import TrainingDivergedError
from ._noise import NoiseDistribution, apply_noise, available_noises, get_noise

__version__ = "0.1.0"

__all__ = [
    "ActivationNoise",
    "NoiseDistribution",
    "NoiseLayer",
    "NoiseRNG",
    "NoiseSpec",
    "NoisyMLP",
    "NoisyMLPClassifier",
    "TrainingDivergedError",
    "apply_noise",
    "available_activations",
    "available_noises",
    "get_noise",
    "make_activation",
]

"""sknoise: noise-injection training of neural networks for scikit-learn.

Estimators wrap PyTorch modules through skorch and follow the scikit-learn API:
``fit``/``predict``/``predict_proba``, pipelines, ``clone``, grid search, pickling;
:func:`save` and :func:`load` store them in files that hold no code, and :func:`to_onnx`
exports their prediction.
The torch building blocks (noise distributions, noise layers, the networks) live in
:mod:`sknoise.nn`, which imports neither scikit-learn nor skorch; the most used of
them are re-exported here.
"""

from . import metrics, nn
from ._architectures._ninr import NIWNormRecorder, ninr_phase
from ._estimators import NINRClassifier, NINRRegressor, NoisyEBMClassifier, NoisyMLPClassifier, NoisyMLPRegressor
from ._onnx import to_onnx
from ._persistence import ModelFileError, load, save
from ._robustness import available_corruptions, corrupt, plot_robustness, robustness_curve
from ._runtime._net import TrainingDivergedError, TrainingDivergedWarning
from ._runtime._preprocessing import TablePreprocessor
from ._runtime._schedules import noise_schedule_factor
from ._runtime._validation import PreprocessingWarning
from ._search import suggest_params
from ._version import __version__
from .nn import (
    ActivationNoise,
    BatchedAutoencoderEnergy,
    HardSigmoid,
    HardTanh,
    NINRNet,
    NoiseDistribution,
    NoiseInjectionNode,
    NoiseLayer,
    NoiseRNG,
    NoiseSpec,
    NoisyHardActivation,
    NoisyMLP,
    NoisyModule,
    apply_noise,
    available_activations,
    available_noises,
    get_noise,
    make_activation,
)

__all__ = [
    "__version__",
    "ActivationNoise",
    "BatchedAutoencoderEnergy",
    "HardSigmoid",
    "HardTanh",
    "NINRClassifier",
    "NINRNet",
    "NINRRegressor",
    "NIWNormRecorder",
    "ModelFileError",
    "NoiseDistribution",
    "NoiseInjectionNode",
    "NoiseLayer",
    "NoiseRNG",
    "NoiseSpec",
    "NoisyEBMClassifier",
    "NoisyHardActivation",
    "NoisyMLP",
    "NoisyMLPClassifier",
    "NoisyMLPRegressor",
    "NoisyModule",
    "PreprocessingWarning",
    "TablePreprocessor",
    "TrainingDivergedError",
    "TrainingDivergedWarning",
    "apply_noise",
    "available_activations",
    "available_corruptions",
    "available_noises",
    "corrupt",
    "get_noise",
    "load",
    "make_activation",
    "metrics",
    "nn",
    "ninr_phase",
    "noise_schedule_factor",
    "plot_robustness",
    "robustness_curve",
    "save",
    "suggest_params",
    "to_onnx",
]

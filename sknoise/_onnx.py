"""ONNX export of an estimator's deterministic prediction: :func:`to_onnx`.

The graph is the estimator's network in eval mode (every noise source at its expectation,
dropout off, as with ``inference_noise=None``) followed by its task's head: the members'
softmax probabilities at the calibration temperature, averaged (the MLP and NINR
classifiers); the members' energies, aggregated and turned into the posterior
``softmax(-E / τ + log π)`` (the EBM); the members' mean in the target's units (the
regressors). Its input is the network's numeric input, ``model.transform_input(X)``; for
numeric tables scaled robustly or standardly the preprocessing can go into the graph too
(``preprocessing=True``).

The export uses ``torch.onnx.export(..., dynamo=True)``, torch's supported exporter since
2.9 (it traces with ``torch.export`` and needs ``onnxscript``); the TorchScript-based
exporter (``dynamo=False``) also handles these networks but is deprecated.
"""

from __future__ import annotations

import copy
import logging
import math
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._architectures._ebm import EnergyHead
from ._runtime._architecture import LogitHead
from ._runtime._estimator import registered_estimators
from ._runtime._tasks import NoisyNetClassifier

__all__ = ["to_onnx"]

# The probe rows of the checks, and the largest difference they tolerate (float32 networks).
_PROBE_ROWS = 64
_TOLERANCE = 1e-4


class _Prediction(nn.Module):
    """The network and its task's head: network input (or raw numeric table) to the prediction."""

    def __init__(self, network: nn.Module, head: str, n_members: int, *, temperature: float = 1.0,
                 energy_aggregate: str = "mean", target_mean=None, target_scale=None, single_output: bool = False,
                 preprocessing: nn.Module | None = None) -> None:
        super().__init__()
        self.network, self.head, self.n_members = network, head, n_members
        self.temperature, self.energy_aggregate, self.single_output = temperature, energy_aggregate, single_output
        self.preprocessing = preprocessing
        if head == "regression":
            self.register_buffer("target_mean", torch.as_tensor(target_mean, dtype=torch.float64))
            self.register_buffer("target_scale", torch.as_tensor(target_scale, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocessing is not None:
            x = self.preprocessing(x)
        out = self.network(x)
        if self.n_members == 1:
            out = out.unsqueeze(1)  # (rows, members, outputs)
        if self.head == "logits":
            proba = torch.softmax(out / self.temperature, dim=-1).double().mean(dim=1)
            return (proba / proba.sum(dim=1, keepdim=True)).float()
        if self.head == "energies":
            energies = out.double()
            if self.energy_aggregate == "mean":
                energies = energies.mean(dim=1)
            else:  # the Monte-Carlo free energy over the members: -log mean exp(-E)
                energies = -(torch.logsumexp(-energies, dim=1) - math.log(self.n_members))
            return self.network.posterior(energies).float()
        # The first n_outputs columns are the means (a Gaussian head's variances follow them).
        value = out[..., :self.target_mean.shape[0]].double().mean(dim=1) * self.target_scale + self.target_mean
        return value[:, 0] if self.single_output else value


class _NumericPreprocessing(nn.Module):
    """The built-in preprocessing of a numeric table, in float64: scaling (robust: then the
    smooth clip), missing values to the column's centre, missing indicators."""

    def __init__(self, scaled: list[int], center: np.ndarray, scale: np.ndarray, clip: bool,
                 indicators: list[int]) -> None:
        super().__init__()
        self.scaled, self.indicators, self.clip = list(scaled), list(indicators), clip
        self.register_buffer("center", torch.as_tensor(center, dtype=torch.float64))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.scaled:
            values = x[:, self.scaled]
            z = (values - self.center) / self.scale
            if self.clip:
                z = z / torch.sqrt(1.0 + (z / 3.0) ** 2)
            parts.append(torch.where(torch.isnan(values), torch.zeros_like(z), z))
        if self.indicators:
            parts.append(torch.isnan(x[:, self.indicators]).double())
        return torch.cat(parts, dim=1).float()


def _numeric_preprocessing(model) -> _NumericPreprocessing:
    """The model's fitted preprocessing as a module, if it is one the graph can hold; else a clear error."""
    preprocessor = model.preprocessor_
    refuse = ("to_onnx(preprocessing=True) puts the preprocessing of numeric tables scaled with "
              "numeric_scaling='robust' or 'standard' into the graph; {}. Export with preprocessing=False "
              "and feed the graph model.transform_input(X).")
    if preprocessor is None:
        raise ValueError(refuse.format("this model has no preprocessing (preprocessing=None)"))
    if getattr(preprocessor, "categorical_columns_", None):
        raise ValueError(refuse.format(f"this table has categorical columns {preprocessor.categorical_columns_}"))
    if preprocessor.numeric_scaling not in ("robust", "standard"):
        raise ValueError(refuse.format(f"this model scales with numeric_scaling={preprocessor.numeric_scaling!r}"))
    columns = list(preprocessor.columns_)
    scaled = [columns.index(c) for c in preprocessor.scaled_columns_]
    indicators = [columns.index(c) for c in preprocessor.missing_indicator_columns_]
    scaling = preprocessor._scaling
    center, scale = (scaling.center, scaling.scale) if scaling is not None else (np.zeros(0), np.ones(0))
    module = _NumericPreprocessing(scaled, center, scale, preprocessor.numeric_scaling == "robust", indicators)
    _check_preprocessing(model, module, columns)
    return module


def _check_preprocessing(model, module: _NumericPreprocessing, columns: list) -> None:
    """The module must reproduce ``transform_input`` on probe rows (missing values and outliers included)."""
    import pandas as pd

    rng = np.random.default_rng(0)
    probe = rng.normal(size=(_PROBE_ROWS, len(columns))) * rng.choice([0.1, 1.0, 10.0, 1e4], size=(_PROBE_ROWS, 1))
    probe[rng.random(probe.shape) < 0.2] = np.nan
    frame = pd.DataFrame(probe, columns=model.feature_names_in_) if hasattr(model, "feature_names_in_") else probe
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model.transform_input(frame)
    with torch.no_grad():
        got = module(torch.from_numpy(probe)).numpy()
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-5, atol=1e-5):
        raise ValueError("to_onnx(preprocessing=True) could not reproduce this model's preprocessing in the graph; "
                         "export with preprocessing=False and feed the graph model.transform_input(X).")


def _head(model) -> dict:
    if isinstance(model, NoisyNetClassifier):
        head = model._architecture.classifier_head
        if isinstance(head, LogitHead):
            return {"head": "logits", "temperature": float(model.temperature_)}
        if isinstance(head, EnergyHead):
            return {"head": "energies", "energy_aggregate": model.energy_aggregate}
        raise TypeError(f"to_onnx does not know the classifier head {type(head).__name__}.")
    return {"head": "regression", "target_mean": model.target_mean_, "target_scale": model.target_scale_,
            "single_output": bool(model._single_output_)}


def _probe_input(model, n_inputs: int) -> torch.Tensor:
    """Rows the network takes: normal numbers in the dense columns, valid codes in the code columns."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(_PROBE_ROWS, n_inputs, generator=generator)
    layout = model._input_layout(n_inputs)
    for column, cardinality in zip(layout.codes, layout.cardinalities):
        x[:, column] = torch.randint(0, cardinality, (_PROBE_ROWS,), generator=generator).float()
    return x


def to_onnx(model, path, *, preprocessing: bool = False, opset_version: int | None = None,
            check: bool = True) -> None:
    """Export a fitted estimator's deterministic prediction as an ONNX graph.

    The graph maps the network's numeric input, ``model.transform_input(X)`` (float32,
    shape ``(n_samples, n_inputs)``, any number of rows), to the class probabilities
    (classifiers: float32, columns in the order of ``classes_``) or to the predictions in
    the target's units (regressors: float64, shape ``(n_samples,)`` or
    ``(n_samples, n_outputs)``). It is the model's ``predict_proba`` / ``predict`` with
    ``inference_noise=None`` (and no Monte-Carlo dropout): the ensemble members averaged,
    the calibration temperature applied, every noise source at its expectation. Its
    input is named ``"input"``, its output ``"probabilities"`` or ``"predictions"``.

    Parameters
    ----------
    model : fitted sknoise estimator
    path : str or path-like
        The ``.onnx`` file to write.
    preprocessing : bool, default=False
        Put the fitted preprocessing into the graph too, whose input is then the raw
        table as float64, ``(n_samples, n_features_in_)`` in the order of
        ``feature_names_in_``, NaN for missing values. Only for models with
        ``preprocessing='auto'`` fitted on numeric columns only, with
        ``numeric_scaling='robust'`` (scaling, smooth clipping) or ``'standard'``:
        missing values and their indicator columns are in the graph. Categorical
        columns (strings) and the quantile scaling are not: export those with
        ``preprocessing=False`` and call ``transform_input`` in front. Infinite values
        are not checked inside the graph (``predict`` refuses them).
    opset_version : int, optional
        The ONNX opset; None: the exporter's default.
    check : bool, default=True
        Run the graph in onnxruntime (when it is installed) on probe rows and refuse
        the export if it differs from the PyTorch computation by more than 1e-4.

    Raises
    ------
    ImportError
        If ``onnx`` or ``onnxscript`` is missing (``pip install sknoise[onnx]``), or torch
        is older than 2.6.
    ValueError
        If ``preprocessing=True`` is asked of a preprocessing the graph cannot hold.

    See Also
    --------
    save : A file to load back into sknoise (training can go on).

    Notes
    -----
    The export is ``torch.onnx.export(..., dynamo=True)``. A model with inference noise
    (``inference_noise`` or ``inference_dropout``) still exports its deterministic
    prediction, with a warning; a model trained with ``precision='bfloat16'`` exports a
    float32 graph.
    """
    check_is_fitted(model)
    if type(model) not in registered_estimators():
        raise TypeError(f"to_onnx exports sknoise's estimators; got {type(model).__name__}.")
    if torch.__version__ < "2.6":
        raise ImportError(f"to_onnx needs torch >= 2.6 (its torch.export-based ONNX exporter); this is "
                          f"torch {torch.__version__}.")
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as error:
        raise ImportError("to_onnx needs onnx and onnxscript: pip install 'sknoise[onnx]'.") from error
    if model._monte_carlo_noise() is not None:
        warnings.warn(
            f"This {type(model).__name__} averages Monte-Carlo passes at prediction time (inference_noise="
            f"{model.inference_noise!r}); the ONNX graph computes its deterministic prediction, as with "
            "inference_noise=None.",
            UserWarning,
            stacklevel=2,
        )
    network = copy.deepcopy(model.net_.module_).cpu().eval()
    layout = None if model.preprocessor_ is None else model.preprocessor_.layout_
    n_inputs = model.n_features_in_ if layout is None else len(layout.dense) + len(layout.codes)
    pre = _numeric_preprocessing(model) if preprocessing else None
    wrapper = _Prediction(network, n_members=model.n_members_, preprocessing=pre, **_head(model)).eval()
    if pre is None:
        example = _probe_input(model, n_inputs)
    else:
        example = torch.from_numpy(np.random.default_rng(0).normal(size=(_PROBE_ROWS, model.n_features_in_)))
    output = "probabilities" if isinstance(model, NoisyNetClassifier) else "predictions"
    # The exporter warns about its own internals (deprecations, torchvision's missing operators).
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper, (example,), str(Path(path)), dynamo=True, verbose=False, external_data=False,
                input_names=["input"], output_names=[output], opset_version=opset_version,
                dynamic_shapes={"x": {0: torch.export.Dim("rows", min=1)}},
            )
    finally:
        registration.setLevel(level)
    if check:
        _check_graph(Path(path), wrapper, example)


def _check_graph(path: Path, wrapper: nn.Module, example: torch.Tensor) -> None:
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for rows in (example, example[:1]):
        with torch.no_grad():
            expected = wrapper(rows).numpy()
        got = session.run(None, {"input": rows.numpy()})[0]
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=_TOLERANCE, atol=_TOLERANCE):
            path.unlink(missing_ok=True)
            raise RuntimeError("The exported ONNX graph does not reproduce the model's prediction "
                               f"(largest difference {np.max(np.abs(got - expected)):.3g}); nothing was written.")

"""Safe persistence: :func:`save` and :func:`load`, one safetensors file and no pickle.

The file
--------
One `safetensors <https://huggingface.co/docs/safetensors>`_ file: an 8-byte
little-endian header length, a JSON header giving every tensor's dtype, shape and byte
range, then the tensors' raw bytes. Nothing in it is code: its reader parses JSON and
copies bytes. The header's ``__metadata__`` (a string-to-string map) holds one entry,
``"sknoise"``: a JSON document (Python's JSON, whose floats round-trip exactly and which
writes ``NaN`` and ``Infinity`` as such) with everything that is not a tensor:

- ``format`` (``"sknoise-model"``), ``format_version`` (:data:`FORMAT_VERSION`) and the
  ``sknoise_version`` and ``torch_version`` that wrote it;
- ``estimator``: the class name, one of :func:`registered_estimators`;
- ``params``: every parameter (``get_params(deep=False)``); ``metadata_request``: the
  metadata requests set with ``set_fit_request`` and co.;
- ``fitted`` (None for an unfitted estimator): the parameters the network was built with
  (``fit_params``), the fitted attributes (``classes_`` with string labels, the target
  statistics, the calibration temperature, the seeds, ``n_features_in_``,
  ``feature_names_in_``, the best epoch and losses), the preprocessing's state, and the
  net's: its device, the noise streams' seeds and training-call counter, the training
  noise and schedule factors in force, the optimizer's hyperparameters, the skorch
  history and what the divergence check quotes.

Tensors are named by where they go: ``module/<key>`` (the network's state dict: weights,
ensemble members, embeddings, batch-norm statistics, the EBM's temperature and log
prior), ``criterion/<key>`` (the joint EBM loss's temperature), ``optimizer/<i>/<key>``
(the optimizer state of parameter ``i``: Adam's moments and step count),
``net/shuffle_generator`` (the state of the generator that shuffles the training rows),
``attribute/<name>`` and ``preprocessor/<name>`` (numeric arrays). Arrays of strings
(labels, category names) are JSON lists in the document.

Inside the document, values that JSON lacks are tagged objects: ``{"__tuple__": [...]}``,
``{"__dict__": [[key, value], ...]}``, ``{"__array__": name, "dtype", "shape"}`` (a
tensor), ``{"__values__": [...], "dtype", "shape"}`` (an array of strings or Python
scalars), ``{"__device__": "cuda:0"}``, ``{"__random_state__": [...]}``. Every other JSON
object in a value position is refused.

What load checks
----------------
The format and its version, the class against the registry, every parameter against the
estimator's constraints (scikit-learn's ``_validate_params`` and the estimator's own
checks), every fitted attribute (type, shape, range), every tensor's name, shape and
dtype against the network rebuilt by the estimator's own building steps, the
optimizer's state against the parameters it belongs to; and that no key or tensor is
left unread. Any failure raises :class:`ModelFileError` and returns nothing: ``load``
gives a working estimator or an exception, never half of one.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import safetensors.torch
import sklearn
import torch
from skorch.history import History

from ._architectures._ebm import EnergyHead
from ._runtime._architecture import LogitHead
from ._runtime._estimator import NoisyNetEstimator, registered_estimators
from ._runtime._net import set_verbose
from ._runtime._preprocessing import TablePreprocessor
from ._runtime._tasks import NoisyNetClassifier, NoisyNetRegressor
from ._version import __version__
from .nn._inference import PRECISIONS
from .nn._layers import NoiseSpec
from .nn._noise import available_noises, get_noise

__all__ = ["save", "load", "ModelFileError", "FORMAT_VERSION", "MAX_BATCH_ROWS_KEPT"]

#: The version of the file format this sknoise writes (and the newest it reads).
FORMAT_VERSION = 1
_FORMAT = "sknoise-model"
_METADATA_KEY = "sknoise"
#: The history keeps its per-batch rows (loss and size of every mini-batch) up to this
#: many in all; a longer history keeps its per-epoch rows only.
MAX_BATCH_ROWS_KEPT = 10_000
#: Optimizer state that torch's Adam, AdamW, SGD and RMSprop keep per parameter.
_OPTIMIZER_STATE_KEYS = frozenset({"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer",
                                   "square_avg", "grad_avg"})
#: The optimizer hyperparameters training changes (the learning-rate schedule, partial_fit's new values).
_OPTIMIZER_GROUP_KEYS = ("lr", "weight_decay", "momentum", "betas")
_TRUSTED_ALTERNATIVE = ("For trusted use, pickle or joblib store any estimator, but loading them runs code: "
                        "load them only from sources you trust.")


class ModelFileError(ValueError):
    """A file that :func:`sknoise.load` refuses: not an sknoise model file, tampered with,
    truncated, inconsistent, or written by a newer sknoise. Nothing was loaded."""


# ============================================================================ values
class _Unstorable(ValueError):
    pass


def _describe_code(value) -> str | None:
    """Why ``value`` is code rather than data, or None."""
    if isinstance(value, torch.distributions.Distribution):
        return "a torch Distribution object"
    if isinstance(value, type):
        return f"a class ({value.__module__}.{value.__qualname__})"
    if callable(value):
        return f"a callable ({getattr(value, '__qualname__', type(value).__name__)})"
    return None


def _plain(value, where: str):
    """``value`` as plain JSON (no tags): numbers, strings, booleans, None, lists and str-keyed dicts."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        return value.item()
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.tolist()
    if isinstance(value, dict):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise _Unstorable(f"{where} has a key that is not a string: {bad[0]!r}")
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise _Unstorable(f"{where} holds a value of type {type(value).__name__} that is not plain data")


class _Writer:
    """Collects the tensors of a file while the JSON document is built."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}

    def tensor(self, name: str, value: torch.Tensor) -> str:
        if name in self.tensors:
            raise RuntimeError(f"Two tensors named {name!r}.")
        self.tensors[name] = value.detach().to("cpu").contiguous()
        return name

    def array(self, name: str, array: np.ndarray, where: str) -> dict:
        """A numeric array as a tensor; strings (and other Python scalars) as JSON values."""
        shape = list(array.shape)
        if array.dtype.kind in "biuf":
            native = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
            if native.dtype.kind == "u" and native.dtype.itemsize > 1:
                raise _Unstorable(f"{where} is an array of {native.dtype}, which safetensors cannot hold")
            self.tensor(name, torch.from_numpy(native.copy()))
            return {"__array__": name, "dtype": native.dtype.str, "shape": shape}
        if array.dtype.kind in "UO":
            values = []
            for item in array.ravel().tolist():
                if item is not None and not isinstance(item, (str, bool, int, float)):
                    raise _Unstorable(f"{where} holds {item!r} of type {type(item).__name__}")
                values.append(item)
            return {"__values__": values, "dtype": array.dtype.str, "shape": shape}
        raise _Unstorable(f"{where} is an array of dtype {array.dtype}")

    def value(self, value, name: str, where: str):
        """Any parameter or attribute value as tagged JSON (tensors and arrays under ``name``)."""
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (np.bool_, np.integer, np.floating)):
            return value.item()
        if isinstance(value, (int, float)):
            return value
        if isinstance(value, tuple):
            return {"__tuple__": [self.value(v, f"{name}/{i}", f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.value(v, f"{name}/{i}", f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {"__dict__": [[self.value(k, f"{name}/key{i}", f"{where} key"),
                                  self.value(v, f"{name}/{i}", f"{where}[{k!r}]")]
                                 for i, (k, v) in enumerate(value.items())]}
        if isinstance(value, np.ndarray):
            return self.array(name, value, where)
        if isinstance(value, torch.Tensor):
            return {**self.array(name, value.detach().cpu().numpy(), where), "torch": True}
        if isinstance(value, torch.device):
            return {"__device__": str(value)}
        if isinstance(value, np.random.RandomState):
            kind, keys, pos, has_gauss, cached = value.get_state()
            return {"__random_state__": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]}
        code = _describe_code(value)
        if code is not None:
            raise _Unstorable(f"{where} is {code}: code, which a model file does not hold")
        raise _Unstorable(f"{where} is a {type(value).__name__}, which sknoise.save cannot store as data")


class _Reader:
    """The tensors of a file, handed out by name; remembers which were read."""

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        self.tensors = tensors
        self.read: set[str] = set()

    def tensor(self, name: str) -> torch.Tensor:
        if not isinstance(name, str) or name not in self.tensors:
            raise ModelFileError(f"the tensor {name!r} that the document names is missing")
        if name in self.read:
            raise ModelFileError(f"the tensor {name!r} is named twice")
        self.read.add(name)
        return self.tensors[name]

    def unread(self) -> list[str]:
        return sorted(set(self.tensors) - self.read)

    def array(self, ref: dict, where: str) -> np.ndarray:
        shape = ref.get("shape")
        if not (isinstance(shape, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                                for n in shape)):
            raise ModelFileError(f"{where}: the shape {shape!r} is not a list of sizes")
        try:
            dtype = np.dtype(ref.get("dtype"))
        except TypeError as error:
            raise ModelFileError(f"{where}: {ref.get('dtype')!r} is not a dtype") from error
        if "__array__" in ref:
            _keys(ref, {"__array__", "dtype", "shape"}, where)
            if dtype.kind not in "biuf":
                raise ModelFileError(f"{where}: a tensor cannot hold dtype {dtype}")
            tensor = self.tensor(ref["__array__"])
            expected = torch.from_numpy(np.empty(0, dtype=dtype)).dtype
            if tensor.dtype != expected or list(tensor.shape) != shape:
                raise ModelFileError(f"{where}: the tensor is {tensor.dtype} of shape {list(tensor.shape)}; "
                                     f"the document says {dtype} of shape {shape}")
            return tensor.numpy().astype(dtype, copy=True)
        _keys(ref, {"__values__", "dtype", "shape"}, where)
        values = ref["__values__"]
        if dtype.kind not in "UO" or not isinstance(values, list) or len(values) != math.prod(shape):
            raise ModelFileError(f"{where}: {len(values) if isinstance(values, list) else 'no'} values for an "
                                 f"array of dtype {dtype} and shape {shape}")
        if dtype.kind == "U":
            if not all(isinstance(v, str) and len(v) <= dtype.itemsize // 4 for v in values):
                raise ModelFileError(f"{where}: the values do not fit dtype {dtype}")
            return np.array(values, dtype=dtype).reshape(shape)
        if not all(v is None or isinstance(v, (str, bool, int, float)) for v in values):
            raise ModelFileError(f"{where}: an object array may hold strings and numbers only")
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)

    def value(self, value, where: str):
        """The inverse of :meth:`_Writer.value`."""
        if value is None or isinstance(value, (bool, str, int, float)):
            return value
        if isinstance(value, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, dict) or len(value) == 0:
            raise ModelFileError(f"{where}: {value!r} is not a value")
        if "__tuple__" in value:
            _keys(value, {"__tuple__"}, where)
            items = value["__tuple__"]
            if not isinstance(items, list):
                raise ModelFileError(f"{where}: a tuple must hold a list")
            return tuple(self.value(v, f"{where}[{i}]") for i, v in enumerate(items))
        if "__dict__" in value:
            _keys(value, {"__dict__"}, where)
            pairs = value["__dict__"]
            if not (isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 for p in pairs)):
                raise ModelFileError(f"{where}: a dict must hold [key, value] pairs")
            out = {}
            for key, item in pairs:
                key = self.value(key, f"{where} key")
                if not isinstance(key, (str, int, float, bool)) or key in out:
                    raise ModelFileError(f"{where}: the key {key!r} is not a distinct string or number")
                out[key] = self.value(item, f"{where}[{key!r}]")
            return out
        if value.get("torch") is True:
            array = self.array({k: v for k, v in value.items() if k != "torch"}, where)
            if array.dtype.kind not in "biuf":
                raise ModelFileError(f"{where}: a tensor cannot hold dtype {array.dtype}")
            return torch.from_numpy(array)
        if "__array__" in value or "__values__" in value:
            return self.array(value, where)
        if "__device__" in value:
            _keys(value, {"__device__"}, where)
            try:
                return torch.device(value["__device__"])
            except (RuntimeError, TypeError) as error:
                raise ModelFileError(f"{where}: {value['__device__']!r} is not a torch device") from error
        if "__random_state__" in value:
            _keys(value, {"__random_state__"}, where)
            state = value["__random_state__"]
            try:
                kind, keys, pos, has_gauss, cached = state
                random_state = np.random.RandomState()
                random_state.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
            except (TypeError, ValueError, OverflowError) as error:
                raise ModelFileError(f"{where}: not the state of a RandomState ({error})") from error
            return random_state
        raise ModelFileError(f"{where}: unknown tagged value with keys {sorted(value)}")


def _keys(doc, expected: set, where: str, optional: set = frozenset()) -> None:
    """``doc`` must be a JSON object with the keys ``expected`` (and maybe some of ``optional``), no others."""
    if not isinstance(doc, dict):
        raise ModelFileError(f"{where} must be a JSON object; got {type(doc).__name__}")
    missing = sorted(expected - set(doc))
    unexpected = sorted(set(doc) - expected - set(optional))
    if missing:
        raise ModelFileError(f"{where} lacks {missing}")
    if unexpected:
        raise ModelFileError(f"{where} holds unexpected keys {unexpected}")


# ============================================================================ fitted attributes
def _is_int(v, low: int = 0) -> bool:
    return isinstance(v, Integral) and not isinstance(v, bool) and v >= low


def _is_float(v, low: float = -math.inf, finite: bool = True) -> bool:
    return (isinstance(v, Real) and not isinstance(v, bool) and (math.isfinite(v) or not finite)
            and v >= low)


def _optional_float(v, est) -> bool:
    return v is None or _is_float(v, finite=False)


def _classes(v, est) -> bool:
    return (isinstance(v, np.ndarray) and v.ndim == 1 and len(v) >= 2 and v.dtype.kind in "biufUO"
            and len(np.unique(v)) == len(v) and np.array_equal(np.unique(v), v))


def _feature_names(v, est) -> bool:
    return (isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype == object
            and all(isinstance(n, str) for n in v) and len(v) == getattr(est, "n_features_in_", -1))


def _noise_choice(v, est) -> bool:
    """``noise_``: the training noise a fit chose (``noise='auto'``) or was given, and why."""
    return (isinstance(v, dict) and set(v) == {"noise", "noise_scale", "rule"} and isinstance(v["noise"], str)
            and _is_float(v["noise_scale"]) and v["noise_scale"] >= 0 and isinstance(v["rule"], str))


def _seeds(v, est) -> bool:
    return isinstance(v, tuple) and len(v) == 5 and all(_is_int(s) and s < 2**31 for s in v)


def _target_stat(positive: bool, nonnegative: bool = False):
    """A check of a float64 array with one finite value per target (positive, or >= 0, if asked)."""
    def check(v, est) -> bool:
        return (isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == (getattr(est, "n_outputs_", -1),)
                and bool(np.isfinite(v).all()) and (not positive or bool((v > 0).all()))
                and (not nonnegative or bool((v >= 0).all())))
    return check


def _conformity_scores(v, est) -> bool:
    """Sorted, non-negative scores of at least two calibration rows, one column per target."""
    return (isinstance(v, np.ndarray) and v.dtype == np.float64 and v.ndim == 2 and v.shape[0] >= 2
            and v.shape[1] == est.n_outputs_ and not bool(np.isnan(v).any()) and bool((v >= 0).all())
            and bool((np.diff(v, axis=0) >= 0).all()))


def _class_counts(v, est) -> bool:
    return (isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == (len(est.classes_),)
            and bool(np.isfinite(v).all()) and bool((v >= 0).all()))


#: Every fitted attribute an estimator stores, beyond the network, the preprocessing and the
#: fit parameters: name -> (check(value, estimator), required). Checks run in this order, so
#: a check may read the attributes above it. save refuses a fitted attribute not listed here
#: (it would be lost) and load refuses one the file holds that is not listed: a new fitted
#: attribute joins this table, with the check load makes of it.
_COMMON_ATTRIBUTES = {
    "n_features_in_": (lambda v, est: _is_int(v, 1), True),
    "feature_names_in_": (_feature_names, False),
    "_seeds_": (_seeds, True),
    "best_epoch_": (lambda v, est: _is_int(v), True),
    "best_validation_loss_": (_optional_float, True),
    "best_validation_score_": (_optional_float, True),
    "best_loss_": (_optional_float, True),
    "noise_": (_noise_choice, True),
}
#: The class counts make class_prior_ (the balanced decision, the EBM's prior); partial_fit adds to them.
_CLASSIFIER_ATTRIBUTES = {"classes_": (_classes, True), "_class_counts_": (_class_counts, True)}
_HEAD_ATTRIBUTES = {
    LogitHead: {"temperature_": (lambda v, est: _is_float(v) and v > 0, True)},
    # The EBM's temperature and prior are buffers of its module.
    EnergyHead: {},
}
_REGRESSOR_ATTRIBUTES = {
    "n_outputs_": (lambda v, est: _is_int(v, 1), True),
    "_single_output_": (lambda v, est: isinstance(v, bool) and (not v or est.n_outputs_ == 1), True),
    "target_mean_": (_target_stat(False), True),
    "target_scale_": (_target_stat(True), True),
    # The calibration of the predictive spread and of the conformal intervals.
    "noise_floor_": (_target_stat(False, nonnegative=True), True),
    "std_scale_": (_target_stat(False, nonnegative=True), True),
    "conformity_scores_": (_conformity_scores, True),
    "interval_calibration_": (lambda v, est: v in ("held-out", "training", "user"), True),
}
#: Fitted attributes that are not stored as values: rebuilt (the network's memory plan) or
#: stored in sections of their own.
_REBUILT = {"net_", "preprocessor_", "_fit_params_", "_layer_widths_", "n_members_"}


def _fitted_attributes(cls) -> dict:
    """The stored fitted attributes of estimator class ``cls`` (see the tables above)."""
    table = dict(_COMMON_ATTRIBUTES)
    if issubclass(cls, NoisyNetClassifier):
        table.update(_CLASSIFIER_ATTRIBUTES)
        for head, attributes in _HEAD_ATTRIBUTES.items():
            if isinstance(cls._architecture.classifier_head, head):
                table.update(attributes)
    if issubclass(cls, NoisyNetRegressor):
        table.update(_REGRESSOR_ATTRIBUTES)
    return table


def _is_fitted_name(name: str) -> bool:
    return name.endswith("_") and not name.startswith("__")


# ============================================================================ save
def save(model, path, *, optimizer_state: bool = True) -> None:
    """Save an sknoise estimator, fitted or not, to one file that holds no code.

    The file is a safetensors file (tensors) whose metadata holds one JSON document
    (everything else); :func:`sknoise.load` reads it back without unpickling anything.
    It keeps the parameters, the fitted attributes, the network's weights and buffers,
    the optimizer's state, the noise streams' seeds and counters and the history
    (its per-batch rows only up to :data:`MAX_BATCH_ROWS_KEPT` in all), so that the
    loaded model predicts identically (Monte-Carlo passes included) and ``partial_fit``
    continues exactly as the original would. The file is written to a temporary file
    first and then moved into place.

    Parameters
    ----------
    model : NoisyMLPClassifier, NoisyMLPRegressor, NINRClassifier, NINRRegressor or NoisyEBMClassifier
        An estimator of one of sknoise's own classes (not a subclass, nor a Pipeline).
    path : str or path-like
        The file to write (conventionally ``*.safetensors``); an existing file is replaced.
    optimizer_state : bool, default=True
        Keep the optimizer's state (Adam's two moments: twice the size of the weights).
        Without it the file is about a third the size and predicts identically, but a
        ``partial_fit`` after loading starts the optimizer afresh.

    Raises
    ------
    ValueError
        If a parameter or attribute is code rather than data (a callable ``noise``,
        ``activation`` or ``noise_schedule``, a torch Distribution, an optimizer class,
        user ``callbacks``), or anything else that cannot be stored without pickle.
    NotImplementedError
        For a fitted model with the built-in preprocessing, until the preprocessing can
        export its state (see the README).

    See Also
    --------
    load : Read the file back.
    to_onnx : Export the prediction as an ONNX graph.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.datasets import load_iris
    >>> from sknoise import NoisyMLPClassifier, load, save
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NoisyMLPClassifier((8,), preprocessing=None, max_epochs=3, random_state=0).fit(X, y)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "clf.safetensors"
    >>> save(clf, path)
    >>> bool((load(path).predict_proba(X) == clf.predict_proba(X)).all())
    True
    """
    registry = registered_estimators()
    if type(model) not in registry:
        raise TypeError(
            f"sknoise.save stores the estimators of sknoise's own classes "
            f"({', '.join(c.__name__ for c in registry)}); got {type(model).__name__}. {_TRUSTED_ALTERNATIVE}"
        )
    writer = _Writer()
    try:
        doc = _document(model, writer, optimizer_state)
        metadata = json.dumps(doc, allow_nan=True, separators=(",", ":"))
    except _Unstorable as error:
        raise ValueError(
            f"sknoise.save cannot store this {type(model).__name__}: {error}. A model file holds data only, "
            f"never code: use the built-in names (e.g. noise='gaussian', optimizer='adam') and no callbacks. "
            f"{_TRUSTED_ALTERNATIVE}"
        ) from None
    data = safetensors.torch.save(writer.tensors, metadata={_METADATA_KEY: metadata})
    _write_atomically(Path(path), data)


def _document(model, writer: _Writer, optimizer_state: bool) -> dict:
    params = model.get_params(deep=False)
    if model.callbacks:
        raise _Unstorable("callbacks holds user callbacks, which are code")
    doc = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "sknoise_version": __version__,
        "torch_version": torch.__version__,
        "estimator": type(model).__name__,
        "params": {name: writer.value(value, f"param/{name}", f"the parameter {name}={value!r}")
                   for name, value in params.items()},
        "metadata_request": _metadata_requests(model),
        "fitted": None,
    }
    fitted = model.__sklearn_is_fitted__()
    table = _fitted_attributes(type(model)) if fitted else {}
    for name in vars(model):
        if name in params or name == "_metadata_request":
            continue
        if not fitted or not _is_fitted_name(name) or (name not in table and name not in _REBUILT):
            raise _Unstorable(
                f"its attribute {name!r} is not one sknoise knows how to store (a new fitted attribute "
                "joins the table in sknoise/_persistence.py)"
            )
    if fitted:
        doc["fitted"] = _fitted_document(model, writer, table, optimizer_state)
    return doc


def _metadata_requests(model) -> dict:
    """The metadata requests set on the estimator (``set_fit_request`` and co.), without the defaults."""
    request = vars(model).get("_metadata_request")
    if request is None:
        return {}
    serialized = request._serialize()
    out = {method: {k: v for k, v in requests.items() if v is not None} for method, requests in serialized.items()}
    return _plain({m: r for m, r in out.items() if r}, "the metadata requests")


def _fitted_document(model, writer: _Writer, table: dict, optimizer_state: bool) -> dict:
    fit_params = model._fit_params_
    if fit_params.get("callbacks"):
        raise _Unstorable("the network was built with user callbacks, which are code")
    attributes = {
        name: writer.value(getattr(model, name), f"attribute/{name}", f"the fitted attribute {name}")
        for name in table if name in vars(model)
    }
    return {
        "fit_params": {name: writer.value(value, f"fit_param/{name}",
                                          f"the parameter {name}={value!r} the network was built with")
                       for name, value in fit_params.items()},
        "attributes": attributes,
        "preprocessor": _preprocessor_document(model.preprocessor_, writer),
        "net": _net_document(model, writer, optimizer_state),
    }


def _preprocessor_document(preprocessor, writer: _Writer) -> dict | None:
    if preprocessor is None:
        return None
    meta, arrays = preprocessor._get_state()
    return {
        "meta": _plain(meta, "the preprocessing's state"),
        "arrays": {str(name): writer.array(f"preprocessor/{name}", np.asarray(array),
                                           f"the preprocessing's array {name!r}")
                   for name, array in arrays.items()},
    }


def _train_noise(module) -> dict | None:
    """The training noise of the sources that follow the estimator's noise parameters."""
    specs = {(s.train_noise.distribution, s.train_noise.scale) for s in module.noise_sources() if s.role == "noise"}
    if not specs:
        return None
    if len(specs) > 1:
        raise _Unstorable("the network's noise sources carry different training noises")
    ((distribution, scale),) = specs
    if distribution.name not in available_noises() or get_noise(distribution.name) is not distribution:
        raise _Unstorable(f"the network's training noise {distribution.name!r} is user code")
    return {"noise": distribution.name, "scale": float(scale)}


def _history_document(history) -> tuple[list, str]:
    rows = [dict(row) for row in history]
    n_batch_rows = sum(len(row.get("batches", ())) for row in rows)
    kept = "all" if n_batch_rows <= MAX_BATCH_ROWS_KEPT else "epochs"
    if kept == "epochs":
        for row in rows:
            if "batches" in row:
                row["batches"] = []
    return _plain(rows, "the history"), kept


def _net_document(model, writer: _Writer, optimizer_state: bool) -> dict:
    net = model.net_
    module = net.module_
    for key, tensor in module.state_dict().items():
        writer.tensor(f"module/{key}", tensor)
    for key, tensor in net.criterion_.state_dict().items():
        writer.tensor(f"criterion/{key}", tensor)
    optimizer = net.optimizer_.state_dict()
    state = None
    if optimizer_state:
        state = {}
        for index, entries in optimizer["state"].items():
            state[str(index)] = {}
            for key, value in entries.items():
                if torch.is_tensor(value):
                    state[str(index)][key] = {"__tensor__": writer.tensor(f"optimizer/{index}/{key}", value)}
                else:
                    state[str(index)][key] = _plain(value, f"the optimizer state {key!r}")
    groups = [{k: _plain(group[k], f"the optimizer's {k}") for k in _OPTIMIZER_GROUP_KEYS if k in group}
              for group in optimizer["param_groups"]]
    writer.tensor("net/shuffle_generator", net.shuffle_generator_.get_state())
    last_good = dict(net.callbacks_)["last_good_epoch"]
    history, kept = _history_document(net.history)
    rng = module.noise_rng
    return {
        "device": str(net.device),
        "noise_rng": {"seeds": {"train": int(rng.seeds["train"]), "inference": int(rng.seeds["inference"])},
                      "calls": int(rng.calls)},
        "train_noise": _train_noise(module),
        "schedule_factors": [float(s.schedule_factor) for s in module.noise_sources()],
        "lr": float(net.lr),
        "batch_size": int(net.batch_size),
        "max_epochs": int(net.max_epochs),
        "precision": str(net.precision),
        "verbose": int(net.verbose),
        "last_good_epoch": {"settings": str(last_good.settings), "on_divergence": str(last_good.on_divergence),
                            "input_magnitude": float(last_good.input_magnitude),
                            "diverged": bool(getattr(last_good, "diverged_", False))},
        "criterion_training": bool(net.criterion_.training),
        "optimizer": {"groups": groups, "state": state},
        "history": history,
        "history_batches": kept,
    }


def _write_atomically(path: Path, data: bytes) -> None:
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ============================================================================ load
def load(path, device=None):
    """Load an estimator saved by :func:`sknoise.save`, running no code from the file.

    Only sknoise's own estimator classes are built (the registry), from parameters
    validated against their constraints, with a network rebuilt by the estimator's own
    building steps under the saved seeds; every saved tensor must then match that
    network's names, shapes and dtypes. The result predicts identically to the saved
    model on the same device (Monte-Carlo passes included) and ``partial_fit`` continues
    as it would have.

    Parameters
    ----------
    path : str or path-like
    device : str, torch.device or None, default=None
        Where the network goes: None keeps the saved device when this machine has it
        and falls back to the CPU (with a warning) when it does not, so a model fitted
        on a GPU loads on a machine without one; ``'cpu'``, ``'cuda'``, ... put it
        there. A moved model's ``device`` parameter names its new device (unless it was
        ``'auto'``).

    Returns
    -------
    estimator
        Fitted if the saved one was.

    Raises
    ------
    ModelFileError
        If the file is not an sknoise model file, is truncated or tampered with, holds
        an unknown class, a parameter outside its constraints, a tensor of the wrong
        shape or dtype, an unexpected key or tensor, or was written in a newer format.

    See Also
    --------
    save : Write the file.
    """
    _check_device_argument(device)
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelFileError(f"Cannot read {str(path)!r}: {error}") from error
    try:
        doc = _metadata(data)
        tensors = _tensors(data)
        reader = _Reader(tensors)
        estimator = _estimator(doc, reader, device)
        unread = reader.unread()
        if unread:
            shown = ", ".join(repr(n) for n in unread[:5]) + (" ..." if len(unread) > 5 else "")
            raise ModelFileError(f"the file holds tensors that belong to nothing: {shown}")
    except ModelFileError as error:
        raise ModelFileError(f"Cannot load {str(path)!r}: {error}.") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError, RecursionError) as error:
        # A value of the wrong JSON type that no check above caught: still a refusal, never half a model.
        raise ModelFileError(f"Cannot load {str(path)!r}: the file is inconsistent "
                             f"({type(error).__name__}: {error}).") from None
    return estimator


def _looks_pickled(data: bytes) -> bool:
    """A pickle (protocol 2 to 5, ending with its STOP opcode) or a zip archive (torch.save, joblib's zips)."""
    pickled = len(data) > 2 and data[0] == 0x80 and 2 <= data[1] <= 5 and data.endswith(b".")
    return pickled or data[:4] == b"PK\x03\x04"


def _metadata(data: bytes) -> dict:
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else None
    if size is None or size > len(data) - 8 or data[8:9] != b"{":
        if _looks_pickled(data):
            raise ModelFileError(
                "it is a pickle (or a torch.save archive), not an sknoise model file; unpickling runs code, so "
                "open it with pickle or joblib only if you trust its source"
            )
        if size is None or size > len(data) - 8:
            raise ModelFileError(f"the file is truncated (it holds {len(data)} bytes, fewer than its header "
                                 "says)")
        raise ModelFileError("it is not a safetensors file (no JSON header)")
    try:
        header = json.loads(data[8:8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ModelFileError(f"the safetensors header is not JSON ({error})") from None
    if not isinstance(header, dict):
        raise ModelFileError("the safetensors header is not a JSON object")
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or _METADATA_KEY not in metadata:
        raise ModelFileError("it is not an sknoise model file (its safetensors metadata holds no 'sknoise' entry)")
    _keys(metadata, {_METADATA_KEY}, "the safetensors metadata")
    try:
        doc = json.loads(metadata[_METADATA_KEY])
    except (TypeError, json.JSONDecodeError, RecursionError) as error:
        raise ModelFileError(f"the sknoise metadata is not JSON ({error})") from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise ModelFileError("it is not an sknoise model file (its metadata names no sknoise format)")
    version = doc.get("format_version")
    if not _is_int(version, 1):
        raise ModelFileError(f"the format version {version!r} is not a version number")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"it was written in format version {version} by sknoise {doc.get('sknoise_version')!r}; this sknoise "
            f"({__version__}) reads format version {FORMAT_VERSION} and older: upgrade sknoise to load it"
        )
    _keys(doc, {"format", "format_version", "sknoise_version", "torch_version", "estimator", "params",
                "metadata_request", "fitted"}, "the metadata")
    return doc


def _tensors(data: bytes) -> dict[str, torch.Tensor]:
    try:
        return safetensors.torch.load(data)
    except Exception as error:  # safetensors raises its own SafetensorError and others on bad bytes
        raise ModelFileError(f"the tensors cannot be read ({type(error).__name__}: {error}); the file is "
                             "truncated or damaged") from None


def _estimator(doc: dict, reader: _Reader, device) -> NoisyNetEstimator:
    classes = {cls.__name__: cls for cls in registered_estimators()}
    name = doc["estimator"]
    if not isinstance(name, str) or name not in classes:
        raise ModelFileError(f"the estimator class {name!r} is not one of sknoise's ({', '.join(classes)})")
    cls = classes[name]
    params = _parameters(cls, doc["params"], reader, "the parameters")
    fitted = doc["fitted"]
    if fitted is not None:
        _keys(fitted, {"fit_params", "attributes", "preprocessor", "net"}, "the fitted state")
        fit_params = _parameters(cls, fitted["fit_params"], reader, "the parameters the network was built with")
        target = _target_device(fitted["net"], device)
        for values in (params, fit_params):
            # The device parameter names where the network now lives ('auto' stays 'auto').
            if not _is_auto(values["device"]) and not _same_device(torch.device(values["device"]),
                                                                    torch.device(target)):
                values["device"] = target
    elif device is not None:
        params["device"] = str(torch.device(device))
    estimator = cls(**params)
    _check_parameters(estimator, "the parameters")
    _set_metadata_requests(estimator, doc["metadata_request"])
    if fitted is not None:
        _load_fitted(estimator, fitted, fit_params, reader, target)
    return estimator


def _parameters(cls, doc, reader: _Reader, where: str) -> dict:
    _keys(doc, set(cls._parameter_names()), where)
    params = {name: reader.value(value, f"{where}: {name}") for name, value in doc.items()}
    if params["callbacks"]:
        raise ModelFileError(f"{where}: callbacks must be empty in a model file")
    return params


def _check_parameters(estimator, where: str) -> None:
    try:
        estimator._validate_params()
        estimator._check_params()
    except (ValueError, TypeError) as error:
        raise ModelFileError(f"{where}: {error}") from None


def _set_metadata_requests(estimator, doc) -> None:
    if not isinstance(doc, dict):
        raise ModelFileError("the metadata requests must be a JSON object")
    if not doc:
        return
    try:
        with sklearn.config_context(enable_metadata_routing=True):
            for method, requests in doc.items():
                if not isinstance(requests, dict) or not all(
                        v is None or isinstance(v, (bool, str)) for v in requests.values()):
                    raise ModelFileError(f"the metadata requests of {method!r} are not a JSON object of requests")
                setter = getattr(estimator, f"set_{method}_request", None) if isinstance(method, str) else None
                if setter is None:
                    raise ModelFileError(f"{type(estimator).__name__} has no metadata requests for {method!r}")
                setter(**requests)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"the metadata requests: {error}") from None


def _same_device(a: torch.device, b: torch.device) -> bool:
    """Whether two devices are the same (``'cuda'`` names the current GPU, whatever its index)."""
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def _is_auto(device) -> bool:
    return isinstance(device, str) and device == "auto"


def _check_device_argument(device) -> None:
    if device is None:
        return
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:N'.") from error
    if not _device_available(target):
        raise ValueError(f"device={device!r} is not available on this machine; use 'cpu'.")


def _device_available(device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return False


def _target_device(net_doc, device) -> str:
    """The device the loaded network goes to (see ``load``'s ``device``)."""
    if device is not None:
        return str(torch.device(device))
    saved = net_doc.get("device") if isinstance(net_doc, dict) else None
    try:
        saved_device = torch.device(saved)
    except (RuntimeError, TypeError):
        raise ModelFileError(f"the network's device {saved!r} is not a torch device") from None
    if _device_available(saved_device):
        return str(saved_device)
    warnings.warn(
        f"The model was saved on {saved!r}, which this machine does not have: it is loaded on the CPU. "
        "Pass device= to choose.",
        UserWarning,
        stacklevel=4,
    )
    return "cpu"


def _load_fitted(est, fitted: dict, fit_params: dict, reader: _Reader, device: str) -> None:
    builder = type(est)(**fit_params)
    _check_parameters(builder, "the parameters the network was built with")
    est._fit_params_ = fit_params
    _load_attributes(est, fitted["attributes"], reader)
    est.preprocessor_ = _load_preprocessor(fitted["preprocessor"], fit_params, reader)
    if est.preprocessor_ is not None:
        columns = getattr(est.preprocessor_, "columns_", None)
        if columns is not None and len(columns) != est.n_features_in_:
            raise ModelFileError(f"the preprocessing takes {len(columns)} columns, the model "
                                 f"{est.n_features_in_} features")
    net_doc = fitted["net"]
    _keys(net_doc, {"device", "noise_rng", "train_noise", "schedule_factors", "lr", "batch_size", "max_epochs",
                    "precision", "verbose", "last_good_epoch", "criterion_training", "optimizer", "history",
                    "history_batches"}, "the network's state")
    last_good = net_doc["last_good_epoch"]
    _keys(last_good, {"settings", "on_divergence", "input_magnitude", "diverged"}, "the divergence check")
    _require(_is_float(last_good["input_magnitude"], 0.0, finite=False), "the input magnitude must be a number >= 0")
    # The network as fit built it: its parameters then, its seeds, its fitted attributes.
    current = est.get_params(deep=False)
    est.set_params(**{**fit_params, "device": device})
    try:
        est._build_net(est.n_features_in_, float(last_good["input_magnitude"]), 1)
    except (ValueError, TypeError, RuntimeError) as error:
        raise ModelFileError(f"the network cannot be rebuilt: {error}") from None
    finally:
        est.set_params(**current)
    _load_net(est, net_doc, reader)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ModelFileError(message)


def _load_attributes(est, doc, reader: _Reader) -> None:
    table = _fitted_attributes(type(est))
    required = {name for name, (_, needed) in table.items() if needed}
    _keys(doc, required, "the fitted attributes", optional=set(table) - required)
    for name, (check, _) in table.items():  # in the table's order: later checks read earlier attributes
        if name not in doc:
            continue
        value = reader.value(doc[name], f"the fitted attribute {name}")
        _require(check(value, est), f"the fitted attribute {name} = {value!r} is not valid for {type(est).__name__}")
        setattr(est, name, value)


def _load_preprocessor(doc, fit_params: dict, reader: _Reader):
    if fit_params["preprocessing"] is None:
        _require(doc is None, "a model fitted with preprocessing=None holds no preprocessing state")
        return None
    _require(doc is not None, "the preprocessing's state is missing")
    _keys(doc, {"meta", "arrays"}, "the preprocessing's state")
    _require(isinstance(doc["arrays"], dict), "the preprocessing's arrays must be a JSON object")
    arrays = {name: reader.array(ref, f"the preprocessing's array {name!r}") if isinstance(ref, dict) else
              _fail(f"the preprocessing's array {name!r} is not an array") for name, ref in doc["arrays"].items()}
    try:
        return TablePreprocessor._from_state(doc["meta"], arrays)
    except (ValueError, TypeError, KeyError) as error:
        raise ModelFileError(f"the preprocessing's state: {error}") from None


def _fail(message: str):
    raise ModelFileError(message)


def _load_state_dict(module: torch.nn.Module, prefix: str, reader: _Reader, what: str) -> None:
    """Load the tensors ``prefix<key>`` into ``module``: exactly its keys, shapes and dtypes."""
    expected = module.state_dict()
    state = {}
    for key, fresh in expected.items():
        tensor = reader.tensor(f"{prefix}{key}")
        if tensor.shape != fresh.shape or tensor.dtype != fresh.dtype:
            raise ModelFileError(
                f"{what} {key!r} is {tensor.dtype} of shape {list(tensor.shape)}; the rebuilt network expects "
                f"{fresh.dtype} of shape {list(fresh.shape)}"
            )
        state[key] = tensor
    module.load_state_dict(state, strict=True)


def _load_net(est, doc: dict, reader: _Reader) -> None:
    net = est.net_
    module = net.module_
    _load_state_dict(module, "module/", reader, "the network's tensor")
    _load_state_dict(net.criterion_, "criterion/", reader, "the loss's tensor")
    # Any tensor of these sections that the rebuilt network does not have is left unread: refused at the end.
    _load_optimizer(net, doc["optimizer"], reader)
    shuffle = reader.tensor("net/shuffle_generator")
    try:
        net.shuffle_generator_.set_state(shuffle)
    except (RuntimeError, TypeError) as error:
        raise ModelFileError(f"the shuffling generator's state is not valid ({error})") from None

    rng_doc = doc["noise_rng"]
    _keys(rng_doc, {"seeds", "calls"}, "the noise streams")
    _keys(rng_doc["seeds"], {"train", "inference"}, "the noise streams' seeds")
    _require(_is_int(rng_doc["calls"]), "the noise streams' call counter must be an integer >= 0")
    seeds = rng_doc["seeds"]
    _require(all(_is_int(seed) and seed < 2**63 for seed in seeds.values()),
             "the noise streams' seeds must be integers in [0, 2**63)")
    # The seeds as saved: NoiseRNG.reseed may have changed them since fit.
    module.noise_rng.__setstate__({"seeds": {"train": seeds["train"], "inference": seeds["inference"]},
                                   "calls": rng_doc["calls"]})

    train_noise = doc["train_noise"]
    if train_noise is not None:
        _keys(train_noise, {"noise", "scale"}, "the training noise")
        _require(train_noise["noise"] in available_noises() and _is_float(train_noise["scale"], 0.0),
                 f"the training noise {train_noise!r} is not a built-in noise with a scale >= 0")
        module.set_train_noise(NoiseSpec.make(train_noise["noise"], train_noise["scale"]))
    sources = module.noise_sources()
    factors = doc["schedule_factors"]
    _require(isinstance(factors, list) and len(factors) == len(sources) and all(_is_float(f, 0.0) for f in factors),
             f"the schedule factors must be {len(sources)} numbers >= 0, one per noise source")
    for source, factor in zip(sources, factors):
        source.schedule_factor = float(factor)

    _require(_is_float(doc["lr"], 0.0), "the network's lr must be a number >= 0")
    _require(_is_int(doc["batch_size"], 1) and _is_int(doc["max_epochs"], 1),
             "the network's batch size and epoch budget must be positive integers")
    _require(doc["precision"] in PRECISIONS, f"the precision {doc['precision']!r} is not one of {PRECISIONS}")
    _require(_is_int(doc["verbose"]), "verbose must be an integer >= 0")
    net.lr, net.batch_size, net.max_epochs, net.precision = doc["lr"], doc["batch_size"], doc["max_epochs"], \
        doc["precision"]
    if bool(net.verbose) != bool(doc["verbose"]):
        set_verbose(net, doc["verbose"], est._keys_not_printed())
    net.verbose = doc["verbose"]
    last_good = doc["last_good_epoch"]
    _require(isinstance(last_good["settings"], str) and last_good["on_divergence"] in ("raise", "warn")
             and isinstance(last_good["diverged"], bool), "the divergence check's settings are not valid")
    callback = dict(net.callbacks_)["last_good_epoch"]
    callback.settings, callback.on_divergence = last_good["settings"], last_good["on_divergence"]
    callback.diverged_ = last_good["diverged"]

    _require(doc["history_batches"] in ("all", "epochs"), "history_batches must be 'all' or 'epochs'")
    net.history_ = History(_history(doc["history"]))
    _require(isinstance(doc["criterion_training"], bool), "criterion_training must be a boolean")
    module.eval()
    net.criterion_.train(doc["criterion_training"])


def _history(rows) -> list:
    _require(isinstance(rows, list) and all(isinstance(row, dict) for row in rows),
             "the history must be a list of JSON objects, one per epoch")
    for row in rows:
        for key in ("train_loss", "valid_loss", "dur"):
            if key in row:
                _require(_is_float(row[key], finite=False), f"the history's {key} must be numbers")
        batches = row.get("batches", [])
        _require(isinstance(batches, list) and all(isinstance(b, dict) for b in batches),
                 "the history's batches must be lists of JSON objects")
    return rows


def _load_optimizer(net, doc, reader: _Reader) -> None:
    _keys(doc, {"groups", "state"}, "the optimizer's state")
    optimizer = net.optimizer_
    fresh = optimizer.state_dict()
    groups = doc["groups"]
    _require(isinstance(groups, list) and len(groups) == len(fresh["param_groups"]),
             f"the optimizer must have {len(fresh['param_groups'])} parameter group(s)")
    for saved, group in zip(groups, fresh["param_groups"]):
        _keys(saved, {k for k in _OPTIMIZER_GROUP_KEYS if k in group}, "an optimizer group")
        for key, value in saved.items():
            if key == "betas":
                _require(isinstance(value, list) and len(value) == 2 and all(_is_float(b, 0.0) and b < 1
                                                                             for b in value),
                         "the optimizer's betas must be two numbers in [0, 1)")
                value = tuple(value)
            else:
                _require(_is_float(value, 0.0), f"the optimizer's {key} must be a number >= 0")
            group[key] = value
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state = {}
    if doc["state"] is not None:
        _require(isinstance(doc["state"], dict), "the optimizer's state must be a JSON object")
        for index, entries in doc["state"].items():
            _require(index.isdigit() and int(index) < len(params),
                     f"the optimizer's state names a parameter {index!r} the network does not have")
            _require(isinstance(entries, dict) and set(entries) <= _OPTIMIZER_STATE_KEYS,
                     f"the optimizer's state of parameter {index} holds unknown entries")
            param = params[int(index)]
            state[int(index)] = {}
            for key, value in entries.items():
                if isinstance(value, dict):
                    _keys(value, {"__tensor__"}, f"the optimizer's {key}")
                    tensor = reader.tensor(value["__tensor__"])
                    _require(value["__tensor__"] == f"optimizer/{index}/{key}",
                             f"the optimizer's {key} of parameter {index} names another tensor")
                    shape = () if key == "step" else tuple(param.shape)
                    _require(tuple(tensor.shape) == shape and tensor.is_floating_point(),
                             f"the optimizer's {key} of parameter {index} is of shape {list(tensor.shape)}; the "
                             f"parameter needs {list(shape)}")
                    _require(key == "step" or tensor.dtype == param.dtype,
                             f"the optimizer's {key} of parameter {index} is {tensor.dtype}, not {param.dtype}")
                    value = tensor.clone()
                else:
                    _require(value is None or _is_float(value, 0.0), f"the optimizer's {key} is not valid")
                state[int(index)][key] = value
    fresh["state"] = state
    try:
        optimizer.load_state_dict(fresh)
    except (ValueError, RuntimeError, KeyError) as error:
        raise ModelFileError(f"the optimizer's state does not fit the network ({error})") from None

"""The parameter table is every parameter's one home: signatures, constraints, documentation,
partial_fit's lifecycle checks and the search spaces all agree with it."""

import inspect
import io
import pickle
import re
from contextlib import redirect_stdout

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris

from sknoise import NINRClassifier, NoisyMLPClassifier, NoisyMLPRegressor
from sknoise._runtime._net import BestEpoch, LastGoodEpoch
from sknoise._runtime._params import LIFECYCLES, PARAMETERS, default_of, names_with
from sknoise._runtime._preprocessing import TablePreprocessor
from sknoise.nn import (
    BatchedAutoencoderEnergy,
    EmbeddedInput,
    NINRNet,
    NoiseRNG,
    NoiseSpec,
    NoisyMLP,
    PeriodicEmbedding,
)

from ._common import ESTIMATORS, each

# A valid value different from every estimator's default, for each parameter: a new
# parameter needs one here (and so a thought about its lifecycle).
OTHER_VALUE = {
    "hidden_layer_sizes": (5,), "preprocessing": None, "numeric_scaling": "standard", "max_onehot": 3,
    "numeric_embedding": "periodic", "activation": "tanh", "nin_placement": "all", "noise": "uniform",
    "noise_scale": 0.05, "niw_init_scale": 0.5, "noise_placement": "input", "dropout": 0.1, "batch_norm": "after",
    "max_norm": 3.0, "inference_dropout": True, "inference_noise": "same", "inference_noise_scale": 0.1,
    "n_inference_samples": 3, "energy_aggregate": "logmeanexp", "objective": "generative",
    "discriminative_weight": 0.5, "inference_memory_mb": 64.0, "noise_schedule": "linear",
    "noise_schedule_end": 0.5, "noise_schedule_epochs": 7, "activation_mixing": 1.1,
    "activation_noise_constant": 0.3, "optimizer": "sgd", "lr": 0.005, "weight_decay": 0.001, "momentum": 0.5,
    "beta2": 0.99, "lr_schedule": "cosine", "batch_size": 32, "batching": "per_class", "max_epochs": 3,
    "early_stopping": False, "validation_fraction": 0.2, "n_iter_no_change": 4, "tol": 0.01,
    "label_smoothing": 0.1, "loss": "huber", "huber_delta": 2.0, "calibration": "temperature",
    "class_weight": {0: 2.0}, "decision": "balanced", "device": "auto", "n_members": 2, "random_state": 7, "verbose": 1,
    "callbacks": [], "on_divergence": "warn", "n_threads": 1, "precision": "bfloat16",
}


def _other(cls, name):
    value = OTHER_VALUE[name]
    if value == default_of(cls, name):
        return {"calibration": None, "numeric_embedding": None, "decision": "argmax"}[name]
    return value


@each(ESTIMATORS)
def test_the_signature_is_the_table(cls):
    signature = inspect.signature(cls.__init__).parameters
    names = [n for n in signature if n != "self"]
    assert names == cls._parameter_names()  # same parameters, in the table's order
    for name in names:
        assert signature[name].default == default_of(cls, name), (cls.__name__, name)
    assert set(cls._parameter_constraints) == set(names)
    assert all(cls._parameter_constraints[n] is PARAMETERS[n].constraint for n in names)


def _documented_defaults(doc: str) -> dict[str, str]:
    section = doc.split("Parameters\n    ----------\n", 1)[1].split("\n    Attributes\n", 1)[0]
    return dict(re.findall(r"^    (\w+) : .*, default=(.*)$", section, flags=re.M))


@each(ESTIMATORS)
def test_the_docstring_documents_each_parameter_with_its_signature_default(cls):
    documented = _documented_defaults(cls.__doc__)
    signature = inspect.signature(cls.__init__).parameters
    assert list(documented) == [n for n in signature if n != "self"]
    for name, text in documented.items():
        assert text == repr(signature[name].default), (cls.__name__, name)


def test_every_parameter_has_a_lifecycle_a_constraint_and_a_test_value():
    for param in PARAMETERS.values():
        assert param.lifecycle in LIFECYCLES
        assert param.constraint and param.doc
    assert set(OTHER_VALUE) == set(PARAMETERS)
    used = {name for cls in ESTIMATORS for name in cls._parameter_names()}
    assert used == set(PARAMETERS), "a parameter of the table that no estimator has"


def _small(cls):
    return cls(hidden_layer_sizes=(6,), max_epochs=2, early_stopping=False, random_state=0)


@each(ESTIMATORS)
def test_partial_fit_refuses_exactly_the_parameters_that_fix_the_network(cls, iris):
    X, y = iris
    names = cls._parameter_names()
    base = _small(cls).partial_fit(X, y, **({"classes": np.unique(y)} if hasattr(cls, "predict_proba") else {}))
    for name in names:
        model = pickle.loads(pickle.dumps(base)).set_params(**{name: _other(cls, name)})
        if name in names_with(names, "network"):
            with pytest.raises(ValueError, match=name):
                model.partial_fit(X, y)
        else:
            model.partial_fit(X, y)  # applied (training) or not read by partial_fit (fit, prediction)
            model.predict(X[:3])


def test_partial_fit_applies_a_new_verbosity():
    X, y = load_iris(return_X_y=True)
    model = _small(NoisyMLPClassifier).partial_fit(X, y, classes=[0, 1, 2])
    out = io.StringIO()
    with redirect_stdout(out):
        model.set_params(verbose=1).partial_fit(X, y)
    assert "train_loss" in out.getvalue()
    out = io.StringIO()
    with redirect_stdout(out):
        model.set_params(verbose=0).partial_fit(X, y)
    assert out.getvalue() == ""


def test_search_spaces_come_from_the_table_in_a_stable_order():
    assert list(NoisyMLPClassifier.search_space()) == [
        "noise", "noise_scale", "lr", "weight_decay", "noise_placement", "dropout"]
    assert list(NINRClassifier.search_space()) == [
        "noise", "noise_scale", "lr", "weight_decay", "nin_placement", "niw_init_scale"]
    assert NINRClassifier.search_space()["noise_scale"].high == 10.0  # the NINR's own range
    assert NoisyMLPRegressor.search_space("grid", prefix="r__")["r__noise_placement"] == ["input", "post_activation"]


def test_the_registry_holds_every_estimator_once():
    import sknoise

    public = {getattr(sknoise, name) for name in sknoise.__all__ if isinstance(getattr(sknoise, name), type)}
    assert set(ESTIMATORS) == {cls for cls in public if hasattr(cls, "_architecture")}
    assert len(ESTIMATORS) == len(set(ESTIMATORS)) == 5


def test_the_version_has_one_source():
    from importlib.metadata import version

    import sknoise

    assert sknoise.__version__ == version("sknoise")


# ----------------------------------------------------------------------------- explicit channels
def test_the_embedding_reads_the_published_layout_not_an_order():
    """Numbers first or not: the periodic embedding takes the columns the layout names."""
    torch.manual_seed(0)
    rng = NoiseRNG(0, 1)
    net = NoisyMLP(2 + 16 * 2 + 4, 3, hidden_layer_sizes=(4,), activation="relu",
                   noise=NoiseSpec.make("none", 0.0), rng=rng)
    numeric, embedding = PeriodicEmbedding(2), torch.nn.Embedding(5, 4)
    wrapped = EmbeddedInput(net, numeric=(1, 3), dense=(0, 2), codes=(4,), cardinalities=(5,), widths=(4,),
                            numeric_embedding=numeric)
    wrapped.embeddings[0] = embedding
    x = torch.tensor([[0.5, 1.0, -0.5, 2.0, 3.0]])
    expected = net(torch.cat([numeric(x[:, [1, 3]]), x[:, [0, 2]], embedding(torch.tensor([3]))], dim=1))
    torch.testing.assert_close(wrapped(x), expected)


def test_the_preprocessor_publishes_its_output_layout():
    import pandas as pd

    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "c": list("xyxz"), "b": [0.5, 0.1, 0.2, 0.3],
                          "d": [f"k{i}" for i in range(4)]})
    pre = TablePreprocessor(max_onehot=3)
    out = pre.fit_transform(frame)
    layout = pre.layout_
    assert layout.numeric == (0, 1) and layout.codes == (out.shape[1] - 1,)
    assert layout.cardinalities == (5,) and len(layout.other) == out.shape[1] - 3
    assert set(out[:, layout.codes[0]]) == {1.0, 2.0, 3.0, 4.0}


def test_network_constructors_take_keywords():
    rng = NoiseRNG(0, 1)
    spec = NoiseSpec.make("gaussian", 0.1)
    with pytest.raises(TypeError):
        NoisyMLP(3, 2, (4,), "relu", spec, ("input",), 0.0, None, rng)
    with pytest.raises(TypeError):
        NINRNet(3, 2, (4,), "relu", spec, "input", 1.0, rng)
    with pytest.raises(TypeError):
        BatchedAutoencoderEnergy(3, 2, (4,), "relu", spec, rng)


def test_noise_sources_have_one_role_and_the_schedule_is_theirs():
    model = NoisyMLPClassifier((4,), dropout=0.2, activation="nan_tanh", max_epochs=2, early_stopping=False,
                               noise_schedule="linear", random_state=0).fit(*load_iris(return_X_y=True))
    roles = sorted(source.role for source in model.net_.module_.noise_sources())
    assert roles == ["activation", "dropout", "noise"]
    factors = {source.role: source.schedule_factor for source in model.net_.module_.noise_sources()}
    assert factors == {"activation": 0.0, "dropout": 1.0, "noise": 0.0}  # the schedule's end; dropout untouched
    assert not hasattr(model.net_.module_.noise_rng, "train_scale_factor")


def test_callbacks_drop_their_transient_state_and_never_pickle_it():
    X, y = load_iris(return_X_y=True)
    model = NoisyMLPClassifier((4,), max_epochs=3, random_state=0).fit(X, y)
    callbacks = dict(model.net_.callbacks_)
    for callback in (callbacks["last_good_epoch"], callbacks["best_epoch"]):
        assert isinstance(callback, (LastGoodEpoch, BestEpoch))
        assert not set(callback.transient) & set(vars(callback))
    good = callbacks["last_good_epoch"]
    good.state_ = {"weights": torch.zeros(3)}
    assert "state_" not in vars(pickle.loads(pickle.dumps(good)))

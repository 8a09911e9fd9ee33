"""Threads: an explicit ``n_threads`` acts while training and predicting and is restored after."""

import pytest
import torch
from skorch.callbacks import Callback

from sknoise import NoisyMLPClassifier, NoisyMLPRegressor


class RecordThreads(Callback):
    def initialize(self):
        self.seen = []
        return self

    def on_batch_begin(self, net, **kwargs):
        self.seen.append(torch.get_num_threads())


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("n_threads, expected", [(1, 1), (None, 2)])
def test_n_threads_acts_during_training_and_is_restored(two_threads, iris, n_threads, expected):
    X, y = iris
    record = RecordThreads()
    clf = NoisyMLPClassifier((8,), max_epochs=3, n_threads=n_threads, callbacks=[record], random_state=0).fit(X, y)
    assert set(record.seen) == {expected}
    assert torch.get_num_threads() == 2
    clf.partial_fit(X, y)
    assert set(record.seen) == {expected} and torch.get_num_threads() == 2


class Interrupt(Callback):
    def on_batch_begin(self, net, **kwargs):
        raise OSError("interrupted")


def test_n_threads_is_restored_when_training_fails(two_threads, iris):
    X, y = iris
    with pytest.raises(OSError, match="interrupted"):
        NoisyMLPRegressor((8,), max_epochs=2, n_threads=1, callbacks=[Interrupt()], random_state=0).fit(X, y)
    assert torch.get_num_threads() == 2


def test_prediction_uses_n_threads_and_restores_them(two_threads, iris, monkeypatch):
    import sknoise.nn._inference as inference

    X, y = iris
    clf = NoisyMLPClassifier((8,), max_epochs=2, n_threads=1, random_state=0).fit(X, y)
    seen = []
    original = inference.predict_passes

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr("sknoise._runtime._estimator.predict_passes", spy)
    clf.predict_proba(X)
    assert seen == [1] and torch.get_num_threads() == 2


def test_bad_n_threads_is_named(iris):
    X, y = iris
    with pytest.raises(ValueError, match="n_threads"):
        NoisyMLPClassifier(n_threads=0).fit(X, y)


def _denormals_flushed() -> bool:
    return bool((torch.tensor([1e-39]) * 2.0 == 0).item())


def test_denormals_are_flushed_while_training_and_predicting_and_not_after(iris):
    """Decayed weights in the denormal range slow CPU products several times over."""
    X, y = iris

    class RecordFlush(Callback):
        def initialize(self):
            self.seen = []
            return self

        def on_batch_begin(self, net, **kwargs):
            self.seen.append(_denormals_flushed())

    record = RecordFlush()
    assert not _denormals_flushed()
    NoisyMLPClassifier((8,), max_epochs=2, callbacks=[record], random_state=0).fit(X, y)
    assert record.seen and all(record.seen)
    assert not _denormals_flushed()

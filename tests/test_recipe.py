"""The training recipe's knobs: learning-rate schedules, Adam's beta2, label smoothing."""

import pytest
import torch
from skorch.callbacks import Callback

from sknoise import NINRClassifier, NoisyMLPClassifier, NoisyMLPRegressor
from sknoise._runtime._schedules import lr_schedule_factor


class RecordLR(Callback):
    def on_train_begin(self, net, **kwargs):
        self.lrs = []

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.lrs.append(net.optimizer_.param_groups[0]["lr"])


def test_schedule_factors():
    assert [lr_schedule_factor("cosine", p) for p in (0, 0.5, 1)] == pytest.approx([1, 0.5, 0])
    assert [lr_schedule_factor("flat_cosine", p) for p in (0, 0.4, 0.75, 1)] == pytest.approx([1, 1, 0.5, 0])
    assert lr_schedule_factor("constant", 0.9) == 1


@pytest.mark.parametrize("schedule", ["cosine", "flat_cosine"])
def test_fit_follows_the_schedule_over_max_epochs_and_partial_fit_keeps_lr(iris, schedule):
    X, y = iris
    record = RecordLR()
    clf = NoisyMLPClassifier((8,), lr=0.01, lr_schedule=schedule, max_epochs=10, batch_size=50,
                             early_stopping=False, callbacks=[record], random_state=0).fit(X, y)
    lrs = record.lrs
    assert len(lrs) == 30 and lrs[0] == pytest.approx(0.01) and lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    clf.partial_fit(X, y)
    assert record.lrs == [0.01] * 3


def test_beta2_and_label_smoothing_reach_the_optimizer_and_the_loss(iris):
    X, y = iris
    clf = NINRClassifier((8,), beta2=0.95, label_smoothing=0.2, max_epochs=2, random_state=0).fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["betas"] == (0.9, 0.95)
    assert clf.net_.criterion_.label_smoothing == 0.2
    clf.set_params(beta2=0.9).partial_fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["betas"] == (0.9, 0.9)
    with pytest.raises(ValueError, match="label_smoothing"):
        NoisyMLPClassifier(label_smoothing=1.5).fit(X, y)
    with pytest.raises(ValueError, match="lr_schedule"):
        NoisyMLPRegressor(lr_schedule="step").fit(X, y)
    assert isinstance(clf.net_.criterion_, torch.nn.CrossEntropyLoss)

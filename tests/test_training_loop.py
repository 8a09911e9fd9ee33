"""The training loop reads the batch losses back from the device once per epoch, and the
optional bfloat16 autocast."""

import gc
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sknoise import NoisyMLPClassifier

FAST = dict(hidden_layer_sizes=(16,), max_epochs=3, lr=0.02, early_stopping=False, random_state=0)


class SeenDuringTheEpoch(Callback):
    """What an ``on_batch_end`` callback sees of the batch's loss."""

    def initialize(self):
        self.in_history, self.passed = [], []
        return self

    def on_batch_end(self, net, batch=None, training=None, loss=None, **kwargs):
        self.in_history.append("train_loss" in net.history[-1, "batches", -1])
        self.passed.append(loss)


def test_batch_losses_are_read_back_once_per_epoch(iris):
    X, y = iris
    seen = SeenDuringTheEpoch()
    clf = NoisyMLPClassifier(batch_size=32, callbacks=[seen], **FAST).fit(X, y)
    # Not turned into host floats batch by batch (a device sync each on a GPU) ...
    assert not any(seen.in_history)
    assert all(torch.is_tensor(loss) and loss.dim() == 0 for loss in seen.passed)
    # ... but all there once the epoch ends, as skorch records them.
    for epoch in clf.history_:
        losses = [batch["train_loss"] for batch in epoch["batches"]]
        sizes = [batch["train_batch_size"] for batch in epoch["batches"]]
        assert len(losses) == epoch["train_batch_count"] == int(np.ceil(len(X) / 32))
        assert all(isinstance(loss, float) for loss in losses)
        assert epoch["train_loss"] == pytest.approx(np.average(losses, weights=sizes))
    last = clf.history_[-1]["batches"]
    assert [b["train_loss"] for b in last] == pytest.approx([float(t.detach()) for t in seen.passed[-len(last):]])


def test_validation_losses_are_recorded_too(iris):
    X, y = iris
    clf = NoisyMLPClassifier(batch_size=32, **{**FAST, "early_stopping": True}).fit(X, y)
    batches = clf.history_[-1]["batches"]
    valid = [b["valid_loss"] for b in batches if "valid_loss" in b]
    assert valid and all(np.isfinite(valid))
    assert clf.history_[-1]["valid_loss"] == pytest.approx(
        np.average(valid, weights=[b["valid_batch_size"] for b in batches if "valid_loss" in b])
    )


class PoisonOneStep(Callback):
    """Make the weights NaN in the middle of epoch 2: its later losses are NaN."""

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training and len(net.history) == 2 and len(net.history[-1]["batches"]) == 2:
            with torch.no_grad():
                next(net.module_.parameters()).fill_(float("nan"))


def test_a_non_finite_loss_mid_epoch_is_caught_at_the_epochs_end(iris):
    X, y = iris
    clf = NoisyMLPClassifier(batch_size=32, callbacks=[PoisonOneStep()], on_divergence="warn", **FAST)
    with pytest.warns(RuntimeWarning, match="diverged at epoch 2: the train loss became nan"):
        clf.fit(X, y)
    assert clf.n_iter_ == 1
    assert all(torch.isfinite(p).all() for p in clf.net_.module_.parameters())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_host_syncs_on_cuda_do_not_grow_with_the_number_of_batches(iris):
    X, y = iris
    X = np.repeat(X, 8, axis=0)
    y = np.repeat(y, 8)

    def syncs(batch_size: int) -> int:
        clf = NoisyMLPClassifier(batch_size=batch_size, device="cuda", preprocessing=None, **FAST)
        torch.cuda.set_sync_debug_mode("warn")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                clf.fit(X, y)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)

    # 4x the batches, the same synchronizations (a few per epoch and per fit).
    assert syncs(32) == syncs(128)


# ----------------------------------------------------------------------------- bfloat16 autocast
def _linear_output_dtypes(clf) -> list:
    """Record the dtype of every linear layer's output from now on."""
    from sknoise.nn import BatchedLinear

    seen = []
    for layer in clf.net_.module_.modules():
        if isinstance(layer, (torch.nn.Linear, BatchedLinear)):
            layer.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize("name", ["NoisyMLPClassifier", "NoisyMLPRegressor", "NINRClassifier", "NINRRegressor",
                                  "NoisyEBMClassifier"])
def test_bfloat16_autocast_trains_and_predicts_with_float32_weights(name, iris):
    import sknoise

    X, y = iris
    cls = getattr(sknoise, name)
    target = y if name.endswith("Classifier") else X[:, 0]
    params = dict(hidden_layer_sizes=(16,), max_epochs=20, lr=0.02, early_stopping=False, random_state=0)
    if name == "NINRRegressor":
        params["noise_scale"] = 0.1
    clf = cls(precision="bfloat16", **params).fit(X, target)
    assert all(p.dtype == torch.float32 for p in clf.net_.module_.parameters())
    seen = _linear_output_dtypes(clf)
    prediction = clf.predict(X)
    assert seen and set(seen) == {torch.bfloat16}
    reference = cls(**params).fit(X, target)
    if name.endswith("Classifier"):
        proba = clf.predict_proba(X)
        assert proba.dtype == np.float64
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
        assert clf.score(X, target) >= reference.score(X, target) - 0.05
    else:
        assert prediction.dtype == np.float64
        assert clf.score(X, target) >= reference.score(X, target) - 0.05


def test_bfloat16_acts_in_training_and_partial_fit_applies_it(iris):
    X, y = iris

    class Dtypes(Callback):
        def initialize(self):
            self.seen = []
            return self

        def on_batch_end(self, net, batch=None, training=None, y_pred=None, **kwargs):
            self.seen.append(y_pred.dtype)

    dtypes = Dtypes()
    clf = NoisyMLPClassifier(precision="bfloat16", callbacks=[dtypes], **FAST).fit(X, y)
    assert set(dtypes.seen) == {torch.float32}  # the loss sees float32 outputs ...
    seen = _linear_output_dtypes(clf)
    clf.partial_fit(X, y)
    assert set(seen) == {torch.bfloat16}  # ... of bfloat16 products
    seen.clear()
    clf.set_params(precision="float32").partial_fit(X, y)
    assert set(seen) == {torch.float32}


def test_an_unknown_precision_is_an_error_naming_it(iris):
    X, y = iris
    with pytest.raises(ValueError, match="'precision' parameter"):
        NoisyMLPClassifier(precision="float16", **FAST).fit(X, y)


class CountModeChanges(Callback):
    """Count the calls of the module's ``train(mode)`` and check the mode each batch runs in."""

    def initialize(self):
        self.calls, self.wrong_mode = 0, 0
        return self

    def on_train_begin(self, net, **kwargs):
        original = net.module_.train

        def counted(mode=True):
            self.calls += 1
            return original(mode)

        net.module_.train = counted

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        self.wrong_mode += net.module_.training != training


def test_the_mode_is_set_when_it_changes_not_on_every_batch(iris):
    X, y = iris
    count = CountModeChanges()
    clf = NoisyMLPClassifier(batch_size=16, callbacks=[count], noise="dropout", noise_scale=0.2,
                             **{**FAST, "early_stopping": True, "max_epochs": 4}).fit(X, y)
    n_batches = sum(len(epoch["batches"]) for epoch in clf.history_)
    assert n_batches > 30 and count.wrong_mode == 0
    # Train -> eval -> train each epoch, plus the divergence check's eval and back at its end.
    assert count.calls <= 4 * clf.n_iter_ + 2


class CountLiveScalarTensors(Callback):
    """Count the 0-d tensors alive at the end of every training batch."""

    def initialize(self):
        self.counts = []
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.counts.append(sum(torch.is_tensor(o) and o.dim() == 0 for o in gc.get_objects()))


def test_the_epoch_keeps_its_batch_losses_in_one_buffer_not_a_tensor_per_batch(iris):
    # One small tensor per batch, kept to the epoch's end, fragmented the heap: a
    # 10^6-row fit grew by 40 KiB a batch (+200 MiB over two epochs).
    X, y = iris
    count = CountLiveScalarTensors()
    NoisyMLPClassifier(batch_size=2, callbacks=[count], **{**FAST, "max_epochs": 1}).fit(X, y)
    assert len(count.counts) == 75
    assert count.counts[-1] - count.counts[0] <= 2


def test_the_divergence_check_computes_the_outputs_of_a_few_rows_of_the_last_batch(iris):
    # It ran the whole last batch: with 1797 rows through 10 class models it cost more
    # than the EBM's training steps.
    from sknoise._runtime._net import OUTPUT_CHECK_ROWS

    X, y = iris
    clf = NoisyMLPClassifier(batch_size=150, **{**FAST, "max_epochs": 1})
    seen = []
    clf.fit(X, y)
    clf.net_.module_.register_forward_hook(lambda module, args, out: seen.append((module.training, len(args[0]))))
    clf.partial_fit(X, y)
    assert (True, 150) in seen and (False, OUTPUT_CHECK_ROWS) in seen
    assert all(rows <= OUTPUT_CHECK_ROWS for training, rows in seen if not training)

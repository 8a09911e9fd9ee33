"""A fast data path for tabular data: mini-batches by slicing whole tensors.

skorch's default path indexes a ``Dataset`` row by row and collates the rows in a
``DataLoader``; for a table that already sits in memory as one tensor this costs more
than the network itself. :class:`TensorBatches` takes the tensors out of skorch's
dataset (or of a ``Subset`` of one) and yields slices.

With sample weights, the features travel as ``{"X": features, "sample_weight": w}``
(skorch's documented way to pass more than one input): the net's ``infer`` hands the
features to the module and its ``get_loss`` weighs the rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import Subset

__all__ = ["Rows", "TensorBatches", "batch_bounds", "features_of", "largest_magnitude", "weights_of"]


@dataclass(frozen=True)
class Rows:
    """Validated training rows: features, encoded targets and optional sample weights."""

    X: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index) -> Rows:
        index = torch.as_tensor(index, dtype=torch.long)
        return Rows(self.X[index], self.y[index], None if self.w is None else self.w[index])

    def to(self, device) -> Rows:
        return Rows(self.X.to(device), self.y.to(device), None if self.w is None else self.w.to(device))

    def net_input(self):
        """What the skorch net takes as X: the features, or the features and their weights."""
        return self.X if self.w is None else {"X": self.X, "sample_weight": self.w}


def features_of(X):
    """The features of a batch's X (which may carry sample weights)."""
    return X["X"] if isinstance(X, Mapping) else X


def weights_of(X) -> torch.Tensor | None:
    """The sample weights of a batch's X, or None."""
    return X.get("sample_weight") if isinstance(X, Mapping) else None


def _as_tensor(data):
    if data is None or isinstance(data, torch.Tensor):
        return data
    if isinstance(data, Mapping):
        return {k: _as_tensor(v) for k, v in data.items()}
    array = np.asarray(data)
    # Features are float32 as the networks are; integer targets stay integers.
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32 if array.dtype.kind == "f" else None))


def _take(data, index):
    if data is None:
        return None
    if isinstance(data, Mapping):
        return {k: _take(v, index) for k, v in data.items()}
    return data[index]


def _tensors_of(dataset):
    if isinstance(dataset, Subset):
        X, y = _tensors_of(dataset.dataset)
        index = torch.as_tensor(dataset.indices, dtype=torch.long, device=features_of(X).device)
        return _take(X, index), _take(y, index)
    if isinstance(dataset, Dataset):
        # Tensors on the training path; arrays when users call the net's own predict_proba.
        return _as_tensor(dataset.X), _as_tensor(dataset.y)
    raise TypeError(f"TensorBatches needs a skorch Dataset (or a Subset of one); got {type(dataset).__name__}.")


def batch_bounds(n_rows: int, batch_size: int) -> list[tuple[int, int]]:
    """Start and stop of each mini-batch.

    A trailing batch of a single row is merged into the one before it: batch norm
    cannot compute statistics from one row, and one row makes a very noisy step.
    """
    bounds = [(start, min(start + batch_size, n_rows)) for start in range(0, n_rows, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2] = (bounds[-2][0], n_rows)
        bounds.pop()
    return bounds


def largest_magnitude(X: torch.Tensor) -> float:
    """``max |x|`` over a table (0 for an empty one), without the copy ``X.abs()`` makes."""
    if X.numel() == 0:
        return 0.0
    low, high = torch.aminmax(X)
    return float(max(-low, high))


class TensorBatches:
    """Iterate over ``(X_batch, y_batch)`` slices of the tensors in a skorch dataset.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or torch.utils.data.Subset of one
        Holds ``X`` (a tensor, or a dict of tensors) and ``y``, on the training device.
    batch_size : int
        Rows per batch; with ``per_class``, rows of each class per batch.
    shuffle : bool, default=False
        Draw a fresh permutation at the start of every pass.
    generator : torch.Generator, optional
        CPU generator for the permutations (the net's seeded one).
    per_class : bool, default=False
        Every batch takes the next ``batch_size`` rows of each class (``y`` holds
        integer class codes) until the class runs out: a pass makes as many steps as
        the largest class needs, as separate one-class models would each make.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        per_class: bool = False,
    ) -> None:
        self.X, self.y = _tensors_of(dataset)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = generator
        self.per_class = per_class

    def __len__(self) -> int:
        if self.per_class:
            return max((len(batch_bounds(len(rows), self.batch_size)) for rows in self._class_rows()), default=0)
        return len(batch_bounds(len(features_of(self.X)), self.batch_size))

    def _class_rows(self) -> list[torch.Tensor]:
        """The row indices of each class present, in order (computed once)."""
        if not hasattr(self, "_rows_by_class"):
            labels = self.y.cpu()
            self._rows_by_class = [torch.nonzero(labels == k).flatten() for k in torch.unique(labels)]
        return self._rows_by_class

    def _orders(self) -> Iterator[torch.Tensor | slice]:
        """The rows of each batch: a slice of the table, or indices (on the data's device) to gather."""
        n_rows = len(features_of(self.X))
        if not self.per_class and not self.shuffle:
            for start, stop in batch_bounds(n_rows, self.batch_size):
                yield slice(start, stop)
            return
        if self.per_class:
            classes = self._class_rows()
            if self.shuffle:
                classes = [rows[torch.randperm(len(rows), generator=self.generator)] for rows in classes]
            chunks = [[rows[a:b] for a, b in batch_bounds(len(rows), self.batch_size)] for rows in classes]
            batches = [torch.cat([c[step] for c in chunks if step < len(c)]) for step in range(len(self))]
        else:
            order = torch.randperm(n_rows, generator=self.generator)
            batches = [order[a:b] for a, b in batch_bounds(n_rows, self.batch_size)]
        # One transfer per pass: a copy to a GPU per batch would wait for its queue each time.
        order = torch.cat(batches).to(features_of(self.X).device) if batches else torch.empty(0, dtype=torch.long)
        yield from torch.split(order, [len(b) for b in batches])

    def __iter__(self) -> Iterator:
        for rows in self._orders():
            # Each batch gathers its own rows: a permuted copy of the whole table would
            # double the training data's memory for the epoch.
            yield _take(self.X, rows), _take(self.y, rows)

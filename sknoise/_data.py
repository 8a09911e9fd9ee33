"""A fast data path for tabular data: mini-batches by slicing whole tensors.

skorch's default path indexes a ``Dataset`` row by row and collates the rows in a
``DataLoader``; for a table that already sits in memory as one tensor this costs more
than the network itself. :class:`TensorBatches` takes the tensors out of skorch's
dataset (or of the ``Subset`` its validation split makes) and yields slices.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import Subset

__all__ = ["TensorBatches", "batch_bounds"]


def _as_tensor(data) -> torch.Tensor | None:
    if data is None or isinstance(data, torch.Tensor):
        return data
    array = np.asarray(data)
    # Features are float32 as the networks are; integer targets stay integers.
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32 if array.dtype.kind == "f" else None))


def _tensors_of(dataset) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(dataset, Subset):
        X, y = _tensors_of(dataset.dataset)
        index = torch.as_tensor(dataset.indices, dtype=torch.long, device=X.device)
        return X[index], (None if y is None else y[index])
    if isinstance(dataset, Dataset):
        # Tensors on the training path; arrays when users call the net's own predict_proba.
        return _as_tensor(dataset.X), _as_tensor(dataset.y)
    raise TypeError(
        "TensorBatches needs a skorch Dataset (or a Subset of one); "
        f"got {type(dataset).__name__}."
    )


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


class TensorBatches:
    """Iterate over ``(X_batch, y_batch)`` slices of the tensors in a skorch dataset.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or torch.utils.data.Subset of one
        Must hold ``X`` (and ``y``) as torch tensors, already on the training device.
    batch_size : int
        Rows per batch.
    shuffle : bool, default=False
        Draw a fresh permutation at the start of every pass.
    generator : torch.Generator, optional
        CPU generator for the permutations (the net's seeded one).
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        self.X, self.y = _tensors_of(dataset)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return len(batch_bounds(len(self.X), self.batch_size))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        X, y = self.X, self.y
        if self.shuffle:
            order = torch.randperm(len(X), generator=self.generator).to(X.device)
            X = X[order]
            y = None if y is None else y[order]
        for start, stop in batch_bounds(len(X), self.batch_size):
            yield X[start:stop], (None if y is None else y[start:stop])

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

import numpy as np
import torch
from skorch.dataset import Dataset
from torch.utils.data import Subset

__all__ = ["Rows", "TensorBatches", "WEIGHT_RANGE", "batch_bounds", "features_of", "float32_weights",
           "largest_magnitude", "split_by_index", "weights_of"]


class Rows:
    """Validated training rows: features, encoded targets and optional sample weights.

    With ``index`` the rows are those positions of the tables ``X``, ``y`` and ``w``
    (in that order), which they share with other selections: a fit's training and
    validation rows are two index arrays into one table, not two copies of it. The
    training loop hands skorch the whole table (:meth:`table_input`) and the positions
    (:func:`split_by_index`); the batches gather their rows. Reading :attr:`X`,
    :attr:`y` or :attr:`w` of a selection gathers its rows.
    """

    __slots__ = ("_X", "_y", "_w", "index")

    def __init__(self, X: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None,
                 index: np.ndarray | None = None) -> None:
        self._X, self._y, self._w, self.index = X, y, w, index

    def _rows(self, table: torch.Tensor | None) -> torch.Tensor | None:
        if table is None or self.index is None:
            return table
        return table[torch.from_numpy(self.index).to(table.device)]

    @property
    def X(self) -> torch.Tensor:
        return self._rows(self._X)

    @property
    def y(self) -> torch.Tensor:
        return self._rows(self._y)

    @property
    def w(self) -> torch.Tensor | None:
        return self._rows(self._w)

    def __len__(self) -> int:
        return len(self._y) if self.index is None else len(self.index)

    def subset(self, index) -> Rows:
        """These rows at positions ``index`` (relative to this selection), without copying the table."""
        index = np.asarray(index, dtype=np.int64)
        return Rows(self._X, self._y, self._w, index if self.index is None else self.index[index])

    def shares_table(self, other: Rows) -> bool:
        """Whether ``other`` selects rows of the same table."""
        return self._X is other._X and self._y is other._y and self._w is other._w

    def to(self, device) -> Rows:
        """The same rows with their table on ``device``."""
        return Rows(self._X.to(device), self._y.to(device), None if self._w is None else self._w.to(device), self.index)

    def table_input(self) -> tuple:
        """The whole table as the skorch net takes it: ``(X, y)``, X carrying the sample weights if any.

        The features travel as ``{"X": features, "sample_weight": w}`` with weights (see
        :func:`features_of`).
        """
        return (self._X if self._w is None else {"X": self._X, "sample_weight": self._w}), self._y


def split_by_index(dataset, y=None, *, train: np.ndarray | None = None, valid: np.ndarray | None = None,
                   **fit_params) -> tuple:
    """A skorch ``train_split``: the training and validation rows as ``Subset`` s of the one dataset.

    ``train`` None: every row trains; ``valid`` None: no validation. skorch's own splits
    return ``Subset`` s too, so its callbacks find the rows they ask for (NumPy positions,
    as they index them).
    """
    return (dataset if train is None else Subset(dataset, train)), (None if valid is None else Subset(dataset, valid))


#: Largest sample weights left as they are (as powers of two): far inside float32's range
#: (2^128, and 2^-126 before the denormals that training flushes to 0), with room for a
#: batch's sums and for the products with small losses.
WEIGHT_RANGE = (2.0**-64, 2.0**64)


def float32_weights(w: np.ndarray) -> torch.Tensor:
    """Sample weights as the float32 tensor training uses, scaled by a power of two if they need it.

    Only the ratios of the weights matter (every use is a weighted mean or a class
    share), and a power of two scales them exactly: weights whose largest value lies
    outside :data:`WEIGHT_RANGE` (1e39 would be inf in float32, 1e-45 zero) are scaled
    to a largest value in [0.5, 1) and give the model the same weights would give
    within the range, bit for bit. Weights inside the range are only cast.
    """
    top = float(w.max()) if len(w) else 1.0
    if top > 0 and not WEIGHT_RANGE[0] <= top <= WEIGHT_RANGE[1]:
        w = np.ldexp(w, -int(np.frexp(top)[1]))
    return torch.from_numpy(w.astype(np.float32))


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
    """The tensors of a dataset and the row positions it selects of them (None: every row)."""
    if isinstance(dataset, Subset):
        X, y, index = _tensors_of(dataset.dataset)
        positions = torch.as_tensor(dataset.indices, dtype=torch.long)
        return X, y, positions if index is None else index[positions]
    if isinstance(dataset, Dataset):
        # Tensors on the training path; arrays when users call the net's own predict_proba.
        return _as_tensor(dataset.X), _as_tensor(dataset.y), None
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

    A ``Subset`` is not copied: its indices select the rows each batch gathers, so a
    fit's training and validation rows stay positions in the one table, and their
    batches hold the same rows in the same order as batches of a copied subset would.

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
        self.X, self.y, index = _tensors_of(dataset)
        # Positions of the rows in the tables (None: all of them), on the data's device.
        self.index = None if index is None else index.to(features_of(self.X).device)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.generator = generator
        self.per_class = per_class

    def __len__(self) -> int:
        if self.per_class:
            return max((len(batch_bounds(len(rows), self.batch_size)) for rows in self._class_rows()), default=0)
        return len(batch_bounds(self._n_rows(), self.batch_size))

    def _n_rows(self) -> int:
        return len(features_of(self.X)) if self.index is None else len(self.index)

    def _class_rows(self) -> list[torch.Tensor]:
        """The row indices of each class present, in order (computed once)."""
        if not hasattr(self, "_rows_by_class"):
            labels = (self.y if self.index is None else self.y[self.index]).cpu()
            self._rows_by_class = [torch.nonzero(labels == k).flatten() for k in torch.unique(labels)]
        return self._rows_by_class

    def _orders(self) -> Iterator[torch.Tensor | slice]:
        """The rows of each batch: a slice of the table, or positions in it (on the data's device) to gather."""
        n_rows = self._n_rows()
        if not self.per_class and not self.shuffle:
            for start, stop in batch_bounds(n_rows, self.batch_size):
                yield slice(start, stop) if self.index is None else self.index[start:stop]
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
        if self.index is not None:
            order = self.index[order]  # positions in the selection -> rows of the table
        yield from torch.split(order, [len(b) for b in batches])

    def __iter__(self) -> Iterator:
        for rows in self._orders():
            # Each batch gathers its own rows: a permuted copy of the whole table would
            # double the training data's memory for the epoch.
            yield _take(self.X, rows), _take(self.y, rows)

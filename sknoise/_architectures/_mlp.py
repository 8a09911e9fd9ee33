"""The MLP architecture: noise where practitioners expect it (inputs, before or after
activations), dropout, batch norm, max-norm."""

from __future__ import annotations

from .._runtime._architecture import Architecture, network_arguments
from .._runtime._net import MaxNormConstraint
from ..nn._layers import NoiseRNG
from ..nn._networks import NOISE_PLACEMENTS, NoisyMLP, placements

__all__ = ["MLPArchitecture"]


class MLPArchitecture(Architecture):
    """:class:`~sknoise.nn.NoisyMLP`, with its noise placements, dropout, batch norm and max-norm."""

    name = "mlp"
    groups = ("embedding", "mlp")

    def build(self, est, n_features: int, n_outputs: int, rng: NoiseRNG) -> NoisyMLP:
        return NoisyMLP(n_features, n_outputs, noise_placement=placements(est.noise_placement), dropout=est.dropout,
                        batch_norm=est.batch_norm, **network_arguments(est, rng))

    def check_params(self, est) -> None:
        bad_places = [p for p in placements(est.noise_placement) if p not in NOISE_PLACEMENTS]
        if bad_places:
            raise ValueError(f"noise_placement entries must be among {list(NOISE_PLACEMENTS)}; got {bad_places!r}.")

    def check_batches(self, est, n_train_rows: int, batch_size: int) -> None:
        if est.batch_norm is not None and min(n_train_rows, batch_size) < 2:
            raise ValueError(
                f"batch_norm={est.batch_norm!r} needs at least 2 rows per mini-batch to compute its statistics; "
                f"got batch_size={batch_size} with {n_train_rows} training rows. Raise batch_size (or pass more "
                "rows), or set batch_norm=None."
            )

    def callbacks(self, est) -> list:
        return [] if est.max_norm is None else [("max_norm", MaxNormConstraint(est.max_norm))]

    def inference_dropout(self, est) -> bool:
        return est.inference_dropout

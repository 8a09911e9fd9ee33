"""Activation functions selectable by name."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["available_activations", "make_activation"]

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,  # scikit-learn's name
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "leaky_relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
}


class _FunctionActivation(nn.Module):
    """Wrap a tensor function (e.g. ``torch.tanh``) as a module."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def available_activations() -> list[str]:
    """Names accepted by the estimators' ``activation`` parameter.

    Returns
    -------
    names : list of str
    """
    return list(_ACTIVATIONS)


def make_activation(activation: str | Callable) -> nn.Module:
    """Build an activation module from a name, a module class or a tensor function.

    Parameters
    ----------
    activation : str or callable
        A name from :func:`available_activations`, an ``nn.Module`` subclass
        (instantiated without arguments), or a function from tensor to tensor.

    Returns
    -------
    nn.Module

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names.
    """
    if isinstance(activation, str):
        try:
            return _ACTIVATIONS[activation]()
        except KeyError:
            raise ValueError(
                f"Unknown activation {activation!r}. Valid names are: {', '.join(sorted(_ACTIVATIONS))}; "
                "or pass an nn.Module class or a tensor function."
            ) from None
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation()
    if callable(activation):
        return _FunctionActivation(activation)
    raise TypeError(f"activation must be a name or a callable; got {type(activation).__name__}.")

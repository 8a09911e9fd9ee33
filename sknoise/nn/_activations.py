"""Activation functions selectable by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from ._layers import NoiseRNG
from ._noisy_activations import NOISY_ACTIVATIONS, HardSigmoid, HardTanh, NoisyHardActivation

__all__ = ["activation_factory", "available_activations", "make_activation"]

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
    "hard_tanh": HardTanh,
    "hard_sigmoid": HardSigmoid,  # the paper's clip(0.25x + 0.5, 0, 1), not PyTorch's
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
        Plain activations, the hard-saturating ``'hard_tanh'`` and ``'hard_sigmoid'``,
        and the noisy activations of Gulcehre et al.: ``'<variant>_<tanh|sigmoid>'``
        with variant ``nan``, ``nah``, ``nani`` or ``nanis``.
    """
    return [*_ACTIVATIONS, *NOISY_ACTIVATIONS]


def make_activation(
    activation: str | Callable,
    width: int | None = None,
    rng: NoiseRNG | None = None,
    mixing: float | None = None,
    noise_constant: float | None = None,
) -> nn.Module:
    """Build an activation module from a name, a module class or a tensor function.

    Parameters
    ----------
    activation : str or callable
        A name from :func:`available_activations`, an ``nn.Module`` subclass
        (instantiated without arguments), or a function from tensor to tensor.
    width : int, optional
        Number of units; needed by the noisy activations (per-unit learned ``p``).
    rng : NoiseRNG, optional
        Source of randomness; needed by the noisy activations.
    mixing, noise_constant : float, optional
        The noisy activations' ``α`` and ``c``; ``None`` keeps the reference defaults.

    Returns
    -------
    nn.Module

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names.
    """
    if isinstance(activation, str):
        if activation in NOISY_ACTIVATIONS:
            if width is None or rng is None:
                raise ValueError(f"The noisy activation {activation!r} needs the layer width and a NoiseRNG.")
            variant, kind = activation.split("_")
            return NoisyHardActivation(kind, variant, width, rng, mixing=mixing, noise_constant=noise_constant)
        try:
            return _ACTIVATIONS[activation]()
        except KeyError:
            raise ValueError(
                f"Unknown activation {activation!r}. Valid names are: {', '.join(sorted(available_activations()))}; "
                "or pass an nn.Module class or a tensor function."
            ) from None
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        return activation()
    if callable(activation):
        _check_tensor_function(activation)
        return _FunctionActivation(activation)
    raise TypeError(f"activation must be a name or a callable; got {type(activation).__name__}.")


def _check_tensor_function(fn: Callable) -> None:
    """A function given as ``activation`` must map a tensor to a tensor of the same shape."""
    probe = torch.linspace(-2.0, 2.0, 6).reshape(2, 3)
    try:
        with torch.no_grad():
            out = fn(probe)
    except Exception as error:
        raise ValueError(f"activation={fn!r} failed on a (2, 3) tensor: {error}") from error
    if not isinstance(out, torch.Tensor) or out.shape != probe.shape:
        raise ValueError(
            f"activation must map a tensor to a tensor of the same shape (e.g. torch.tanh) or be an nn.Module "
            f"class; {fn!r} returned {type(out).__name__} of shape {tuple(getattr(out, 'shape', ()))}."
        )


def activation_factory(activation, rng: NoiseRNG | None = None) -> Callable[[int], nn.Module]:
    """Normalize a module's ``activation`` argument into ``factory(width) -> nn.Module``.

    A name is resolved with :func:`make_activation` (reference constants for the noisy
    activations); anything else must already be such a factory.
    """
    if isinstance(activation, str):
        return partial(make_activation, activation, rng=rng)
    return activation

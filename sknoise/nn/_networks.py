"""The networks the estimators train: torch modules built on the noise vocabulary.

Each is a :class:`~sknoise.nn.NoisyModule`: it owns the network's :class:`NoiseRNG`,
lists its noise sources and the layers a max-norm constraint bounds. Like the rest of
:mod:`sknoise.nn`, this module imports neither scikit-learn nor skorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ._activations import activation_factory
from ._layers import (
    ActivationNoise,
    NoiseLayer,
    NoiseRNG,
    NoiseSource,
    NoiseSpec,
    NoisyModule,
    expand_passes,
    flatten_passes,
    match_passes,
)

__all__ = [
    "NOISE_PLACEMENTS",
    "NIN_PLACEMENTS",
    "placements",
    "NoisyMLP",
    "NoiseInjectionNode",
    "NINRNet",
    "niw_norms",
    "BatchedAutoencoderEnergy",
    "OwnClassEnergy",
    "JointEnergyLoss",
    "MemberMean",
    "log_mean_probability",
    "mean_output",
    "GaussianNLL",
    "gaussian_variance",
    "BatchedLinear",
    "members_last",
    "EmbeddedInput",
    "PeriodicEmbedding",
]


class BatchedLinear(nn.Module):
    """K independent linear layers applied at once: ``(K, N, in) -> (K, N, out)``.

    The batched matrix product behind the EBM's K class models and behind ensemble
    members trained in one module. The first layer of a stack takes the shared input
    ``(N, in)``, broadcast to all K models without a copy. Products are plain ``bmm`` with the bias added in place:
    the fused ``addmm``/``baddbmm`` kernels round differently for a single row than
    for many, and a row's prediction must not depend on the batch it comes in.
    """

    def __init__(self, n_models: int, width_in: int, width_out: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(width_in)  # nn.Linear's default initialization
        self.weight = nn.Parameter(torch.empty(n_models, width_in, width_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_models, 1, width_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.expand(len(self.weight), *x.shape)
        return torch.bmm(x, self.weight).add_(self.bias)

    def residual(self, hidden: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``layer(hidden) - x`` for every model, bias and subtraction applied in place."""
        return torch.bmm(hidden, self.weight).add_(self.bias).sub_(x)


class MemberBatchNorm(nn.Module):
    """Batch normalization with statistics of their own for each of K members: ``(K, N, w)``."""

    def __init__(self, n_members: int, width: int) -> None:
        super().__init__()
        self.n_members = n_members
        self.norm = nn.BatchNorm1d(n_members * width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, n, w = x.shape
        return self.norm(x.transpose(0, 1).reshape(n, k * w)).reshape(n, k, w).transpose(0, 1)


def _linear(n_members: int, width_in: int, width_out: int) -> nn.Module:
    """One linear layer, or K members' side by side (a batched product)."""
    return nn.Linear(width_in, width_out) if n_members == 1 else BatchedLinear(n_members, width_in, width_out)


def _batch_norm(n_members: int, width: int) -> nn.Module:
    return nn.BatchNorm1d(width) if n_members == 1 else MemberBatchNorm(n_members, width)


def members_last(out: torch.Tensor, n_members: int) -> torch.Tensor:
    """``(K, N, ...)`` member outputs as ``(N, K, ...)``: rows first, as skorch slices them."""
    return out if n_members == 1 else out.transpose(0, 1)


NOISE_PLACEMENTS = ("input", "pre_activation", "post_activation")
#: Where noise injection nodes connect: the first layer (in-NINR) or every layer (full-NINR).
NIN_PLACEMENTS = ("input", "all")


def placements(noise_placement) -> tuple[str, ...]:
    return (noise_placement,) if isinstance(noise_placement, str) else tuple(noise_placement)


class NoisyMLP(NoisyModule):
    """Multilayer perceptron with noise layers at chosen placements.

    Each hidden block is, in order: ``Linear -> [BatchNorm if 'before'] ->
    [noise if 'pre_activation'] -> f -> [noise if 'post_activation'] ->
    [BatchNorm if 'after'] -> [dropout]``, so the post-activation noise is exactly the
    activation noise ``t = f(a) + α z``. Input noise perturbs ``x`` itself. The output
    layer is linear and noise-free and returns logits.

    Parameters
    ----------
    n_features, n_classes : int
        Input and output widths.
    hidden_layer_sizes : sequence of int
        Widths of the hidden layers (may be empty: a linear model).
    activation : str or callable
        An activation name, or ``activation(width)`` building the activation module
        of a layer of that width (see :func:`sknoise.make_activation`).
    noise : NoiseSpec
        Training noise used at every placement.
    rng : NoiseRNG
        Shared, seeded source of randomness for every noise layer.
    noise_placement : sequence of str, default=('post_activation',)
        Any of ``'input'``, ``'pre_activation'``, ``'post_activation'``.
    dropout : float, default=0.0
        Rate of inverted dropout after each hidden block (0 disables it).
    batch_norm : {None, 'before', 'after'}, default=None
        Batch normalization before or after the activation.
    n_members : int, default=1
        Independently initialized members trained at once (batched products); the
        output is then ``(N, n_members, n_classes)``.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        hidden_layer_sizes,
        activation: str | Callable[[int], nn.Module],
        noise: NoiseSpec,
        rng: NoiseRNG,
        noise_placement=("post_activation",),
        dropout: float = 0.0,
        batch_norm: str | None = None,
        n_members: int = 1,
    ) -> None:
        super().__init__(rng)
        self.n_members = n_members
        activation = activation_factory(activation, rng)
        placements = set(noise_placement)
        self.input_noise = NoiseLayer(noise, rng) if "input" in placements else nn.Identity()
        layers: list[nn.Module] = []
        width_in = n_features
        for width in hidden_layer_sizes:
            layers.append(_linear(n_members, width_in, width))
            if batch_norm == "before":
                layers.append(_batch_norm(n_members, width))
            if "pre_activation" in placements:
                layers.append(NoiseLayer(noise, rng))
            f = activation(width)
            layers.append(ActivationNoise(f, noise, rng) if "post_activation" in placements else f)
            if batch_norm == "after":
                layers.append(_batch_norm(n_members, width))
            if dropout > 0:
                # Dropout is a regularizer of its own: off at inference, not annealed by a noise schedule.
                layers.append(NoiseLayer(NoiseSpec.make("dropout", dropout), rng, role="dropout"))
            width_in = width
        self.hidden = nn.Sequential(*layers)
        self.output = _linear(n_members, width_in, n_classes)

    def max_norm_layers(self) -> list[nn.Module]:
        """The hidden layers, to which a max-norm constraint applies."""
        return [m for m in self.hidden if isinstance(m, (nn.Linear, BatchedLinear))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return members_last(self.output(self.hidden(self.input_noise(x))), self.n_members)


class NoiseInjectionNode(NoiseSource):
    """One scalar noise source per example, wired to every unit of a layer by trainable weights.

    Adds ``σ ε · w`` to the layer's pre-activation, where ``ε`` is one normalized draw
    per row, ``σ`` the noise scale and ``w`` the noise-injection weights (NIW), a
    trainable vector with one entry per unit. Like every :class:`~sknoise.NoiseSource`
    the node is on in training mode and off in eval mode, unless Monte-Carlo
    inference switches it on (then one ``ε`` per pass, shared by the rows).

    Parameters
    ----------
    width : int
        Number of units the node feeds.
    noise : NoiseSpec
        Distribution of ``ε`` and the scale ``σ`` (an additive kind).
    init_scale : float
        Standard deviation of the Gaussian NIW initialization.
    rng : NoiseRNG
        Shared, seeded source of randomness.
    n_members : int, default=1
        Ensemble members, each with its own NIW vector.
    """

    def __init__(self, width: int, *, noise: NoiseSpec, init_scale: float, rng: NoiseRNG, n_members: int = 1) -> None:
        super().__init__(noise, rng)
        # One NIW vector per ensemble member, shaped to broadcast over a member's rows.
        shape = (width,) if n_members == 1 else (n_members, 1, width)
        self.niw = nn.Parameter(torch.randn(shape) * init_scale)

    def forward(self, pre: torch.Tensor) -> torch.Tensor:
        if self.training:
            spec = self.train_noise
            if not spec.active:
                return pre
            eps = spec.distribution.sample((*pre.shape[:-1], 1), generator=self.rng.generator(pre.device),
                                           device=pre.device, dtype=pre.dtype)
            return torch.addcmul(pre, eps.mul_(self.training_scale()), self.niw)
        active = self.monte_carlo_spec()
        if active is None:
            return pre
        mc, spec = active
        # One ε per pass (and member), shared by the rows: (..., T, 1, 1).
        sigma_eps = self.monte_carlo_draws(mc, spec, (*pre.shape[:-2], 1, 1), pre).movedim(0, -3)
        niw = self.niw if self.niw.dim() == 1 else self.niw.unsqueeze(-3)
        return flatten_passes(expand_passes(pre, mc) + sigma_eps * niw, mc)


def niw_norms(module: nn.Module) -> list[float]:
    """L2 norm of the noise-injection weights of every :class:`NoiseInjectionNode` in ``module``, in order."""
    with torch.no_grad():
        return [float(m.niw.norm()) for m in module.modules() if isinstance(m, NoiseInjectionNode)]


class NINRNet(NoisyModule):
    """A fully connected network with noise injection nodes.

    Each layer computes ``f(W h + b + σ ε_l w_l)``; the node term exists for the first
    layer only (``'input'``, in-NINR) or for every layer, output logits included
    (``'all'``, full-NINR), each layer with its own independent ``ε_l``.

    Parameters
    ----------
    n_features, n_classes : int
        Input and output widths.
    hidden_layer_sizes : sequence of int
        Widths of the hidden layers (may be empty).
    activation : str or callable
        An activation name, or ``activation(width)`` building the activation module
        of a layer of that width (see :func:`sknoise.make_activation`).
    noise : NoiseSpec
        Distribution of ``ε`` and ``σ``.
    rng : NoiseRNG
        Shared source of randomness.
    nin_placement : {'input', 'all'}, default='input'
        Where noise injection nodes connect.
    niw_init_scale : float, default=1.0
        Standard deviation of the NIW initialization.
    n_members : int, default=1
        Independently initialized members trained at once; the output is then
        ``(N, n_members, n_classes)``.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        hidden_layer_sizes,
        activation,
        noise: NoiseSpec,
        rng: NoiseRNG,
        nin_placement: str = "input",
        niw_init_scale: float = 1.0,
        n_members: int = 1,
    ) -> None:
        super().__init__(rng)
        self.n_members = n_members
        widths = [n_features, *hidden_layer_sizes, n_classes]
        self.linears = nn.ModuleList(_linear(n_members, a, b) for a, b in zip(widths[:-1], widths[1:]))
        activation = activation_factory(activation, rng)
        self.activations = nn.ModuleList(activation(width) for width in hidden_layer_sizes)
        n_nodes = 1 if nin_placement == "input" else len(self.linears)
        self.nodes = nn.ModuleList(
            NoiseInjectionNode(widths[i + 1], noise=noise, init_scale=niw_init_scale, rng=rng, n_members=n_members)
            for i in range(n_nodes)
        )

    def niw_norms(self) -> list[float]:
        """L2 norm of each node's noise-injection weights, first layer first."""
        return niw_norms(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, linear in enumerate(self.linears):
            h = linear(h)
            if i < len(self.nodes):
                h = self.nodes[i](h)
            if i < len(self.activations):
                h = self.activations[i](h)
        return members_last(h, self.n_members)


class BatchedAutoencoderEnergy(NoisyModule):
    """One autoencoder per class, all of them in one module; energy = reconstruction error.

    Class ``k`` maps ``x`` through ``d -> h_1 -> ... -> h_L -> d`` with its own
    weights; every hidden neuron carries activation noise ``t = f(a) + α z``. The
    energy ``E_k(x)`` is the mean squared reconstruction error over the features.
    Called with the batch's ``targets`` (the generative objective's training steps),
    each row goes through its own class's model only; otherwise (validation,
    prediction) through all K. The
    posterior ``softmax(-E / τ + log π)`` uses the buffers ``temperature`` and
    ``log_prior`` that the estimator fits.

    Parameters
    ----------
    n_features : int
        Input width ``d``.
    n_classes : int
        Number ``K`` of class models.
    hidden_layer_sizes : sequence of int
        Hidden widths of each class's autoencoder (at least one).
    activation : str or callable
        An activation name, or ``activation(width)`` building the activation module of
        a hidden layer of that width (see :func:`sknoise.make_activation`); the module
        is shared by the K class models, whose activations it sees as ``(K, N, width)``.
    noise : NoiseSpec
        Training activation noise.
    rng : NoiseRNG
        Seeded source of every noise draw.
    n_members : int, default=1
        Independently initialized ensemble members, each with its own K class models
        (all ``n_members * K`` autoencoders in the same batched products); the
        energies are then ``(N, n_members, K)``.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        hidden_layer_sizes,
        activation,
        noise: NoiseSpec,
        rng: NoiseRNG,
        n_members: int = 1,
    ) -> None:
        super().__init__(rng)
        self.n_classes, self.n_members = n_classes, n_members
        activation = activation_factory(activation, rng)
        widths = [n_features, *hidden_layer_sizes, n_features]
        layers: list[nn.Module] = []
        for i, (width_in, width_out) in enumerate(zip(widths[:-1], widths[1:])):
            # Model m * K + k is class k's autoencoder of member m.
            layers.append(BatchedLinear(n_members * n_classes, width_in, width_out))
            if i < len(widths) - 2:
                layers.append(ActivationNoise(activation(width_out), noise, rng))
        self.layers = nn.Sequential(*layers)
        self.register_buffer("temperature", torch.tensor(1.0))
        self.register_buffer("log_prior", torch.full((n_classes,), -math.log(n_classes)))

    def posterior(self, energies: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``softmax(-E / τ + log π)`` of energies ``(..., K)``."""
        # The buffers follow the energies (a CPU copy of a GPU model's energies too).
        logits = -energies / self.temperature.to(energies) + self.log_prior.to(energies)
        return torch.softmax(logits, dim=-1)

    def _energies(self, x: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Reconstruction errors ``(K, M)`` of ``x`` (shared ``(M, d)`` or per model ``(K, M, d)``)."""
        *encoder, output = self.layers
        hidden = x
        for layer in encoder:
            hidden = layer(hidden)
        # Under Monte-Carlo inference the hidden rows are pass-major copies of the inputs.
        residual = output.residual(hidden, match_passes(inputs, hidden))
        # A norm is one reduction pass; squaring the (K, M, d) residual first would be two.
        return torch.linalg.vector_norm(residual, dim=-1).square().div(x.shape[-1])

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Energies ``(N, K)`` (``(N, n_members, K)`` with members); given the rows'
        ``targets``, only each row's own class column (the rest NaN)."""
        if targets is None:
            energies = self._energies(x, x)  # (members * K, N)
            energies = energies.reshape(self.n_members, self.n_classes, -1).permute(2, 0, 1)
        else:
            energies = self._own_class_energies(x, targets)
        return energies[:, 0] if self.n_members == 1 else energies

    def _own_class_energies(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # Pack the rows by class into a padded (K, M, d) batch, M the largest class count,
        # so each class model sees only its own rows: about 1/K of the dense work. Every
        # member gets the same packing.
        k, m = self.n_classes, self.n_members
        order = torch.argsort(y, stable=True)
        y_sorted = y[order]
        counts = torch.bincount(y, minlength=k)
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.arange(len(y), device=x.device) - starts[y_sorted]
        packed = x.new_zeros(k, int(counts.max()), x.shape[1])
        packed[y_sorted, slot] = x[order]
        packed = packed.repeat(m, 1, 1)  # (members * K, M, d)
        own = self._energies(packed, packed).reshape(m, k, -1)[:, y_sorted, slot]  # (members, N)
        energies = torch.full((len(x), m, k), float("nan"), device=x.device, dtype=x.dtype)
        members = torch.arange(m, device=x.device)
        return energies.index_put((order[:, None], members[None, :], y_sorted[:, None]), own.t())


class OwnClassEnergy(nn.Module):
    """Training loss: the energy of each row under its own class's model, one value per row.

    Only the row's own column enters the loss, so each row trains only its own
    class's autoencoder (one-class training of every class at once). Like the other
    criteria of the estimators it does not reduce (``reduction='none'``): the net
    averages the rows, with their sample weights.
    """

    def forward(self, energies: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return energies.gather(1, y.view(-1, 1)).squeeze(1)


class PeriodicEmbedding(nn.Module):
    """Periodic embeddings of numeric features (PLR): ``ReLU(W_j [cos(2π c_j x_j), sin(2π c_j x_j)])``.

    Each of the ``n_features`` columns gets ``n_frequencies`` learned frequencies
    ``c_j`` (initialized from ``N(0, sigma²)``) and its own linear map to ``width``
    outputs, so the network sees a learned, smooth, multi-scale code of every number
    rather than the number alone. From Gorishniy, Rubachev, Babenko, "On Embeddings
    for Numerical Features in Tabular Deep Learning", NeurIPS 2022, arXiv:2203.05556.

    Parameters
    ----------
    n_features : int
        Number of numeric columns embedded.
    n_frequencies : int, default=16
        Learned frequencies per column.
    width : int, default=16
        Output features per column.
    sigma : float, default=0.1
        Standard deviation of the frequencies' initialization (the scale of the
        variation the embedding starts out resolving, in units of the scaled inputs).
    """

    def __init__(self, n_features: int, n_frequencies: int = 16, width: int = 16, sigma: float = 0.1) -> None:
        super().__init__()
        self.frequencies = nn.Parameter(torch.randn(n_features, n_frequencies) * sigma)
        bound = 1.0 / math.sqrt(2 * n_frequencies)
        self.weight = nn.Parameter(torch.empty(n_features, 2 * n_frequencies, width).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_features, width).uniform_(-bound, bound))

    @property
    def n_features(self) -> int:
        """Number of numeric columns embedded."""
        return self.weight.shape[0]

    @property
    def output_width(self) -> int:
        """Number of output features: ``n_features * width``."""
        return self.n_features * self.weight.shape[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        angles = 2 * math.pi * x.unsqueeze(-1) * self.frequencies  # (N, features, frequencies)
        periodic = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
        out = torch.einsum("nfk,fkw->nfw", periodic, self.weight) + self.bias
        return torch.relu(out).flatten(1)


def _columns(index) -> slice | list[int]:
    """A column selection: a slice when the columns are consecutive (a view, no copy), else a list."""
    index = [int(i) for i in index]
    if not index:
        return slice(0, 0)
    if index == list(range(index[0], index[0] + len(index))):
        return slice(index[0], index[0] + len(index))
    return index


class EmbeddedInput(NoisyModule):
    """A network whose inputs are embedded before it sees them.

    The input's columns are named by position: ``numeric`` columns go through the
    :class:`PeriodicEmbedding` (when there is one), ``dense`` columns go to the network
    as they are, and each of the ``codes`` columns holds an integer code (as a float;
    0 for categories unseen in training) that gets its own learned ``nn.Embedding``.
    The network receives, side by side, the embedded numbers, the dense columns and
    the embeddings. Noise sources, max-norm layers and the noise stream are the
    network's. The built-in preprocessing publishes these positions
    (``TablePreprocessor.layout_``), so nothing depends on the order of its steps.

    Parameters
    ----------
    network : NoisyModule
        Takes the embedded width (see :meth:`embedded_width`).
    numeric : sequence of int, default=()
        Columns embedded by ``numeric_embedding`` (empty without one).
    dense : sequence of int, default=()
        Columns passed through.
    codes : sequence of int, default=()
        Columns of categorical codes.
    cardinalities : sequence of int, default=()
        Number of codes of each code column.
    widths : sequence of int, default=()
        Embedding width of each code column.
    numeric_embedding : PeriodicEmbedding or None, default=None
        Embeds the ``numeric`` columns.
    """

    def __init__(self, network: NoisyModule, *, numeric=(), dense=(), codes=(), cardinalities=(), widths=(),
                 numeric_embedding: PeriodicEmbedding | None = None) -> None:
        super().__init__(network.noise_rng)
        if (numeric_embedding is None) != (len(numeric) == 0) or (
                numeric_embedding is not None and numeric_embedding.n_features != len(numeric)):
            raise ValueError("numeric_embedding must embed exactly the numeric columns.")
        if not len(cardinalities) == len(widths) == len(codes):
            raise ValueError("codes, cardinalities and widths must have one entry per code column.")
        self.network = network
        self._numeric, self._dense, self._codes = _columns(numeric), _columns(dense), list(codes)
        self.embeddings = nn.ModuleList(nn.Embedding(int(n), int(w)) for n, w in zip(cardinalities, widths))
        self.numeric_embedding = numeric_embedding

    @staticmethod
    def embedded_width(n_dense: int, widths, numeric_embedding=None) -> int:
        """Width the network receives from ``n_dense`` passed-through columns, the code
        columns' embedding ``widths`` and the numeric embedding."""
        numeric = 0 if numeric_embedding is None else numeric_embedding.output_width
        return n_dense + sum(widths) + numeric

    def max_norm_layers(self) -> list[nn.Module]:
        return self.network.max_norm_layers()

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        parts = [x[:, self._dense]]
        if self.numeric_embedding is not None:
            parts.insert(0, self.numeric_embedding(x[:, self._numeric]))
        parts += [embedding(x[:, column].long()) for column, embedding in zip(self._codes, self.embeddings)]
        return self.network(torch.cat(parts, dim=1), **kwargs)


class JointEnergyLoss(nn.Module):
    """Training loss of a joint energy model: own-class energy plus a discriminative term.

    Per row: ``E_y(x) + weight * CE(softmax(-E(x) / τ), y)``, with a learned
    temperature ``τ`` (``exp(log_temperature)``). The first term is the generative,
    one-class objective; the second makes each class model see the other classes'
    rows too, pushing their energies up (cross-entropy over negative energies, as in
    joint energy-based models). Needs every class's energy of each row.

    Parameters
    ----------
    weight : float
        Weight of the discriminative term.
    """

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = float(weight)
        self.log_temperature = nn.Parameter(torch.zeros(()))

    def forward(self, energies: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        own = energies.gather(1, y.view(-1, 1)).squeeze(1)
        logits = -energies / self.log_temperature.exp()
        return own + self.weight * nn.functional.cross_entropy(logits, y, reduction="none")


def log_mean_probability(logits: torch.Tensor) -> torch.Tensor:
    """Members' logits ``(N, k, K)`` to the log of their mean probabilities ``(N, K)`` (valid logits)."""
    return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=1) - math.log(logits.shape[1])


def mean_output(out: torch.Tensor) -> torch.Tensor:
    """Members' outputs ``(N, k, ...)`` to their mean ``(N, ...)``."""
    return out.mean(dim=1)


#: The smallest variance of the Gaussian head, on the standardized targets' scale.
MIN_VARIANCE = 1e-6


def gaussian_variance(raw: torch.Tensor) -> torch.Tensor:
    """The Gaussian head's variance from its raw output: ``softplus(raw) + MIN_VARIANCE`` (positive, smooth)."""
    return nn.functional.softplus(raw) + MIN_VARIANCE


class GaussianNLL(nn.Module):
    """Per-row negative log-likelihood of a heteroscedastic Gaussian head (constant dropped).

    The output ``(N, 2k)`` holds ``k`` means and ``k`` raw variance scores (see
    :func:`gaussian_variance`); the loss of a row is the mean over its ``k`` targets of
    ``½ (log σ² + (y - μ)² / σ²)``, which trains the means as squared error would and
    the variances to the squared errors the means leave.
    """

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        k = out.shape[-1] // 2
        mean, variance = out[..., :k], gaussian_variance(out[..., k:])
        y = y.reshape(mean.shape)
        return (0.5 * (variance.log() + (y - mean).square() / variance)).reshape(len(y), -1).mean(dim=1)


class MemberMean(nn.Module):
    """A per-row criterion applied to every ensemble member's output, averaged over the members.

    The output is ``(N, n_members, ...)`` and the targets ``(N, ...)``; in training mode
    each member is trained on every row, independently of the others (a deep
    ensemble in one module). In eval mode (validation, hence early stopping), with a
    ``combine`` function, the criterion scores the ensemble's prediction instead:
    ``combine`` maps the members' outputs to one output the criterion takes.

    Parameters
    ----------
    criterion : nn.Module
        Per-row criterion.
    combine : callable, optional
        ``(N, n_members, ...) -> (N, ...)``, e.g. :func:`log_mean_probability`.
    """

    def __init__(self, criterion: nn.Module, combine=None) -> None:
        super().__init__()
        self.criterion = criterion
        self.combine = combine

    def forward(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if not self.training and self.combine is not None:
            losses = self.criterion(self.combine(out), y)
            return losses.reshape(len(y), -1).mean(dim=1)
        n, k = out.shape[:2]
        losses = self.criterion(out.reshape(n * k, *out.shape[2:]), y.repeat_interleave(k, dim=0))
        return losses.reshape(n, k, -1).mean(dim=(1, 2))

"""Hard-saturating and noisy activation functions (Gulcehre et al. 2016)."""

import math

import pytest
import torch

from sknoise import available_activations, make_activation
from sknoise.nn._layers import NoiseRNG
from sknoise.nn._noisy_activations import NOISY_ACTIVATIONS, NoisyHardActivation, hard_sigmoid, hard_tanh

from ._common import LOGIT_CLASSIFIERS, run_passes


def test_hard_functions_follow_the_paper_not_pytorch():
    x = torch.tensor([-5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0])
    assert torch.equal(hard_sigmoid(x), torch.tensor([0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]))
    # PyTorch's hardsigmoid is x/6 + 1/2: different at x = 1.
    assert not torch.allclose(hard_sigmoid(x), torch.nn.functional.hardsigmoid(x))
    assert torch.equal(hard_tanh(x), torch.tensor([-1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 1.0]))


@pytest.mark.parametrize("name", NOISY_ACTIVATIONS)
def test_noisy_activations_are_selectable_by_name(name):
    assert name in available_activations()
    module = make_activation(name, width=4, rng=NoiseRNG(0, 1))
    assert isinstance(module, NoisyHardActivation)
    assert module.p.shape == (4,) and module.p.requires_grad


def test_noisy_activation_needs_width_and_rng():
    with pytest.raises(ValueError, match="width"):
        make_activation("nan_tanh")


def _unit(variant, kind, **kw):
    torch.manual_seed(0)
    return NoisyHardActivation(kind, variant, width=3, rng=NoiseRNG(1, 2), **kw)


def test_nan_formula_in_training_matches_a_manual_computation():
    act = _unit("nan", "tanh").train()
    x = torch.tensor([[-3.0, 0.2, 2.5]])
    gen = torch.Generator().manual_seed(1)  # the train stream's seed
    xi = torch.randn(x.shape, generator=gen)
    alpha, c = 1.15, 0.5
    h, u = hard_tanh(x), x
    sigma = c * (torch.sigmoid(act.p.detach() * (h - u)) - 0.5) ** 2
    expected = alpha * h + (1 - alpha) * u + (-torch.sign(x) * math.copysign(1, 1 - alpha)) * sigma * xi
    torch.testing.assert_close(act(x).detach(), expected)


def test_noise_only_where_saturated_for_nan():
    act = _unit("nan", "tanh").train()
    x = torch.tensor([[-0.5, 0.0, 0.7]])  # all in the linear region: Δ = 0, σ = 0
    out = act(x)
    # α h + (1 - α) u = x in the linear region, and no noise.
    torch.testing.assert_close(out.detach(), x)


def test_saturated_units_keep_a_gradient():
    act = _unit("nan", "tanh").train()
    x = torch.tensor([[3.0, -4.0, 5.0]], requires_grad=True)
    act(x).sum().backward()
    # hard_tanh alone has zero gradient there; α > 1 mixing keeps (1 - α) u(x) alive.
    assert torch.all(x.grad.abs() > 0)


@pytest.mark.parametrize("variant, expectation", [("nan", 0.0), ("nah", math.sqrt(2 / math.pi))])
def test_eval_replaces_noise_by_its_expectation(variant, expectation):
    act = _unit(variant, "sigmoid").eval()
    x = torch.tensor([[-6.0, 0.0, 6.0]])
    first, second = act(x), act(x)
    assert torch.equal(first, second)  # deterministic
    h, u = hard_sigmoid(x), 0.25 * x + 0.5
    sigma = act.noise_constant * (torch.sigmoid(act.p.detach() * (h - u)) - 0.5) ** 2
    d = -torch.sign(x) * math.copysign(1, 1 - act.mixing)
    expected = act.mixing * h + (1 - act.mixing) * u + d * sigma * expectation
    torch.testing.assert_close(first.detach(), expected)


def test_half_normal_noise_is_one_sided():
    act = _unit("nah", "tanh").train()
    x = torch.full((2000, 3), 4.0)  # saturated at +1; d(x) = -sgn(x) sgn(1 - α) = +1 for α > 1
    base = act.mixing * 1.0 + (1 - act.mixing) * 4.0
    assert torch.all(act(x).detach() >= base - 1e-6)


def test_monte_carlo_inference_turns_the_noise_back_on():
    act = _unit("nani", "tanh").eval()
    x = torch.zeros(500, 3)
    assert torch.equal(act(x), x)
    passes = run_passes(act, x, 8)
    assert passes.shape == (8, 500, 3) and passes.std() > 0.01


def test_nanis_perturbs_only_saturated_inputs():
    act = _unit("nanis", "tanh", noise_constant=5.0).train()
    x = torch.tensor([[0.3] * 3] * 200)
    assert torch.equal(act(x), x)  # linear region: no noise
    x_sat = torch.full((200, 3), 1.5)
    assert (act(x_sat) < 1.0).any()  # large noise pulls some saturated inputs back inside


def test_schedule_factor_scales_the_noise_constant():
    act = _unit("nani", "tanh").train()
    x = torch.zeros(4000, 3)
    spread = act(x).std()
    act.schedule_factor = 0.0
    assert torch.equal(act(x), x)
    assert spread > 0.03


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


ESTIMATORS = [cls.__name__ for cls in LOGIT_CLASSIFIERS]


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_estimators_take_noisy_activations_by_name_and_stay_deterministic(estimator, iris):
    import sknoise

    X, y = iris
    clf = getattr(sknoise, estimator)(
        (16,), activation="nah_sigmoid", activation_noise_constant=0.3, max_epochs=30, lr=0.01, random_state=0
    ).fit(X, y)
    units = [m for m in clf.net_.module_.modules() if isinstance(m, NoisyHardActivation)]
    assert len(units) == 1 and units[0].noise_constant == 0.3 and units[0].mixing == 1.1
    assert clf.score(X, y) > 0.8
    # Noise replaced by its expectation at inference: repeated predictions agree exactly.
    assert (clf.predict_proba(X) == clf.predict_proba(X)).all()
    # Monte-Carlo inference switches the activation noise back on.
    _, std = clf.set_params(inference_noise="same").predict_proba(X, return_std=True)
    assert std.max() > 0


def test_grid_search_over_activation_names(iris):
    from sklearn.model_selection import GridSearchCV

    from sknoise import NoisyMLPClassifier

    X, y = iris
    search = GridSearchCV(
        NoisyMLPClassifier((8,), max_epochs=5, random_state=0),
        {"activation": ["hard_tanh", "nan_tanh", "nanis_sigmoid"]},
        cv=2,
    ).fit(X, y)
    assert list(search.cv_results_["param_activation"]) == ["hard_tanh", "nan_tanh", "nanis_sigmoid"]


def test_noisy_activations_leave_the_weight_initialization_alone(iris):
    from sknoise import NoisyMLPClassifier

    X, y = iris
    weights = []
    for activation in ("hard_tanh", "nan_tanh"):
        clf = NoisyMLPClassifier((8, 8), activation=activation, max_epochs=1, lr=1e-12, random_state=0)
        clf.set_params(early_stopping=False, optimizer="sgd", momentum=0.0).fit(X, y)
        weights.append([m.weight.detach().clone() for m in clf.net_.module_.max_norm_layers()])
    for a, b in zip(*weights):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-9)  # lr ~ 0: still the initial weights


def test_monte_carlo_reaches_noisy_activations_without_noise_layers(iris):
    from sknoise import NoisyMLPClassifier

    X, y = iris
    clf = NoisyMLPClassifier((8,), activation="nan_tanh", noise="none", max_epochs=3, random_state=0).fit(X, y)
    assert clf.predict_proba(X, return_std=True)[1].max() == 0
    _, std = clf.set_params(inference_noise="same").predict_proba(X, return_std=True)
    assert std.max() > 0

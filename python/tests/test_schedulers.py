"""Tests of python/bac_models/schedulers.py's DPM-Solver++ (and prediction_type='sample').

The TypeScript sampler (src/engine/samplers.ts) is checked against trajectories this scheduler
writes (python/make_test_vectors.py), so it is checked here on its own terms: timesteps worked out
by hand from diffusers' spacing rules, the first-order step against the DDIM formula, the Gaussian
probability-flow ODE, and the multistep bookkeeping.
"""

from __future__ import annotations

import math

import pytest
import torch

from bac_models import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler


def dpm(K: int = 10, **kwargs: object) -> DPMSolverMultistepScheduler:
    s = DPMSolverMultistepScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2", **kwargs)
    s.set_timesteps(K)
    return s


def test_timesteps_follow_diffusers_spacings_with_half_to_even_rounding() -> None:
    # linspace(0, 99, 11): 49.5 rounds to the even 50; linspace(0, 99, 5): 24.75, 49.5, 74.25
    assert dpm(10).timesteps.tolist() == [99, 89, 79, 69, 59, 50, 40, 30, 20, 10]
    assert dpm(4).timesteps.tolist() == [99, 74, 50, 25]
    assert dpm(10, timestep_spacing="leading", steps_offset=1).timesteps.tolist() == [
        91, 82, 73, 64, 55, 46, 37, 28, 19, 10,
    ]
    assert dpm(10, timestep_spacing="trailing").timesteps.tolist() == [99, 89, 79, 69, 59, 49, 39, 29, 19, 9]
    s = dpm(10)
    assert len(s.sigmas) == 11 and float(s.sigmas[-1]) == 0.0
    a = float(s.alphas_cumprod[99])
    assert float(s.sigmas[0]) == pytest.approx(math.sqrt((1 - a) / a), rel=1e-6)
    clipped = dpm(10, lambda_min_clipped=-5.0)
    assert 90 < int(clipped.timesteps[0]) < 99


def test_first_order_step_is_the_ddim_step_between_the_same_timesteps() -> None:
    s = dpm(10, solver_order=1)
    x = torch.tensor([0.7, -0.2, 1.5])
    eps = torch.tensor([0.3, -0.9, 0.1])
    ts = s.timesteps.tolist()
    got = s.step(eps, ts[0], x)
    a_s, a_t = float(s.alphas_cumprod[ts[0]]), float(s.alphas_cumprod[ts[1]])
    x0 = (x - math.sqrt(1 - a_s) * eps) / math.sqrt(a_s)
    want = math.sqrt(a_t) * x0 + math.sqrt(1 - a_t) * eps
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("prediction", ["epsilon", "sample"])
def test_second_order_integrates_the_gaussian_probability_flow_ode(prediction: str) -> None:
    # x0 ~ N(mu, s²): with final sigma 0 the output is E[x0 | x_t] at the last timestep, whose spread
    # is sqrt(abar)·s²/sqrt(v); second order gets within 1 %, first order (DDIM) is 6 % short at K = 25
    mu, sd, n = 0.3, 0.2, 20000
    errors = {}
    for order in (1, 2):
        s = dpm(25, solver_order=order, prediction_type=prediction)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(n, generator=g, dtype=torch.float64)
        for t in s.timesteps.tolist():
            a = float(s.alphas_cumprod[t])
            v = a * sd * sd + 1 - a
            out = (
                math.sqrt(1 - a) * (x - math.sqrt(a) * mu) / v
                if prediction == "epsilon"
                else mu + math.sqrt(a) * sd * sd / v * (x - math.sqrt(a) * mu)
            )
            x = s.step(out, t, x)
        a = float(s.alphas_cumprod[s.timesteps[-1]])
        want_std = math.sqrt(a) * sd * sd / math.sqrt(a * sd * sd + 1 - a)
        assert abs(float(x.mean()) - mu) < 0.005
        errors[order] = abs(float(x.std()) - want_std)
    assert errors[2] < 0.005
    assert errors[2] * 3 < errors[1]


def test_multistep_state_steps_in_order_and_resets_with_set_timesteps() -> None:
    s = dpm(10)
    x = torch.tensor([0.5, -0.5])
    eps = torch.tensor([0.1, 0.2])
    first = s.step(eps, 99, x)
    with pytest.raises(RuntimeError, match="step 1 expects timestep 89, got 99"):
        s.step(eps, 99, x)
    s.set_timesteps(10)
    assert torch.equal(s.step(eps, 99, x), first)
    for bad in ({"solver_order": 3}, {"solver_type": "bh2"}, {"final_sigmas_type": "max"}):
        with pytest.raises(NotImplementedError):
            DPMSolverMultistepScheduler(100, **bad)  # type: ignore[arg-type]
    assert DPMSolverMultistepScheduler(100).config()["type"] == "dpmsolver++"


@pytest.mark.parametrize("cls", [DDPMScheduler, DDIMScheduler])
def test_sample_prediction_equals_the_epsilon_form_fed_the_matching_noise(cls: type) -> None:
    common = dict(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2", clip_sample=False)
    e, s = cls(**common), cls(**common, prediction_type="sample")
    e.set_timesteps(10)
    s.set_timesteps(10)
    t = int(e.timesteps[3])
    x = torch.tensor([0.4, -1.2, 0.05])
    x0 = torch.tensor([0.3, -0.6, 0.9])
    a = float(e.alphas_cumprod[t])
    eps = (x - math.sqrt(a) * x0) / math.sqrt(1 - a)
    noise = torch.tensor([0.1, 0.2, -0.3])
    assert torch.allclose(e.step(eps, t, x, noise=noise), s.step(x0, t, x, noise=noise), atol=1e-6)


def test_dynamic_thresholding_clips_or_rescales_each_batch_element() -> None:
    s = dpm(10, thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=2.5)
    x = torch.tensor(
        [[0.5, -3.0, 1.2, 2.5, -0.1, 4.0, 0.0, -1.7], [0.2, -0.3, 0.1, 0.4, -0.5, 0.05, 0.6, -0.7]],
        dtype=torch.float64,
    )
    want = [[0.2, -1.0, 0.48, 1.0, -0.04, 1.0, 0.0, -0.68], [0.2, -0.3, 0.1, 0.4, -0.5, 0.05, 0.6, -0.7]]
    assert torch.allclose(s._threshold_sample(x), torch.tensor(want, dtype=torch.float64))
    clip = dpm(10, thresholding=True)
    y = torch.tensor([[3.0, -0.5, -7.0, 0.25]])
    assert clip._threshold_sample(y).tolist() == [[1.0, -0.5, -1.0, 0.25]]
    # in a (first-order) step at x = 0: x0 = -sigma_s * eps / alpha_s is about -10 000 * eps, clipped
    # to -+1, so the step gives alpha_t * (1 - exp(-h)) * (-+1)
    out = clip.step(torch.tensor([[5.0, -5.0]]), 99, torch.tensor([[0.0, 0.0]]))
    alpha = [1 / math.sqrt(float(clip.sigmas[i]) ** 2 + 1) for i in (0, 1)]
    lam = [math.log(a / (float(clip.sigmas[i]) * a)) for i, a in enumerate(alpha)]
    gain = alpha[1] * (1 - math.exp(-(lam[1] - lam[0])))
    assert torch.allclose(out, torch.tensor([[-gain, gain]]), rtol=1e-5)

"""bac_models' DDPM, DDIM and DPM-Solver++ against reference trajectories of diffusers' schedulers.

The fixture (``test/fixtures/samplers/diffusers-reference.json``) is an independent numpy
re-derivation of diffusers' scheduler source (version and commit recorded in it; produced by
``python/tests/reference/make_diffusers_reference.py``), shared with the TypeScript samplers' test
(``test/unit/samplers-reference.test.ts``). Schedulers are built from the fixture's ``bac.sampler``
description with diffusers' keyword names and stepped through their public ``step``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

import pytest
import torch

from bac_models import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(REPO, "test", "fixtures", "samplers", "diffusers-reference.json"), encoding="utf-8") as f:
    REFERENCE = json.load(f)

CLASSES = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler, "dpmsolver++": DPMSolverMultistepScheduler}


def scheduler_of(config: Dict[str, Any]):
    kwargs = {k: v for k, v in config.items() if k not in ("type", "num_inference_steps")}
    scheduler = CLASSES[config["type"]](**kwargs)
    scheduler.set_timesteps(config["num_inference_steps"])
    return scheduler


def reference_model(x: torch.Tensor, t: int, amplitude: float) -> torch.Tensor:
    """The fixture's model: out[i] = A·tanh(x[i]) + 0.1·cos(0.37·i + 0.01·t) over the flattened sample."""
    i = torch.arange(x.numel(), dtype=torch.float64)
    out = amplitude * torch.tanh(x.double().reshape(-1)) + 0.1 * torch.cos(0.37 * i + 0.01 * t)
    return out.reshape(x.shape).float()


def test_fixture_names_its_source() -> None:
    source = REFERENCE["source"]
    assert source["package"] == "diffusers" and len(source["commit"]) == 40 and source["version"]
    assert len(REFERENCE["cases"]) >= 10


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=[c["name"] for c in REFERENCE["cases"]])
def test_matches_reference_trajectory(case: Dict[str, Any]) -> None:
    scheduler = scheduler_of(case["config"])
    assert scheduler.timesteps.tolist() == case["timesteps"]
    if "sigmas" in case:
        # float32 betas from torch.linspace vs numpy's float64 linspace: a few float32 ulps apart
        want_sigmas = torch.tensor(case["sigmas"], dtype=torch.float64)
        torch.testing.assert_close(scheduler.sigmas.double(), want_sigmas, rtol=1e-5, atol=0)
    batch = case["batch"]
    x = torch.tensor(case["initial"], dtype=torch.float32).reshape(batch, -1, 2)
    for k, t in enumerate(case["timesteps"]):
        noise = case["noise"].get(str(k))
        noise_t = None if noise is None else torch.tensor(noise, dtype=torch.float32).reshape(x.shape)
        x = scheduler.step(reference_model(x, t, case["amplitude"]), t, x, noise=noise_t)
        want = torch.tensor(case["trajectory"][k], dtype=torch.float64)
        # torch steps in float32 against float64 reference arithmetic (observed ≤ 1e-6 of the step's
        # largest value; a swapped midpoint/heun moves it ≥ 2e-5): bounded relative to the
        # step's largest value (DPM-Solver++ divides by α_s ≈ 0.003 at the noisiest step)
        scale = max(1.0, float(want.abs().max()))
        err = float((x.double().reshape(-1) - want).abs().max())
        assert err <= 5e-6 * scale, f"step {k} (t = {t}): max |Δ| = {err:.2e} of scale {scale:.3g}"

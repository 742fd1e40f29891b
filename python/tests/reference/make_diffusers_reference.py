"""Reference trajectories for BAC Studio's samplers, re-derived from diffusers' scheduler source.

diffusers cannot be installed here (PyPI is unreachable), so this is a minimal, independent numpy
re-derivation of the three schedulers as diffusers' source defines them, written from reading
(not copying) these files of huggingface/diffusers (version and commit in ``SOURCE`` below):

* ``scheduling_ddpm.py``  ``DDPMScheduler`` (``variance_type='fixed_small'``, ``clip_sample``,
  ``timestep_spacing='leading'``, ``steps_offset``);
* ``scheduling_ddim.py``  ``DDIMScheduler`` (``eta``, ``set_alpha_to_one``,
  ``use_clipped_model_output=False``);
* ``scheduling_dpmsolver_multistep.py``  ``DPMSolverMultistepScheduler`` with
  ``algorithm_type='dpmsolver++'`` (``solver_order`` 1/2, ``solver_type`` midpoint/heun, spacings
  ``linspace``/``leading``/``trailing``, ``final_sigmas_type``, ``lambda_min_clipped``, dynamic
  ``thresholding``, ``lower_order_final``).

It shares no code with ``bac_models/schedulers.py`` or ``src/engine/samplers.ts``: it is what those
are tested against (``test/unit/samplers-reference.test.ts``, ``python/tests/test_schedulers_reference.py``).
Like diffusers it keeps betas, ᾱ and DPM-Solver's σ as float32; the per-step arithmetic is
float64 (diffusers' is float32), so the tests compare with a tolerance, not bit for bit.

The "model" is a fixed function of the sample and the timestep, so both languages can replay a
run: ``out[i] = A * tanh(x[i]) + 0.1 * cos(0.37 * i + 0.01 * t)`` over the flattened [B, T, Da]
sample (i = 0 … B·T·Da − 1), epsilon or x0 depending on ``prediction_type``.

Run: ``/usr/bin/python3 python/tests/reference/make_diffusers_reference.py``; it rewrites
``test/fixtures/samplers/diffusers-reference.json``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional

import numpy as np

SOURCE = {
    "package": "diffusers",
    "version": "0.40.0.dev0",
    "repository": "https://github.com/huggingface/diffusers",
    "commit": "58eb52c0803ea9af3abec60841c2a093bdf1f951",
    "files": [
        "src/diffusers/schedulers/scheduling_ddpm.py",
        "src/diffusers/schedulers/scheduling_ddim.py",
        "src/diffusers/schedulers/scheduling_dpmsolver_multistep.py",
    ],
}

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
OUT = os.path.join(ROOT, "test", "fixtures", "samplers", "diffusers-reference.json")

F32 = np.float32


def model(x: np.ndarray, t: int, amplitude: float) -> np.ndarray:
    i = np.arange(x.size, dtype=np.float64)
    return amplitude * np.tanh(x) + 0.1 * np.cos(0.37 * i + 0.01 * t)


def betas_of(cfg: Dict[str, Any]) -> np.ndarray:
    n = cfg["num_train_timesteps"]
    kind = cfg["beta_schedule"]
    if kind == "linear":
        return np.linspace(cfg["beta_start"], cfg["beta_end"], n).astype(F32)
    if kind == "scaled_linear":
        return (np.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, n) ** 2).astype(F32)
    if kind == "squaredcos_cap_v2":
        def abar(s: float) -> float:
            return math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2

        return np.array([min(1 - abar((i + 1) / n) / abar(i / n), 0.999) for i in range(n)], dtype=F32)
    raise ValueError(kind)


def alphas_cumprod_of(cfg: Dict[str, Any]) -> np.ndarray:
    # float32 running product, as torch.cumprod on a float32 tensor
    out = np.empty(cfg["num_train_timesteps"], dtype=F32)
    acc = F32(1.0)
    for i, b in enumerate(betas_of(cfg)):
        acc = F32(acc * F32(F32(1.0) - b))
        out[i] = acc
    return out


def leading_timesteps(cfg: Dict[str, Any]) -> List[int]:
    n, k = cfg["num_train_timesteps"], cfg["num_inference_steps"]
    ratio = n // k
    return [int(v) + cfg.get("steps_offset", 0) for v in (np.arange(k) * ratio)[::-1]]


def clip(x0: np.ndarray, cfg: Dict[str, Any]) -> np.ndarray:
    r = cfg.get("clip_sample_range", 1.0)
    return np.clip(x0, -r, r) if cfg["clip_sample"] else x0


def ddpm_step(cfg, ac, out, t, x, noise):
    prev_t = t - cfg["num_train_timesteps"] // cfg["num_inference_steps"]
    a_t = float(ac[t])
    a_prev = float(ac[prev_t]) if prev_t >= 0 else 1.0
    beta_prod_t, beta_prod_prev = 1 - a_t, 1 - a_prev
    cur_alpha = a_t / a_prev
    cur_beta = 1 - cur_alpha
    x0 = out if cfg["prediction_type"] == "sample" else (x - beta_prod_t**0.5 * out) / a_t**0.5
    x0 = clip(x0, cfg)
    prev = (a_prev**0.5 * cur_beta / beta_prod_t) * x0 + (cur_alpha**0.5 * beta_prod_prev / beta_prod_t) * x
    if t > 0:
        variance = max(beta_prod_prev / beta_prod_t * cur_beta, 1e-20)
        prev = prev + variance**0.5 * noise
    return prev


def ddim_step(cfg, ac, out, t, x, noise):
    prev_t = t - cfg["num_train_timesteps"] // cfg["num_inference_steps"]
    final = 1.0 if cfg.get("set_alpha_to_one", True) else float(ac[0])
    a_t = float(ac[t])
    a_prev = float(ac[prev_t]) if prev_t >= 0 else final
    beta_prod_t = 1 - a_t
    if cfg["prediction_type"] == "epsilon":
        x0, eps = (x - beta_prod_t**0.5 * out) / a_t**0.5, out
    else:
        x0, eps = out, (x - a_t**0.5 * out) / beta_prod_t**0.5
    x0 = clip(x0, cfg)
    variance = (1 - a_prev) / beta_prod_t * (1 - a_t / a_prev)
    std = cfg.get("eta", 0.0) * variance**0.5
    prev = a_prev**0.5 * x0 + (1 - a_prev - std**2) ** 0.5 * eps
    if cfg.get("eta", 0.0) > 0:
        prev = prev + std * noise
    return prev


def dpm_timesteps_and_sigmas(cfg: Dict[str, Any], ac: np.ndarray):
    n, k = cfg["num_train_timesteps"], cfg["num_inference_steps"]
    lam = (np.log(np.sqrt(ac)) - np.log(np.sqrt(F32(1) - ac))).astype(F32)
    clipped_idx = int(np.searchsorted(lam[::-1], cfg.get("lambda_min_clipped", -math.inf)))
    last = n - clipped_idx
    spacing = cfg.get("timestep_spacing", "linspace")
    if spacing == "linspace":
        ts = np.linspace(0, last - 1, k + 1).round()[::-1][:-1].astype(np.int64)
    elif spacing == "leading":
        ratio = last // (k + 1)
        ts = (np.arange(0, k + 1) * ratio).round()[::-1][:-1].astype(np.int64) + cfg.get("steps_offset", 0)
    elif spacing == "trailing":
        ts = np.arange(last, 0, -n / k).round().astype(np.int64) - 1
    else:
        raise ValueError(spacing)
    all_sigmas = ((F32(1) - ac) / ac) ** F32(0.5)
    last_sigma = 0.0 if cfg.get("final_sigmas_type", "zero") == "zero" else float(all_sigmas[0])
    sigmas = np.concatenate([all_sigmas[ts], [last_sigma]]).astype(F32)
    return [int(v) for v in ts], sigmas


def threshold(x0: np.ndarray, batch: int, cfg: Dict[str, Any]) -> np.ndarray:
    rows = x0.reshape(batch, -1)
    s = np.quantile(np.abs(rows), cfg.get("dynamic_thresholding_ratio", 0.995), axis=1)
    s = np.clip(s, 1.0, cfg.get("sample_max_value", 1.0))[:, None]
    return (np.clip(rows, -s, s) / s).reshape(x0.shape)


def alpha_sigma(sigma: float):
    alpha = 1.0 / math.sqrt(sigma * sigma + 1.0)
    return alpha, sigma * alpha


def run_dpm(cfg, ac, x, amplitude, batch):
    ts, sigmas = dpm_timesteps_and_sigmas(cfg, ac)
    order = cfg.get("solver_order", 2)
    k_total = len(ts)
    prev_x0: Optional[np.ndarray] = None
    lower_order_nums = 0
    trajectory = []
    for k, t in enumerate(ts):
        out = model(x, t, amplitude)
        a_s, s_s = alpha_sigma(float(sigmas[k]))
        a_t, s_t = alpha_sigma(float(sigmas[k + 1]))
        x0 = out if cfg["prediction_type"] == "sample" else (x - s_s * out) / a_s
        if cfg.get("thresholding", False):
            x0 = threshold(x0, batch, cfg)
        lam_s = math.log(a_s) - math.log(s_s)
        lam_t = math.log(a_t) - math.log(s_t) if s_t > 0 else math.inf
        h = lam_t - lam_s
        em1 = math.exp(-h) - 1.0
        final = k == k_total - 1 and (
            cfg.get("euler_at_final", False)
            or (cfg.get("lower_order_final", True) and k_total < 15)
            or cfg.get("final_sigmas_type", "zero") == "zero"
        )
        if order == 1 or lower_order_nums < 1 or final:
            ratio = s_t / s_s
            x = ratio * x - a_t * em1 * x0
        else:
            a_1, s_1 = alpha_sigma(float(sigmas[k - 1]))
            r0 = (lam_s - (math.log(a_1) - math.log(s_1))) / h
            d1 = (x0 - prev_x0) / r0
            x = (s_t / s_s) * x - a_t * em1 * x0
            if cfg.get("solver_type", "midpoint") == "midpoint":
                x = x - 0.5 * a_t * em1 * d1
            else:
                x = x + a_t * (em1 / h + 1.0) * d1
        prev_x0 = x0
        lower_order_nums = min(lower_order_nums + 1, order)
        trajectory.append(x.copy())
    return ts, sigmas, trajectory


def make_case(name: str, cfg: Dict[str, Any], amplitude: float, seed: int, batch: int = 2, length: int = 8):
    rng = np.random.RandomState(seed)
    n = batch * length
    x = rng.standard_normal(n).astype(F32).astype(np.float64)
    initial = x.copy()
    ac = alphas_cumprod_of(cfg)
    case: Dict[str, Any] = {"name": name, "config": cfg, "batch": batch, "amplitude": amplitude}
    if cfg["type"] == "dpmsolver++":
        ts, sigmas, trajectory = run_dpm(cfg, ac, x, amplitude, batch)
        case["sigmas"] = [float(v) for v in sigmas]
        noise: Dict[str, List[float]] = {}
    else:
        ts = leading_timesteps(cfg)
        step = ddpm_step if cfg["type"] == "ddpm" else ddim_step
        uses_noise = (lambda t: t > 0) if cfg["type"] == "ddpm" else (lambda t: cfg.get("eta", 0.0) > 0)
        noise = {}
        trajectory = []
        for k, t in enumerate(ts):
            nz = None
            if uses_noise(t):
                nz = rng.standard_normal(n).astype(F32).astype(np.float64)
                noise[str(k)] = [float(v) for v in nz]
            x = step(cfg, ac, model(x, t, amplitude), t, x, nz)
            trajectory.append(x.copy())
    case.update(
        timesteps=ts,
        initial=[float(v) for v in initial],
        noise=noise,
        trajectory=[[round(float(v), 9) for v in row] for row in trajectory],
    )
    return case


def base(type_: str, **kw: Any) -> Dict[str, Any]:
    cfg = {
        "type": type_,
        "num_train_timesteps": 100,
        "beta_schedule": "squaredcos_cap_v2",
        "beta_start": 0.0001,
        "beta_end": 0.02,
        "prediction_type": "epsilon",
        "clip_sample": False,
        "num_inference_steps": 10,
    }
    cfg.update(kw)
    return cfg


CASES = [
    ("ddpm linear, epsilon, clip_sample, K=10 of 100", base("ddpm", beta_schedule="linear", clip_sample=True), 1.0),
    ("ddpm squaredcos, sample prediction, steps_offset 1, K=20", base("ddpm", num_inference_steps=20, steps_offset=1, prediction_type="sample"), 1.3),
    ("ddim squaredcos, epsilon, clip_sample, eta 0, K=10", base("ddim", clip_sample=True), 1.0),
    ("ddim linear 1000, sample prediction, eta 0.5, set_alpha_to_one false, K=20",
     base("ddim", num_train_timesteps=1000, beta_schedule="linear", prediction_type="sample", eta=0.5, set_alpha_to_one=False, num_inference_steps=20), 1.3),
    ("dpmsolver++ order 2 midpoint, linspace, epsilon, K=10", base("dpmsolver++", solver_order=2, solver_type="midpoint", timestep_spacing="linspace"), 1.0),
    ("dpmsolver++ order 2 midpoint, linspace, epsilon, thresholding, K=10",
     base("dpmsolver++", thresholding=True, dynamic_thresholding_ratio=0.9, sample_max_value=1.5), 1.0),
    ("dpmsolver++ order 2 heun, leading + steps_offset 1, sample prediction, thresholding, K=8",
     base("dpmsolver++", solver_type="heun", timestep_spacing="leading", steps_offset=1, num_inference_steps=8, prediction_type="sample",
          thresholding=True, dynamic_thresholding_ratio=0.8, sample_max_value=1.2), 1.6),
    ("dpmsolver++ order 2 midpoint, trailing, linear 1000, final sigma_min, K=20",
     base("dpmsolver++", num_train_timesteps=1000, beta_schedule="linear", timestep_spacing="trailing", final_sigmas_type="sigma_min", num_inference_steps=20), 1.0),
    ("dpmsolver++ order 1, linspace, scaled_linear 1000, sample prediction, K=5",
     base("dpmsolver++", num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, solver_order=1, prediction_type="sample", num_inference_steps=5), 1.0),
    ("dpmsolver++ order 2 midpoint, lambda_min_clipped -5.1, squaredcos 1000, K=10",
     base("dpmsolver++", num_train_timesteps=1000, lambda_min_clipped=-5.1), 1.0),
]


def main() -> None:
    cases = [make_case(name, cfg, amp, seed=100 + i) for i, (name, cfg, amp) in enumerate(CASES)]
    doc = {
        "about": (
            "Reference sampler trajectories for BAC Studio's DDPM, DDIM and DPM-Solver++ (TypeScript and Python). "
            "Produced by python/tests/reference/make_diffusers_reference.py, an independent numpy re-derivation "
            "of diffusers' schedulers written from their public source (version and commit in `source`); "
            "diffusers itself did not run (not installable offline). Betas, alphas_cumprod and sigmas are "
            "float32 as in diffusers; the step arithmetic is float64."
        ),
        "source": SOURCE,
        "model": "out[i] = amplitude * tanh(x[i]) + 0.1 * cos(0.37 * i + 0.01 * t), i over the flattened sample",
        "trajectory": "trajectory[k] is the sample after step k (timesteps[k]); noise[k] the standard normal noise of step k",
        "cases": cases,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()

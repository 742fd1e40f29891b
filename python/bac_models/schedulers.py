"""DDPM, DDIM and DPM-Solver++ noise schedulers with HuggingFace diffusers semantics (our own code).

Only what diffusion policies use: ``prediction_type`` ``'epsilon'`` or ``'sample'``, DDPM
``variance_type='fixed_small'``, DDIM with ``eta`` (0 by default), ``clip_sample`` to [-1, 1],
``timestep_spacing='leading'`` (``timesteps = arange(K) * (N // K)`` reversed, plus ``steps_offset``),
and beta schedules ``linear``, ``scaled_linear`` and ``squaredcos_cap_v2``. DPM-Solver++ is diffusers'
``DPMSolverMultistepScheduler`` with ``algorithm_type='dpmsolver++'`` (orders 1 and 2, midpoint or
heun, ``linspace`` / ``leading`` / ``trailing`` spacing, final sigma zero or sigma_min, dynamic
thresholding; no Karras sigmas), as RDT-style policies sample.

Differences from diffusers, on purpose:

* ``step(..., noise=...)`` takes the per-step Gaussian noise explicitly (instead of a generator),
  so that a sampling trajectory can be replayed exactly by another implementation (BAC Studio's
  TypeScript sampler) from stored noises.
* ``step`` returns the previous sample tensor directly (no output dataclass).

Numerics follow diffusers: betas are made in float64 (squaredcos) or float32 (linear) and stored as
float32; ``alphas_cumprod`` is the float32 cumulative product; the per-step arithmetic is float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np
import torch

#: Gives a step's Gaussian noise, shaped like the sample; a step calls it only when it uses noise.
NoiseDraw = Callable[[], torch.Tensor]


def betas_for_alpha_bar(num_diffusion_timesteps: int, max_beta: float = 0.999) -> torch.Tensor:
    """Cosine schedule (Nichol & Dhariwal 2021), diffusers' ``squaredcos_cap_v2``.

    ``alpha_bar(t) = cos(((t + 0.008) / 1.008) * pi / 2) ** 2`` and
    ``beta_i = min(1 - alpha_bar((i + 1) / N) / alpha_bar(i / N), max_beta)``, computed in float64
    Python floats and returned as float32.
    """

    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = []
    for i in range(num_diffusion_timesteps):
        t1 = i / num_diffusion_timesteps
        t2 = (i + 1) / num_diffusion_timesteps
        betas.append(min(1 - alpha_bar(t2) / alpha_bar(t1), max_beta))
    return torch.tensor(betas, dtype=torch.float32)


def make_betas(num_train_timesteps: int, beta_start: float, beta_end: float, beta_schedule: str) -> torch.Tensor:
    """Betas as diffusers builds them for the named schedule (float32, length N)."""
    if beta_schedule == "linear":
        return torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)
    if beta_schedule == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float32) ** 2
    if beta_schedule == "squaredcos_cap_v2":
        # beta_start / beta_end are ignored by this schedule (as in diffusers)
        return betas_for_alpha_bar(num_train_timesteps)
    raise NotImplementedError(f"beta_schedule {beta_schedule!r} is not supported")


# Each scheduler is a dataclass (``eq=False``: compared by identity, as stateful objects are): its
# fields are diffusers' constructor options with diffusers' defaults, declared once, and
# ``__post_init__`` checks them and derives the noise schedule from them.


@dataclass(eq=False)
class _SchedulerBase:
    """Shared options and state: betas, alphas_cumprod, timesteps (leading spacing)."""

    num_train_timesteps: int = 1000
    beta_start: float = 0.0001
    beta_end: float = 0.02
    beta_schedule: str = "linear"
    clip_sample: bool = True
    clip_sample_range: float = 1.0
    prediction_type: str = "epsilon"
    steps_offset: int = 0

    def __post_init__(self) -> None:
        if self.prediction_type not in ("epsilon", "sample"):
            raise NotImplementedError("only prediction_type 'epsilon' and 'sample' are supported")
        self.betas = make_betas(self.num_train_timesteps, self.beta_start, self.beta_end, self.beta_schedule)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.one = torch.tensor(1.0)
        self.num_inference_steps: Optional[int] = None
        # before set_timesteps: every training timestep, descending
        self.timesteps = torch.arange(self.num_train_timesteps - 1, -1, -1, dtype=torch.long)

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Choose K = ``num_inference_steps`` timesteps: ``(arange(K) * (N // K))[::-1] + steps_offset``.

        Step k of a sampler run (k = 0 noisiest) uses ``timesteps[k]``; with K = N this is N-1-k.
        """
        if not 1 <= num_inference_steps <= self.num_train_timesteps:
            raise ValueError(
                f"num_inference_steps must be in 1..{self.num_train_timesteps}, got {num_inference_steps}"
            )
        self.num_inference_steps = num_inference_steps
        step_ratio = self.num_train_timesteps // num_inference_steps
        ts = torch.arange(0, num_inference_steps, dtype=torch.long) * step_ratio
        self.timesteps = ts.flip(0) + self.steps_offset

    def _prev_timestep(self, t: int) -> int:
        k = self.num_inference_steps if self.num_inference_steps else self.num_train_timesteps
        return t - self.num_train_timesteps // k

    def add_noise(self, original: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """Forward process q(x_t | x_0): ``sqrt(abar_t) * x0 + sqrt(1 - abar_t) * noise``.

        ``timesteps`` is [B] (or scalar); coefficients broadcast over the trailing dims.
        """
        ac = self.alphas_cumprod.to(device=original.device, dtype=original.dtype)
        timesteps = torch.as_tensor(timesteps, device=original.device).long().reshape(-1)
        sqrt_a = ac[timesteps] ** 0.5
        sqrt_1ma = (1 - ac[timesteps]) ** 0.5
        while sqrt_a.dim() < original.dim():
            sqrt_a = sqrt_a.unsqueeze(-1)
            sqrt_1ma = sqrt_1ma.unsqueeze(-1)
        return sqrt_a * original + sqrt_1ma * noise

    def _step_alphas(self, timestep: int, final_abar: torch.Tensor) -> Tuple[int, torch.Tensor, torch.Tensor]:
        """``(t, abar_t, abar_prev)`` of the step from ``timestep``; ``final_abar`` after the last step."""
        t = int(timestep)
        prev_t = self._prev_timestep(t)
        abar_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else final_abar
        return t, self.alphas_cumprod[t], abar_prev

    def _predicted_x0(self, model_output: torch.Tensor, sample: torch.Tensor, abar_t: torch.Tensor) -> torch.Tensor:
        """The unclipped x0: the output itself, or ``(x_t - sqrt(1 - abar_t) * eps) / sqrt(abar_t)``."""
        if self.prediction_type == "sample":
            return model_output
        return (sample - (1 - abar_t) ** 0.5 * model_output) / abar_t**0.5

    @staticmethod
    def _step_noise(
        noise: Optional[torch.Tensor], model_output: torch.Tensor, generator: Optional[torch.Generator]
    ) -> torch.Tensor:
        """``noise``, or a Gaussian draw shaped like the output (optionally from ``generator``)."""
        if noise is not None:
            return noise
        return torch.randn(
            model_output.shape, generator=generator, dtype=model_output.dtype, device=model_output.device
        )

    def step(
        self,
        model_output: torch.Tensor,
        timestep: int,
        sample: torch.Tensor,
        noise: Optional[torch.Tensor] = None,
        generator: Optional[torch.Generator] = None,
    ) -> torch.Tensor:
        """Return the sample after the step from ``timestep`` (x_{prev_t}).

        ``noise`` (same shape as ``sample``) is the Gaussian noise of a step that draws some (DDPM at
        ``t > 0``, DDIM with ``eta > 0``; DPM-Solver++ never does); when it is None, it is drawn with
        ``torch.randn`` (optionally from ``generator``), and only if the step uses it.
        """
        return self._step(model_output, timestep, sample, lambda: self._step_noise(noise, model_output, generator))

    def _step(self, model_output: torch.Tensor, timestep: int, sample: torch.Tensor, draw: NoiseDraw) -> torch.Tensor:
        """The sampler's update; ``draw()`` gives the step's noise (call it only when the step uses noise)."""
        raise NotImplementedError

    def _require_timesteps(self) -> None:
        if self.num_inference_steps is None:
            raise RuntimeError("call set_timesteps before step")

    def _clip(self, x0: torch.Tensor) -> torch.Tensor:
        if self.clip_sample:
            return x0.clamp(-self.clip_sample_range, self.clip_sample_range)
        return x0

    def config(self, type_name: str) -> dict:
        """The sampler description used in ``bac.sampler`` metadata (diffusers' meaning)."""
        return {
            "type": type_name,
            "num_train_timesteps": self.num_train_timesteps,
            "beta_schedule": self.beta_schedule,
            "beta_start": self.beta_start,
            "beta_end": self.beta_end,
            "prediction_type": self.prediction_type,
            "clip_sample": self.clip_sample,
            "num_inference_steps": self.num_inference_steps or self.num_train_timesteps,
        }


class DDPMScheduler(_SchedulerBase):
    """DDPM ancestral sampler, ``variance_type='fixed_small'``.

    One step from timestep ``t`` to ``prev_t = t - N // K``:

    * ``x0 = (x_t - sqrt(1 - abar_t) * eps) / sqrt(abar_t)``, clipped to [-r, r] if ``clip_sample``;
    * ``abar_prev = abar[prev_t]`` (1 when ``prev_t < 0``), ``alpha_t = abar_t / abar_prev``,
      ``beta_t = 1 - alpha_t``;
    * mean ``= sqrt(abar_prev) * beta_t / (1 - abar_t) * x0 + sqrt(alpha_t) * (1 - abar_prev) / (1 - abar_t) * x_t``;
    * if ``t > 0``: ``+ sqrt(max((1 - abar_prev) / (1 - abar_t) * beta_t, 1e-20)) * noise``.
    """

    variance_type = "fixed_small"

    def _step(self, model_output: torch.Tensor, timestep: int, sample: torch.Tensor, draw: NoiseDraw) -> torch.Tensor:
        t, abar_t, abar_prev = self._step_alphas(timestep, self.one)
        beta_prod_t = 1 - abar_t
        beta_prod_prev = 1 - abar_prev
        cur_alpha = abar_t / abar_prev
        cur_beta = 1 - cur_alpha
        x0 = self._clip(self._predicted_x0(model_output, sample, abar_t))

        x0_coeff = (abar_prev**0.5 * cur_beta) / beta_prod_t
        xt_coeff = cur_alpha**0.5 * beta_prod_prev / beta_prod_t
        prev = x0_coeff * x0 + xt_coeff * sample

        if t > 0:
            variance = torch.clamp(beta_prod_prev / beta_prod_t * cur_beta, min=1e-20)
            prev = prev + variance**0.5 * draw()
        return prev


@dataclass(eq=False)
class DDIMScheduler(_SchedulerBase):
    """DDIM sampler (Song et al. 2021) with diffusers semantics; ``eta = 0`` is deterministic.

    ``set_alpha_to_one=True`` makes the final step's ``abar_prev`` equal 1 (else ``abar[0]``).
    One step: ``x0`` as in DDPM (clipped), ``eps`` = model output (not recomputed from the clipped x0,
    diffusers' default ``use_clipped_model_output=False``),
    ``sigma = eta * sqrt((1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev))``,
    ``x_prev = sqrt(abar_prev) * x0 + sqrt(1 - abar_prev - sigma^2) * eps (+ sigma * noise if eta > 0)``.
    """

    set_alpha_to_one: bool = True
    eta: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.final_alpha_cumprod = self.one if self.set_alpha_to_one else self.alphas_cumprod[0]

    def _step(self, model_output: torch.Tensor, timestep: int, sample: torch.Tensor, draw: NoiseDraw) -> torch.Tensor:
        self._require_timesteps()
        _, abar_t, abar_prev = self._step_alphas(timestep, self.final_alpha_cumprod)
        x0 = self._predicted_x0(model_output, sample, abar_t)
        # eps from the unclipped x0 (diffusers' use_clipped_model_output=False)
        eps = model_output if self.prediction_type == "epsilon" else (sample - abar_t**0.5 * x0) / (1 - abar_t) ** 0.5
        x0 = self._clip(x0)

        variance = (1 - abar_prev) / (1 - abar_t) * (1 - abar_t / abar_prev)
        std = self.eta * variance**0.5
        direction = (1 - abar_prev - std**2) ** 0.5 * eps
        prev = abar_prev**0.5 * x0 + direction
        if self.eta > 0:
            prev = prev + std * draw()
        return prev

    def config(self, type_name: str = "ddim") -> dict:  # noqa: D401 - same as base
        """Sampler description; DDIM adds ``eta`` and ``set_alpha_to_one``."""
        c = super().config(type_name)
        c["eta"] = self.eta
        c["set_alpha_to_one"] = self.set_alpha_to_one
        return c


@dataclass(eq=False)
class DPMSolverMultistepScheduler(_SchedulerBase):
    """DPM-Solver++ (Lu et al. 2022), diffusers' ``DPMSolverMultistepScheduler`` with
    ``algorithm_type='dpmsolver++'``: a multistep solver of the diffusion ODE on
    ``sigma = sqrt((1 - abar) / abar)``.

    ``set_timesteps(K)`` picks the timesteps (``linspace`` by default:
    ``round(linspace(0, L - 1, K + 1))`` reversed without its last element, with L = N unless
    ``lambda_min_clipped`` removes the noisiest timesteps) and the K + 1 sigmas (the last is 0 for
    ``final_sigmas_type='zero'``). ``step`` is stateful like diffusers': it must see the K timesteps
    in order, once per sampler run (``set_timesteps`` resets it). Step k, with alpha_t =
    1/sqrt(sigma^2 + 1), sigma_t = sigma * alpha_t and lambda = log(alpha_t) - log(sigma_t):

    * data prediction ``m_k = (x - sigma_s * eps) / alpha_s`` (or the output for ``sample``);
    * first order (k = 0, order 1, or the last step when ``final_sigmas_type='zero'``,
      ``euler_at_final``, or ``lower_order_final`` with K < 15):
      ``x = (sigma_t / sigma_s) * x - alpha_t * (exp(-h) - 1) * m_k``;
    * else second order with ``r = h_prev / h``, ``D0 = m_k``, ``D1 = (m_k - m_{k-1}) / r``: midpoint
      ``... - 0.5 * alpha_t * (exp(-h) - 1) * D1``, heun ``... + alpha_t * ((exp(-h) - 1) / h + 1) * D1``.

    ``clip_sample`` is accepted and ignored, as diffusers' DPM-Solver has no such option.
    """

    solver_order: int = 2
    solver_type: str = "midpoint"
    lower_order_final: bool = True
    euler_at_final: bool = False
    final_sigmas_type: str = "zero"
    timestep_spacing: str = "linspace"
    lambda_min_clipped: float = -float("inf")
    thresholding: bool = False
    dynamic_thresholding_ratio: float = 0.995
    sample_max_value: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.solver_order not in (1, 2):
            raise NotImplementedError("solver_order must be 1 or 2")
        if self.solver_type not in ("midpoint", "heun"):
            raise NotImplementedError("solver_type must be 'midpoint' or 'heun'")
        if self.final_sigmas_type not in ("zero", "sigma_min"):
            raise NotImplementedError("final_sigmas_type must be 'zero' or 'sigma_min'")
        if self.timestep_spacing not in ("linspace", "leading", "trailing"):
            raise NotImplementedError("timestep_spacing must be 'linspace', 'leading' or 'trailing'")
        self.lambda_t = torch.log(self.alphas_cumprod.sqrt()) - torch.log((1 - self.alphas_cumprod).sqrt())
        self.sigmas = ((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5
        self._reset()

    def _reset(self) -> None:
        self._step_index = 0
        self._prev_x0: Optional[torch.Tensor] = None
        self._lower_order_nums = 0

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Choose the K timesteps and K + 1 sigmas; resets the multistep state."""
        n = self.num_train_timesteps
        if not 1 <= num_inference_steps <= n:
            raise ValueError(f"num_inference_steps must be in 1..{n}, got {num_inference_steps}")
        k = num_inference_steps
        clipped = int(torch.searchsorted(torch.flip(self.lambda_t, [0]), self.lambda_min_clipped).item())
        last = n - clipped
        if self.timestep_spacing == "linspace":
            ts = np.linspace(0, last - 1, k + 1).round()[::-1][:-1].astype(np.int64)
        elif self.timestep_spacing == "leading":
            ratio = last // (k + 1)
            ts = (np.arange(0, k + 1) * ratio).round()[::-1][:-1].astype(np.int64) + self.steps_offset
        else:
            ts = np.arange(last, 0, -n / k).round().astype(np.int64) - 1
        all_sigmas = np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)
        sig = np.interp(ts, np.arange(0, len(all_sigmas)), all_sigmas)
        if self.final_sigmas_type == "sigma_min":
            last_sigma = float((((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5).item())
        else:
            last_sigma = 0.0
        self.sigmas = torch.from_numpy(np.concatenate([sig, [last_sigma]]).astype(np.float32))
        self.timesteps = torch.from_numpy(ts.copy())
        self.num_inference_steps = len(ts)
        self._reset()

    def _threshold_sample(self, x0: torch.Tensor) -> torch.Tensor:
        """Dynamic thresholding per batch element (dim 0), as diffusers' ``_threshold_sample``:
        ``s = clamp(quantile(|x0|, ratio), 1, sample_max_value)``, ``x0 = clamp(x0, -s, s) / s``."""
        flat = x0.reshape(x0.shape[0], -1)
        s = torch.quantile(flat.abs(), self.dynamic_thresholding_ratio, dim=1)
        s = torch.clamp(s, min=1, max=self.sample_max_value).unsqueeze(1)
        return (torch.clamp(flat, -s, s) / s).reshape(x0.shape)

    @staticmethod
    def _alpha_sigma(sigma: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        alpha_t = 1 / ((sigma**2 + 1) ** 0.5)
        return alpha_t, sigma * alpha_t

    def _step(self, model_output: torch.Tensor, timestep: int, sample: torch.Tensor, draw: NoiseDraw) -> torch.Tensor:
        """Step k of the multistep solver; deterministic, it never calls ``draw``."""
        self._require_timesteps()
        k = self._step_index
        K = len(self.timesteps)
        if k >= K or int(self.timesteps[k]) != int(timestep):
            raise RuntimeError(
                f"dpmsolver++ step {k} expects timestep {int(self.timesteps[k]) if k < K else None}, got {timestep}; "
                "call set_timesteps before each sampler run and step through the timesteps in order"
            )
        alpha_s, sigma_s = self._alpha_sigma(self.sigmas[k])
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[k + 1])
        lambda_s = torch.log(alpha_s) - torch.log(sigma_s)
        lambda_t = torch.log(alpha_t) - torch.log(sigma_t)
        h = lambda_t - lambda_s
        x0 = model_output if self.prediction_type == "sample" else (sample - sigma_s * model_output) / alpha_s
        if self.thresholding:
            x0 = self._threshold_sample(x0)
        lower_order_final = k == K - 1 and (
            self.euler_at_final or (self.lower_order_final and K < 15) or self.final_sigmas_type == "zero"
        )
        if self.solver_order == 1 or self._lower_order_nums < 1 or lower_order_final:
            prev = (sigma_t / sigma_s) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * x0
        else:
            alpha_s1, sigma_s1 = self._alpha_sigma(self.sigmas[k - 1])
            lambda_s1 = torch.log(alpha_s1) - torch.log(sigma_s1)
            r0 = (lambda_s - lambda_s1) / h
            d0, d1 = x0, (1.0 / r0) * (x0 - self._prev_x0)
            prev = (sigma_t / sigma_s) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * d0
            if self.solver_type == "midpoint":
                prev = prev - 0.5 * (alpha_t * (torch.exp(-h) - 1.0)) * d1
            else:
                prev = prev + (alpha_t * ((torch.exp(-h) - 1.0) / h + 1.0)) * d1
        self._prev_x0 = x0
        self._lower_order_nums = min(self._lower_order_nums + 1, self.solver_order)
        self._step_index = k + 1
        return prev

    def config(self, type_name: str = "dpmsolver++") -> dict:  # noqa: D401 - same as base
        """Sampler description; adds the DPM-Solver++ options (diffusers' names)."""
        c = super().config(type_name)
        c.update(
            solver_order=self.solver_order,
            solver_type=self.solver_type,
            lower_order_final=self.lower_order_final,
            euler_at_final=self.euler_at_final,
            final_sigmas_type=self.final_sigmas_type,
            timestep_spacing=self.timestep_spacing,
            thresholding=self.thresholding,
            dynamic_thresholding_ratio=self.dynamic_thresholding_ratio,
            sample_max_value=self.sample_max_value,
        )
        if self.lambda_min_clipped != -float("inf"):
            c["lambda_min_clipped"] = self.lambda_min_clipped
        return c

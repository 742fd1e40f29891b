"""BAC Studio's reference PyTorch models: a DP-T replica and diffusers-semantics schedulers (DDPM, DDIM, DPM-Solver++)."""

from .schedulers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, betas_for_alpha_bar, make_betas
from .transformer_for_diffusion import SinusoidalPosEmb, TransformerForDiffusion

__all__ = [
    "TransformerForDiffusion",
    "SinusoidalPosEmb",
    "DDPMScheduler",
    "DDIMScheduler",
    "DPMSolverMultistepScheduler",
    "betas_for_alpha_bar",
    "make_betas",
]

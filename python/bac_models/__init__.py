"""BAC Studio's reference PyTorch models: a DP-T replica and diffusers-semantics schedulers."""

from .schedulers import DDIMScheduler, DDPMScheduler, betas_for_alpha_bar, make_betas
from .transformer_for_diffusion import SinusoidalPosEmb, TransformerForDiffusion

__all__ = [
    "TransformerForDiffusion",
    "SinusoidalPosEmb",
    "DDPMScheduler",
    "DDIMScheduler",
    "betas_for_alpha_bar",
    "make_betas",
]

"""The demo policy's shape: DP-T's shipped low-dim config (8 layers -> 24 blocks, causal, MLP cond
encoder) and its 100-step ``squaredcos_cap_v2`` DDPM, shared by training, the test vectors and the
runtime benchmark. Importing it loads nothing heavy (no torch, no episode readers)."""

from __future__ import annotations

from typing import Any, Dict

HORIZON, N_OBS_STEPS, N_ACTION_STEPS = 10, 2, 8

#: Sampler of the demo policy, in diffusers' meaning (``bac.sampler``).
SAMPLER: Dict[str, Any] = {
    "type": "ddpm",
    "num_train_timesteps": 100,
    "beta_schedule": "squaredcos_cap_v2",
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "prediction_type": "epsilon",
    "clip_sample": True,
    "num_inference_steps": 100,
}


def model_config(n_emb: int, obs_dim: int, action_dim: int, p_drop_attn: float) -> Dict[str, Any]:
    """TransformerForDiffusion kwargs of the demo policy (DP-T's shipped config except n_emb /
    p_drop_attn, which are arguments)."""
    return dict(
        input_dim=action_dim,
        output_dim=action_dim,
        horizon=HORIZON,
        n_obs_steps=N_OBS_STEPS,
        cond_dim=obs_dim,
        n_layer=8,
        n_head=4,
        n_emb=n_emb,
        p_drop_emb=0.0,
        p_drop_attn=p_drop_attn,
        causal_attn=True,
        time_as_cond=True,
        obs_as_cond=True,
        n_cond_layers=0,
    )

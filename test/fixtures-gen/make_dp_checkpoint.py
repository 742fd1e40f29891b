#!/usr/bin/python3
"""Writes test/fixtures/checkpoints/tiny-dp-lowdim.ckpt: a diffusion_policy workspace checkpoint in
its exact layout (python/tests/dp_layout.py) of a seeded, untrained lowdim DP-T (2 decoder layers,
n_emb 16, one transformer condition layer) whose observation keys match the demo episodes, with a
short sampler (DDPM, K = 20 of 100 train steps). The VS Code integration test exports it with
"BAC: Export Policy from Checkpoint…" and profiles the result.

    PYTHONPATH=python:python/tests /usr/bin/python3 test/fixtures-gen/make_dp_checkpoint.py

(dp_layout, the layout builder, lives with the Python tests.)
"""
import os

import torch

from bac_models import TransformerForDiffusion
from dp_layout import lowdim_cfg, policy_state_dict, save_workspace_checkpoint

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

OBS_KEYS = ["robot_pos", "waypoint_rel", "goal_rel", "obstacle_rel", "stage"]  # 2+2+2+4+1 = 11


def main() -> None:
    size = dict(n_layer=2, n_head=2, n_emb=16, n_cond_layers=1, p_drop_attn=0.0)
    cfg = lowdim_cfg(obs_dim=11, action_dim=2, horizon=10, n_obs_steps=2, n_action_steps=8, obs_keys=OBS_KEYS,
                     num_inference_steps=20, **size)
    torch.manual_seed(7)
    model = TransformerForDiffusion(input_dim=2, output_dim=2, horizon=10, n_obs_steps=2, cond_dim=11, p_drop_emb=0.0,
                                    causal_attn=True, time_as_cond=True, obs_as_cond=True, **size)
    norm = {"obs": {"scale": [0.5] * 11, "offset": [0.0] * 11}, "action": {"scale": [2.0, 2.0], "offset": [0.0, 0.0]}}
    state = policy_state_dict(model, norm)
    out = os.path.join(ROOT, "test", "fixtures", "checkpoints", "tiny-dp-lowdim.ckpt")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    save_workspace_checkpoint(out, cfg, model_state=state, ema_state=state)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()

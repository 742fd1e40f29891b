#!/usr/bin/python3
"""Writes test/fixtures/engine/small-dpt.onnx (and small-dpt-cond12.onnx, the same with a cond width
the demo episodes do not have): a seeded, untrained DP-T-shaped model (2 decoder
layers, n_emb 32) whose observation keys match the demo episodes, with a short sampler (DDPM,
K = 20 of 100 train steps) so engine tests profile and run it in seconds.

    PYTHONPATH=python /usr/bin/python3 test/fixtures-gen/make_engine_model.py

(or without PYTHONPATH after `pip install -e python/`, see python/pyproject.toml).
"""
import os

import torch

from bac_export import export_bac_onnx
from bac_models import TransformerForDiffusion

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OBS_KEYS = ["robot_pos", "waypoint_rel", "goal_rel", "obstacle_rel", "stage"]  # 2+2+2+4+1 = 11


def main() -> None:
    torch.manual_seed(7)
    model = TransformerForDiffusion(
        input_dim=2, output_dim=2, horizon=10, n_obs_steps=2, cond_dim=11,
        n_layer=2, n_head=2, n_emb=32, p_drop_emb=0.0, p_drop_attn=0.0,
        causal_attn=True, time_as_cond=True, obs_as_cond=True, n_cond_layers=0,
    )
    meta = {
        "sampler": {"type": "ddpm", "num_train_timesteps": 100, "beta_schedule": "squaredcos_cap_v2",
                    "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": "epsilon",
                    "clip_sample": True, "num_inference_steps": 20},
        "obs_keys": OBS_KEYS, "horizon": 10, "n_obs_steps": 2, "n_action_steps": 8,
        "normalizer": {"obs": {"scale": [0.5] * 11, "offset": [0.0] * 11},
                       "action": {"scale": [2.0, 2.0], "offset": [0.0, 0.0]}},
    }
    out = os.path.join(ROOT, "test", "fixtures", "engine", "small-dpt.onnx")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    export_bac_onnx(model, out, meta)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")

    # The same keys but a 12-wide cond: the episodes' 11 dims must be refused with a clear message.
    torch.manual_seed(7)
    wide = TransformerForDiffusion(
        input_dim=2, output_dim=2, horizon=10, n_obs_steps=2, cond_dim=12,
        n_layer=2, n_head=2, n_emb=32, p_drop_emb=0.0, p_drop_attn=0.0,
        causal_attn=True, time_as_cond=True, obs_as_cond=True, n_cond_layers=0,
    )
    wide_meta = dict(meta, normalizer={"obs": {"scale": [0.5] * 12, "offset": [0.0] * 12},
                                       "action": meta["normalizer"]["action"]})
    out = os.path.join(ROOT, "test", "fixtures", "engine", "small-dpt-cond12.onnx")
    export_bac_onnx(wide, out, wide_meta)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()

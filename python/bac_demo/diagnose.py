#!/usr/bin/python3
"""Diagnostics of a demo checkpoint that explain its closed-loop behaviour (PyTorch, no simulator).

* Denoising loss per diffusion timestep on 512 fixed training windows: where the model still fails.
* Start-of-episode headings: for every held-out episode start (observation window = the first
  observation twice, as at reset), sample ``--samples`` action chunks with DDPM and measure the angle
  between the chunk's displacement (actions 1..8, the executed ones) and the straight line to the
  waypoint. The expert passes the first obstacle on the left or right (angles of about ±20-45 deg);
  a model that has not resolved the two modes samples a blurred, unimodal spread around 0 deg, i.e.
  straight into the obstacle.

Writes a JSON summary (``--out``) and prints it. Usage::

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 -m bac_demo.diagnose fixtures/demo/policy_ema.pt \\
        --episodes fixtures/demo/episodes --out fixtures/demo/results/diagnostics.json
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch

from bac_demo.data import Normalizer, load_zarr, make_windows
from bac_models import DDPMScheduler, TransformerForDiffusion


def signed_angle_deg(v: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Signed angle from ``ref`` to ``v`` in degrees (rows of 2-D vectors)."""
    cross = ref[..., 0] * v[..., 1] - ref[..., 1] * v[..., 0]
    return np.degrees(np.arctan2(cross, (ref * v).sum(-1)))


def main(argv=None) -> None:
    """CLI entry point (see module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--episodes", required=True, help="folder with train.zarr and heldout.zarr")
    ap.add_argument("--samples", type=int, default=4, help="chunks sampled per held-out start")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    ck = torch.load(args.checkpoint, map_location="cpu")
    model = TransformerForDiffusion(**ck["model_config"])
    model.load_state_dict(ck["ema_state_dict"])
    model.eval()
    meta = ck["bac_meta"]
    norm = Normalizer.from_meta(meta["normalizer"])
    To, T, Ta = meta["n_obs_steps"], meta["horizon"], meta["n_action_steps"]
    sched = DDPMScheduler(
        num_train_timesteps=meta["sampler"]["num_train_timesteps"],
        beta_schedule=meta["sampler"]["beta_schedule"],
        clip_sample=meta["sampler"]["clip_sample"],
    )
    g = torch.Generator().manual_seed(args.seed)

    train = load_zarr(os.path.join(args.episodes, "train.zarr"))
    w = make_windows(train, T, To, Ta)
    idx = np.random.default_rng(args.seed).choice(len(w["cond"]), 512, replace=False)
    a = torch.from_numpy(w["action"][idx] * norm.action_scale + norm.action_offset)
    c = torch.from_numpy(w["cond"][idx] * norm.obs_scale + norm.obs_offset)
    per_t = {}
    with torch.no_grad():
        for t in (0, 5, 10, 20, 40, 60, 80, 99):
            noise = torch.randn(a.shape, generator=g)
            tt = torch.full((len(a),), t)
            per_t[t] = float(((model(sched.add_noise(a, noise, tt), tt, c) - noise) ** 2).mean())

    held = load_zarr(os.path.join(args.episodes, "heldout.zarr"))
    starts = np.concatenate([[0], held.episode_ends[:-1]])
    o0 = np.repeat(held.obs[starts], args.samples, 0)
    cond = torch.from_numpy(np.stack([o0] * To, 1) * norm.obs_scale + norm.obs_offset)
    x = torch.randn(len(o0), T, a.shape[-1], generator=g)
    with torch.no_grad():
        for t in sched.timesteps:
            x = sched.step(model(x, t.repeat(len(o0)), cond), int(t), x, generator=g)
    pred = (x.numpy() - norm.action_offset) / norm.action_scale
    wp = o0[:, 2:4]  # waypoint_rel
    pred_ang = signed_angle_deg(pred[:, To - 1 : To - 1 + Ta].sum(1), wp)
    exp_chunks = np.stack([held.action[s : s + Ta].sum(0) for s in starts])
    exp_ang = signed_angle_deg(exp_chunks, held.obs[starts][:, 2:4])
    bins = [0, 5, 10, 15, 20, 30, 45, 90, 180]
    out = {
        "checkpoint": args.checkpoint,
        "loss_per_timestep": per_t,
        "start_heading": {
            "episodes": int(len(starts)),
            "samples_per_start": args.samples,
            "abs_angle_bins_deg": bins,
            "expert_abs_angle_hist": np.histogram(np.abs(exp_ang), bins=bins)[0].tolist(),
            "policy_abs_angle_hist": np.histogram(np.abs(pred_ang), bins=bins)[0].tolist(),
            "expert_mean_abs_angle_deg": float(np.abs(exp_ang).mean()),
            "policy_mean_abs_angle_deg": float(np.abs(pred_ang).mean()),
        },
    }
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()

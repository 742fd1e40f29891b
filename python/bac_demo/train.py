#!/usr/bin/python3
"""Train the demo DP-T policy (diffusion_policy's TransformerForDiffusion + DDPM) on a CPU or a GPU.

Faithful to diffusion_policy's low-dim transformer recipe where it matters for BAC: epsilon
prediction with a 100-step ``squaredcos_cap_v2`` DDPM, ``obs_as_cond`` with ``n_obs_steps`` observation
tokens, AdamW with DP-T's parameter groups and betas (0.9, 0.95), cosine learning-rate decay with
linear warm-up, and an EMA of the weights (``EMAModel``: power 0.75, max 0.9999) that is what gets
saved and exported. Deviations for a one-core budget are flags, recorded in the checkpoint.

Checkpoints (atomic: written to ``*.tmp`` then renamed) every ``--save-every-s`` seconds:

* ``<out>/policy_ema.pt``: ``{ema_state_dict, model_config, bac_meta, train_info}`` -- fp32 EMA
  weights only; the file ``bac_export.py`` and the PyTorch runtime load;
* ``<out>/train_state.pt``: model + EMA + optimiser + RNG state, for ``--resume`` (not committed).

Usage, from the repository root (``PYTHONPATH`` can go after ``pip install -e python/``), with one
BLAS/OpenMP thread as ``fixtures/demo/regen.sh`` runs it::

    PYTHONPATH=python OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 -m bac_demo.train \\
        --episodes fixtures/demo/episodes/train.zarr --heldout fixtures/demo/episodes/heldout.zarr \\
        --out /tmp/bac-train --steps 12000
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from typing import Any, Dict

import numpy as np
import torch

from bac_demo.config import HORIZON, N_ACTION_STEPS, N_OBS_STEPS, SAMPLER, model_config
from bac_demo.data import OBS_KEYS, Normalizer, env_args_from_file, load_episodes, make_windows
from bac_demo.portable import atomic_save, load_checkpoint, save_portable
from bac_models import DDPMScheduler, TransformerForDiffusion


class EMA:
    """diffusion_policy's ``EMAModel``: decay = min(max_value, 1 - (1 + step / inv_gamma) ** -power),
    0 for the first ``update_after_step`` steps; BatchNorm-free models only (DP-T has none)."""

    def __init__(self, model: torch.nn.Module, power: float = 0.75, inv_gamma: float = 1.0, max_value: float = 0.9999):
        self.averaged = copy.deepcopy(model).eval().requires_grad_(False)
        self.power, self.inv_gamma, self.max_value = power, inv_gamma, max_value
        self.step = 0

    def decay(self) -> float:
        """Current decay factor."""
        v = 1 - (1 + self.step / self.inv_gamma) ** -self.power
        return max(0.0, min(v, self.max_value))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Blend the live weights into the average (buffers are copied)."""
        d = self.decay()
        # One fused multi-tensor op per stage instead of two kernels per parameter (same arithmetic,
        # elementwise): on a GPU the per-parameter loop costs more launches than the model's backward.
        averaged = list(self.averaged.parameters())
        torch._foreach_mul_(averaged, d)
        torch._foreach_add_(averaged, [p.detach() for p in model.parameters()], alpha=1 - d)
        for ba, bm in zip(self.averaged.buffers(), model.buffers()):
            ba.copy_(bm)
        self.step += 1


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up then cosine decay to 0 (diffusers' ``get_cosine_schedule_with_warmup``)."""
    if step < warmup:
        return base * step / max(1, warmup)
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def diffusion_loss(model, sched: DDPMScheduler, action: torch.Tensor, cond: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Epsilon-prediction MSE on a batch of normalised action windows.

    Noise and timesteps are drawn from the CPU generator ``g`` and then moved to the batch's device,
    so a CUDA run consumes exactly the random stream a CPU run does."""
    noise = torch.randn(action.shape, generator=g).to(action.device)
    t = torch.randint(0, sched.num_train_timesteps, (action.shape[0],), generator=g).to(action.device)
    noisy = sched.add_noise(action, noise, t)
    pred = model(noisy, t, cond)
    return torch.nn.functional.mse_loss(pred, noise)


def main(argv=None) -> None:
    """CLI entry point (see module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", required=True, help="training replay-buffer .zarr")
    ap.add_argument("--heldout", help="held-out .zarr for a validation loss")
    ap.add_argument("--out", required=True, help="output directory for checkpoints")
    ap.add_argument("--n-emb", type=int, default=128)
    ap.add_argument("--p-drop-attn", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=12000, help="total optimiser steps (sets the LR schedule)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--weight-decay", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--save-every-s", type=float, default=240.0)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--val-every", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--resume", action="store_true", help="continue from <out>/train_state.pt")
    ap.add_argument(
        "--init-from",
        help="start from the model and EMA weights of another run's train_state.pt (fresh optimiser, LR "
        "schedule and normaliser): fine-tuning on new demonstrations",
    )
    ap.add_argument(
        "--stop-at",
        type=int,
        default=0,
        help="stop (and save) after this step without changing the --steps LR schedule; with --resume "
        "this replays an interrupted run exactly",
    )
    ap.add_argument("--bench", type=int, default=0, help="only time this many steps and exit")
    ap.add_argument(
        "--device",
        default="cpu",
        help="torch device (cpu, cuda); random draws stay on the CPU generator, so the sampled "
        "batches, noise and timesteps are the same on any device",
    )
    ap.add_argument(
        "--time-budget-s",
        type=float,
        default=0.0,
        help="instead of a fixed --steps: time --probe-steps steps (inside the LR warm-up, which "
        "does not depend on --steps), then set --steps to what fits in this many seconds; the "
        "chosen number is recorded, and replaying with that --steps gives the same run",
    )
    ap.add_argument("--probe-steps", type=int, default=200, help="steps timed for --time-budget-s")
    ap.add_argument(
        "--portable-out",
        help="also write each EMA checkpoint here as a torch-version-independent .npz (bac_demo.portable)",
    )
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    device = torch.device(args.device)
    if args.time_budget_s and args.probe_steps > args.warmup:
        ap.error("--probe-steps must not exceed --warmup (the LR schedule must not depend on --steps yet)")

    train = load_episodes(args.episodes)
    norm = Normalizer.fit(train)
    win = make_windows(train, HORIZON, N_OBS_STEPS, N_ACTION_STEPS)
    cond_all = torch.from_numpy(win["cond"] * norm.obs_scale + norm.obs_offset).to(device)
    act_all = torch.from_numpy(win["action"] * norm.action_scale + norm.action_offset).to(device)
    val = None
    if args.heldout:
        hv = make_windows(load_episodes(args.heldout), HORIZON, N_OBS_STEPS, N_ACTION_STEPS)
        vg = np.random.default_rng(0)
        pick = vg.choice(len(hv["cond"]), size=min(1024, len(hv["cond"])), replace=False)
        val = (
            torch.from_numpy(hv["action"][pick] * norm.action_scale + norm.action_offset).to(device),
            torch.from_numpy(hv["cond"][pick] * norm.obs_scale + norm.obs_offset).to(device),
        )

    cfg = model_config(args.n_emb, cond_all.shape[-1], act_all.shape[-1], args.p_drop_attn)
    model = TransformerForDiffusion(**cfg).to(device)
    sched = DDPMScheduler(
        num_train_timesteps=SAMPLER["num_train_timesteps"],
        beta_start=SAMPLER["beta_start"],
        beta_end=SAMPLER["beta_end"],
        beta_schedule=SAMPLER["beta_schedule"],
        clip_sample=SAMPLER["clip_sample"],
        prediction_type=SAMPLER["prediction_type"],
    )
    opt = model.configure_optimizers(learning_rate=args.lr, weight_decay=args.weight_decay, betas=(0.9, 0.95))
    ema = EMA(model)
    g = torch.Generator().manual_seed(args.seed)
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"windows {len(act_all)}, obs_dim {cond_all.shape[-1]}, params {n_params}, n_emb {args.n_emb}, "
        f"batch {args.batch}, steps {args.steps}",
        flush=True,
    )

    step, elapsed_before, history = 0, 0.0, []
    state_path = os.path.join(args.out, "train_state.pt")
    if args.init_from and not (args.resume and os.path.exists(state_path)):
        st = load_checkpoint(args.init_from)
        if "ema_state_dict" in st:  # an EMA checkpoint (policy_ema.pt / .npz): live weights start at the average
            model.load_state_dict(st["ema_state_dict"])
            ema.averaged.load_state_dict(st["ema_state_dict"])
            from_step = st["train_info"]["step"]
        else:  # a train_state.pt
            model.load_state_dict(st["model"])
            ema.averaged.load_state_dict(st["ema"])
            from_step = st["step"]
        print(f"initialised from {args.init_from} (its step {from_step})", flush=True)
    if args.resume and os.path.exists(state_path):
        st = load_checkpoint(state_path)
        model.load_state_dict(st["model"])
        ema.averaged.load_state_dict(st["ema"])
        ema.step = st["ema_step"]
        opt.load_state_dict(st["opt"])
        g.set_state(st["gen"])
        step, elapsed_before, history = st["step"], st["elapsed_s"], st["history"]
        # The global torch RNG (dropout masks) restarts from --seed on resume; it is not saved.
        print(f"resumed at step {step}", flush=True)

    bac_meta = {
        "sampler": SAMPLER,
        "obs_keys": OBS_KEYS,
        "horizon": HORIZON,
        "n_obs_steps": N_OBS_STEPS,
        "n_action_steps": N_ACTION_STEPS,
        "normalizer": norm.to_meta(),
    }

    def save(final: bool = False) -> None:
        info = {
            "step": step,
            "elapsed_s": elapsed_before + (time.time() - t_start),
            "args": vars(args),
            "history": history,
            "n_params": n_params,
            "final": final,
        }
        ema_ckpt = {
            "ema_state_dict": {k: v.detach().cpu() for k, v in ema.averaged.state_dict().items()},
            "model_config": cfg,
            "bac_meta": bac_meta,
            "train_info": info,
            "env_args": env_args_from_file(args.episodes),
        }
        atomic_save(ema_ckpt, os.path.join(args.out, "policy_ema.pt"))
        if args.portable_out:
            save_portable(ema_ckpt, args.portable_out)
        atomic_save(
            {
                "model": model.state_dict(),
                "ema": ema.averaged.state_dict(),
                "ema_step": ema.step,
                "opt": opt.state_dict(),
                "gen": g.get_state(),  # the CPU generator, whatever --device is
                "step": step,
                "elapsed_s": info["elapsed_s"],
                "history": history,
            },
            state_path,
        )
        print(f"saved step {step} ({info['elapsed_s']:.0f} s)", flush=True)

    t_start = time.time()
    last_save = t_start
    run_loss, run_n = 0.0, 0
    total = args.bench or args.stop_at or args.steps
    probe_start = None
    model.train()
    while step < total:
        if args.time_budget_s and not args.resume and step == args.probe_steps // 4:
            probe_start = time.time()  # past start-up (allocator, kernel selection)
        if probe_start is not None and step == args.probe_steps:
            if device.type == "cuda":
                torch.cuda.synchronize()
            per_step = (time.time() - probe_start) / (args.probe_steps - args.probe_steps // 4)
            left = args.time_budget_s - (time.time() - t_start)
            # 5 % margin for validation, checkpoints and neighbours sharing the machine.
            args.steps = max(args.probe_steps + 1, int(0.95 * left / per_step) + args.probe_steps)
            total = args.stop_at or args.steps
            probe_start = None
            print(f"probe: {per_step * 1000:.2f} ms/step -> --steps {args.steps}", flush=True)
        for pg in opt.param_groups:
            pg["lr"] = lr_at(step, args.steps, args.lr, args.warmup)
        idx = torch.randint(0, len(act_all), (args.batch,), generator=g).to(device)
        loss = diffusion_loss(model, sched, act_all[idx], cond_all[idx], g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema.update(model)
        step += 1
        # Accumulated on the device (no per-step sync with a GPU); in float64, the sum Python floats gave.
        run_loss = run_loss + loss.detach().double()
        run_n += 1
        if args.bench:
            continue
        if step % args.log_every == 0:
            el = elapsed_before + time.time() - t_start
            rec = {"step": step, "loss": float(run_loss) / run_n, "lr": opt.param_groups[0]["lr"], "elapsed_s": round(el, 1)}
            run_loss, run_n = 0.0, 0
            if val is not None and step % args.val_every == 0:
                vgen = torch.Generator().manual_seed(1234)
                with torch.no_grad():
                    rec["val_loss_ema"] = float(diffusion_loss(ema.averaged, sched, val[0], val[1], vgen))
            history.append(rec)
            print(json.dumps(rec), flush=True)
        if time.time() - last_save > args.save_every_s:
            save()
            last_save = time.time()
    if args.bench:
        dt = time.time() - t_start
        print(f"BENCH n_emb {args.n_emb} batch {args.batch}: {dt / args.bench:.3f} s/step", flush=True)
        return
    save(final=step >= args.steps)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Write PyTorch reference vectors that BAC Studio's engine (ORT + TS samplers) is checked against.

Output directory (default ``fixtures/demo/vectors/``):

* ``vectors.bin`` -- little-endian float32 tensors back to back;
* ``index.json`` -- what they are: for every tensor ``{offset (bytes), shape}``; the model the vectors
  belong to (ONNX path relative to the index, its sha256, how it was made); the denoiser case (inputs
  and the expected ``prediction`` and every ``bac:<l>.<kind>`` output for B = 2); and two sampling
  trajectories (DDPM with the model's own K, DDIM with 10 steps, eta 0) with their fixed initial
  noise, fixed per-step noise, timesteps, the sample after every step and the final sample.

Trajectory convention (matches ``src/engine/samplers.ts``): ``samples[0]`` is the initial noise x_K;
``samples[k + 1] = scheduler.step(eps(samples[k], timesteps[k], cond), timesteps[k], samples[k],
noise=step_noises[k])``; ``step_noises[k]`` is used only where the sampler adds noise (DDPM, t > 0).
Everything is in the model's normalised space (no (un)normaliser applied).

Two modes::

    # from the final demo checkpoint (the ONNX must have been exported from that checkpoint);
    # --config is optional when the checkpoint carries model_config and bac_meta (bac_demo.train's do)
    /usr/bin/python3 python/make_test_vectors.py --checkpoint C.pt [--config export.json] \
        --onnx fixtures/demo/policy.onnx [--export] [--episodes fixtures/demo/episodes/heldout.zarr]
    # pipeline check: a seeded, untrained small DP-T, exported next to its vectors (not the fixture)
    /usr/bin/python3 python/make_test_vectors.py --untrained --out-dir /tmp/bac-vec

Deterministic: all inputs and noises come from ``torch.Generator().manual_seed(seed)``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))

from bac_demo.config import HORIZON, N_ACTION_STEPS, N_OBS_STEPS, SAMPLER, model_config
from bac_export import BlockCapture, block_names, export_bac_onnx, infer_io_dims, load_model_and_meta
from bac_models import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, TransformerForDiffusion

REPO = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(REPO, "fixtures", "demo", "vectors")
UNTRAINED_ONNX = "untrained-dpt.onnx"
DDIM_STEPS = 10
#: DPM-Solver++(2M) steps of the reference trajectory: enough for second-order steps between the
#: first-order first and last ones.
DPM_STEPS = 10

#: The interim model: DP-T structure (8 layers -> 24 blocks, causal, MLP cond encoder), tiny width so
#: the committed ONNX stays small. Only used until the trained demo policy exists.
UNTRAINED_KWARGS: Dict[str, Any] = model_config(n_emb=32, obs_dim=8, action_dim=2, p_drop_attn=0.3)
UNTRAINED_META: Dict[str, Any] = dict(
    sampler=dict(SAMPLER),
    obs_keys=["untrained_obs"],
    horizon=HORIZON,
    n_obs_steps=N_OBS_STEPS,
    n_action_steps=N_ACTION_STEPS,
    normalizer={
        "obs": {"scale": [1.0] * 8, "offset": [0.0] * 8},
        "action": {"scale": [1.0, 1.0], "offset": [0.0, 0.0]},
    },
)


class TensorPack:
    """Accumulates float32 tensors into one blob and records ``{offset, shape}`` per name."""

    def __init__(self) -> None:
        self.chunks: List[bytes] = []
        self.offset = 0
        self.index: Dict[str, Dict[str, Any]] = {}

    def add(self, name: str, t: torch.Tensor) -> str:
        if name in self.index:
            raise KeyError(f"duplicate tensor {name}")
        a = np.ascontiguousarray(t.detach().cpu().numpy().astype("<f4"))
        self.index[name] = {"offset": self.offset, "shape": list(a.shape)}
        b = a.tobytes()
        self.chunks.append(b)
        self.offset += len(b)
        return name

    def blob(self) -> bytes:
        return b"".join(self.chunks)


def sha256_file(path: str) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_scheduler(sampler: Dict[str, Any], kind: str, steps: int):
    """A scheduler with the model's training schedule; ``kind`` 'ddpm', 'ddim' (eta 0) or
    'dpmsolver++' (diffusers' defaults: second order, midpoint, linspace spacing, final sigma 0)."""
    common = dict(
        num_train_timesteps=int(sampler["num_train_timesteps"]),
        beta_start=float(sampler["beta_start"]),
        beta_end=float(sampler["beta_end"]),
        beta_schedule=str(sampler["beta_schedule"]),
        clip_sample=bool(sampler["clip_sample"]),
        prediction_type=str(sampler["prediction_type"]),
    )
    if kind == "ddpm":
        sch = DDPMScheduler(**common)
    elif kind == "ddim":
        sch = DDIMScheduler(**common, set_alpha_to_one=True, eta=0.0)
    else:
        sch = DPMSolverMultistepScheduler(**common)
    sch.set_timesteps(steps)
    return sch


@torch.no_grad()
def run_trajectory(
    model: nn.Module, sch, cond: torch.Tensor, x0: torch.Tensor, noises: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Return samples [K+1, B, T, Da] (the initial ``x0``, then the sample after each step) and the
    model outputs [K, B, T, Da] each step was given (to check a sampler alone by replaying them)."""
    xs = [x0]
    outs = []
    x = x0
    for k, t in enumerate(sch.timesteps.tolist()):
        ts = torch.full((x.shape[0],), t, dtype=torch.long)
        eps = model(x, ts, cond)
        outs.append(eps)
        x = sch.step(eps, t, x, noise=noises[k])
        xs.append(x)
    return torch.stack(xs), torch.stack(outs)


def make_vectors(
    model: nn.Module,
    meta: Dict[str, Any],
    onnx_path: str,
    out_dir: str,
    *,
    source: str,
    seed: int = 1234,
    batch: int = 2,
    cond_pool: Optional[torch.Tensor] = None,
) -> Dict[str, Any]:
    """Compute and write ``vectors.bin`` + ``index.json`` for ``model`` (whose export is ``onnx_path``).

    ``cond_pool`` [M, To, Do]: normalised observation windows from real episodes to draw ``cond``
    from (seeded); without it, ``cond`` is uniform in [-1, 1] (the normalised range).
    """
    model.eval()
    dims = infer_io_dims(model)
    g = torch.Generator().manual_seed(seed)
    T, Da, To, Do = dims["horizon"], dims["action_dim"], dims["n_obs_steps"], dims["obs_dim"]
    pack = TensorPack()

    # Denoiser case: Gaussian sample, observations uniform in [-1, 1] (the normalised range), two
    # different timesteps so a batch-mixing bug would show.
    def draw_cond() -> torch.Tensor:
        if cond_pool is None:
            return torch.rand(batch, To, Do, generator=g) * 2 - 1
        pick = torch.randint(0, cond_pool.shape[0], (batch,), generator=g)
        return cond_pool[pick].clone()

    sample = torch.randn(batch, T, Da, generator=g)
    cond = draw_cond()
    n_train = int(meta["sampler"]["num_train_timesteps"])
    timestep = torch.tensor([n_train - 1, n_train // 3][:batch] + [0] * max(0, batch - 2), dtype=torch.long)
    wrapper = BlockCapture(model)
    try:
        with torch.no_grad():
            outs = wrapper(sample, timestep, cond)
    finally:
        wrapper.remove_hooks()
    names = ["prediction", *block_names(len(wrapper.layers))]
    denoiser = {
        "inputs": {
            "sample": pack.add("denoiser/sample", sample),
            "timestep": timestep.tolist(),
            "cond": pack.add("denoiser/cond", cond),
        },
        "outputs": {n: pack.add(f"denoiser/{n}", o) for n, o in zip(names, outs)},
    }

    trajectories = []
    k_ddpm = int(meta["sampler"].get("num_inference_steps", n_train))
    for kind, steps in (("ddpm", k_ddpm), ("ddim", DDIM_STEPS), ("dpmsolver++", DPM_STEPS)):
        sch = make_scheduler(meta["sampler"], kind, steps)
        tcond = draw_cond()
        x_init = torch.randn(batch, T, Da, generator=g)
        noises = torch.randn(steps, batch, T, Da, generator=g)
        samples, model_outputs = run_trajectory(model, sch, tcond, x_init, noises)
        name = f"{kind}{steps}"
        cfg = sch.config(kind)
        trajectories.append(
            {
                "name": name,
                "sampler": cfg,
                "timesteps": sch.timesteps.tolist(),
                "cond": pack.add(f"{name}/cond", tcond),
                "initial_noise": pack.add(f"{name}/initial_noise", x_init),
                "step_noises": pack.add(f"{name}/step_noises", noises),
                "samples": pack.add(f"{name}/samples", samples),
                "model_outputs": pack.add(f"{name}/model_outputs", model_outputs),
                "final": pack.add(f"{name}/final", samples[-1]),
            }
        )

    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vectors.bin"), "wb") as f:
        f.write(pack.blob())
    index = {
        "format": "bac-test-vectors",
        "version": 1,
        "generator": "python/make_test_vectors.py",
        "seed": seed,
        "tolerance": 1e-4,
        "model": {
            "onnx": os.path.relpath(onnx_path, out_dir),
            "onnx_sha256": sha256_file(onnx_path),
            "source": source,
            "cond_source": "episode windows" if cond_pool is not None else "uniform [-1, 1]",
            "dims": dims,
            "n_blocks": len(names) - 1,
        },
        "data": "vectors.bin",
        "dtype": "float32-le",
        "tensors": pack.index,
        "denoiser": denoiser,
        "trajectories": trajectories,
    }
    with open(os.path.join(out_dir, "index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return index


def load_cond_pool(episodes: str, meta: Dict[str, Any]) -> torch.Tensor:
    """Normalised ``cond`` windows [M, To, Do] cut from a demo replay buffer (bac_demo's loader)."""
    from bac_demo.data import load_zarr, make_windows

    ep = load_zarr(episodes, meta["obs_keys"])
    win = make_windows(ep, int(meta["horizon"]), int(meta["n_obs_steps"]), int(meta["n_action_steps"]))
    norm = meta["normalizer"]["obs"]
    scale = np.asarray(norm["scale"], dtype=np.float32)
    offset = np.asarray(norm["offset"], dtype=np.float32)
    return torch.from_numpy(win["cond"] * scale + offset)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI; see the module docstring."""
    ap = argparse.ArgumentParser(description="Write BAC test vectors from PyTorch")
    ap.add_argument("--untrained", action="store_true", help="seeded untrained small DP-T (interim)")
    ap.add_argument("--checkpoint", help="trained checkpoint (with --config)")
    ap.add_argument("--config", help="export config JSON, as for bac_export.py")
    ap.add_argument("--onnx", help="the ONNX exported from this checkpoint (hashed into the index)")
    ap.add_argument("--export", action="store_true", help="(re)export --onnx from the checkpoint first")
    ap.add_argument("--episodes", help="replay-buffer .zarr whose observation windows supply cond (demo data)")
    ap.add_argument("--out-dir", default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)

    if args.untrained:
        if os.path.abspath(args.out_dir) == os.path.abspath(DEFAULT_OUT):
            # the committed vectors belong to the demo policy; never overwrite them with a toy model
            ap.error("--untrained needs --out-dir (fixtures/demo/vectors holds the demo policy's vectors)")
        torch.manual_seed(0)
        model = TransformerForDiffusion(**UNTRAINED_KWARGS).eval()
        meta = UNTRAINED_META
        onnx_path = os.path.join(args.out_dir, UNTRAINED_ONNX)
        os.makedirs(args.out_dir, exist_ok=True)
        export_bac_onnx(model, onnx_path, meta)
        source = "untrained: TransformerForDiffusion(**UNTRAINED_KWARGS) after torch.manual_seed(0)"
    else:
        if not (args.checkpoint and args.onnx):
            ap.error("--checkpoint and --onnx are required without --untrained")
        config: Dict[str, Any] = {}
        if args.config:
            with open(args.config, "r", encoding="utf-8") as f:
                config = json.load(f)
        model, meta = load_model_and_meta(args.checkpoint, config)
        onnx_path = args.onnx
        if args.export:
            export_bac_onnx(model, onnx_path, meta)
        source = f"checkpoint {os.path.relpath(args.checkpoint, REPO)}"
    cond_pool = None
    if args.episodes:
        cond_pool = load_cond_pool(args.episodes, meta)
    index = make_vectors(model, meta, onnx_path, args.out_dir, source=source, seed=args.seed, cond_pool=cond_pool)
    size = os.path.getsize(os.path.join(args.out_dir, "vectors.bin"))
    print(f"wrote {args.out_dir}: {len(index['tensors'])} tensors, {size} bytes, model {index['model']['onnx']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

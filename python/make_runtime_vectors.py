#!/usr/bin/python3
"""Write shared test vectors for BAC's two cached runners: PyTorch (bac_runtime) and TypeScript (ORT).

Given a trained checkpoint, the ``.bacschedule`` solved for it and fixed noise and observations, run
one sampling run (the schedule's sampler and K) with the schedule applied through ``bac_runtime`` and
write the inputs and the final sample to ``fixtures/demo/vectors/runtime-<schedule name>.json``. The
TypeScript cached runner (``src/engine/runner.ts``, the If-gated ONNX graph) must reproduce
``final`` within ``tolerance`` from the same inputs; ``python/tests/test_runtime.py`` checks that
this file still matches what ``bac_runtime`` computes.

Conventions follow ``fixtures/demo/vectors/index.json`` (``python/make_test_vectors.py``):
everything is in the model's normalised space; ``samples[0]`` is ``initial_noise`` (x_K) and
``x_{k+1} = step(eps(x_k, timesteps[k], cond), timesteps[k], x_k, noise = step_noises[k])`` where
``step_noises[k]`` is only used when the sampler adds noise (DDPM, t > 0); seeded inputs
(``torch.Generator().manual_seed(seed)``), observations drawn from episode windows when
``--episodes`` is given, else uniform in [-1, 1]. Unlike ``vectors.bin``, the tensors are inline
(small) as ``{"shape": [...], "data": [row-major float32 values]}``:

* ``cond`` [B, To, Do], ``initial_noise`` [B, T, Da], ``step_noises`` [K, B, T, Da];
* ``final`` [B, T, Da]: the last sample with the schedule applied (what the TS cached runner returns);
* ``full_final``: the same run without the schedule (the plain model), for reference;
* ``actions`` [B, n_action_steps, Da]: ``final`` unnormalised with the checkpoint's action
  normaliser (raw = (normalised - offset) / scale), rows ``n_obs_steps - 1`` … as diffusion_policy
  executes them (only when the checkpoint carries a normaliser).

Usage::

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 python/make_runtime_vectors.py \\
        --checkpoint fixtures/demo/policy_ema.pt --schedule fixtures/demo/policy.bacschedule \\
        [--onnx fixtures/demo/policy.onnx] [--episodes fixtures/demo/episodes/heldout.zarr] \\
        [--out fixtures/demo/vectors/runtime-policy.json] [--seed 1234] [--batch 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

import bac_runtime

REPO = os.path.dirname(HERE)
DEFAULT_DIR = os.path.join(REPO, "fixtures", "demo", "vectors")
FORMAT = "bac-runtime-vectors"
TOLERANCE = 1e-4


def tensor_to_json(t: torch.Tensor) -> Dict[str, Any]:
    """``{"shape", "data"}`` with the float32 values written exactly (shortest round-trip decimals)."""
    a = np.ascontiguousarray(t.detach().cpu().numpy().astype(np.float32))
    return {"shape": list(a.shape), "data": [float(repr_f32(v)) for v in a.reshape(-1)]}


def repr_f32(v: np.float32) -> str:
    # str(np.float32) is the shortest decimal that reads back as the same float32 (as JS prints it)
    return str(np.float32(v))


def tensor_from_json(d: Dict[str, Any]) -> torch.Tensor:
    """Inverse of :func:`tensor_to_json` (float32)."""
    return torch.tensor(d["data"], dtype=torch.float32).reshape(d["shape"])


def _rel(path: str, base: str) -> str:
    return os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")


def _load(checkpoint: str, config: Optional[str]):
    from bac_export import load_model_and_meta

    cfg: Dict[str, Any] = {}
    if config:
        with open(config, "r", encoding="utf-8") as f:
            cfg = json.load(f)
    return load_model_and_meta(checkpoint, cfg)


def _scheduler(sampler_meta: Dict[str, Any], kind: str, steps: int):
    from make_test_vectors import make_scheduler

    if kind not in ("ddpm", "ddim"):
        raise SystemExit(f"schedule sampler {kind!r}: only ddpm and ddim runs can be written")
    return make_scheduler(sampler_meta, kind, steps)


@torch.no_grad()
def _run(model, sch, cond: torch.Tensor, x: torch.Tensor, noises: torch.Tensor) -> torch.Tensor:
    # diffusion_policy's conditional_sample loop: model(trajectory, t, cond) for t in timesteps
    for k, t in enumerate(sch.timesteps):
        eps = model(x, t, cond)
        x = sch.step(eps, t, x, noise=noises[k])
    return x


def _actions(final: torch.Tensor, meta: Dict[str, Any]) -> Optional[torch.Tensor]:
    norm = (meta.get("normalizer") or {}).get("action")
    if not norm:
        return None
    scale = torch.tensor(norm["scale"], dtype=torch.float32)
    offset = torch.tensor(norm["offset"], dtype=torch.float32)
    start = int(meta["n_obs_steps"]) - 1
    end = start + int(meta["n_action_steps"])
    return ((final - offset) / scale)[:, start:end]


def recompute(doc: Dict[str, Any], base: str) -> Dict[str, torch.Tensor]:
    """Re-run a vectors document with ``bac_runtime`` (paths in ``doc`` are relative to ``base``):
    returns ``final`` and, when the checkpoint has a normaliser, ``actions``."""
    ck = os.path.join(base, doc["checkpoint"]["path"])
    model, meta = _load(ck, os.path.join(base, doc["config"]["path"]) if doc.get("config") else None)
    schedule = bac_runtime.load_schedule(os.path.join(base, doc["schedule"]["path"]))
    sch = _scheduler(meta["sampler"], schedule.sampler.type, schedule.K)
    cond, x0, noises = (tensor_from_json(doc["tensors"][k]) for k in ("cond", "initial_noise", "step_noises"))
    with bac_runtime.apply(model, schedule, num_inference_steps=len(sch.timesteps)):
        final = _run(model, sch, cond, x0, noises)
    out = {"final": final}
    acts = _actions(final, meta)
    if acts is not None:
        out["actions"] = acts
    return out


def make_vectors(
    checkpoint: str,
    schedule_path: str,
    out: str,
    *,
    onnx: Optional[str] = None,
    config: Optional[str] = None,
    episodes: Optional[str] = None,
    seed: int = 1234,
    batch: int = 2,
) -> Dict[str, Any]:
    """Compute and write one runtime vectors file; returns the document."""
    from make_test_vectors import load_cond_pool, sha256_file
    from bac_export import infer_io_dims

    torch.set_num_threads(1)
    model, meta = _load(checkpoint, config)
    schedule = bac_runtime.load_schedule(schedule_path)
    K = schedule.K
    sch = _scheduler(meta["sampler"], schedule.sampler.type, K)
    dims = infer_io_dims(model)
    T, Da, To, Do = dims["horizon"], dims["action_dim"], dims["n_obs_steps"], dims["obs_dim"]
    g = torch.Generator().manual_seed(seed)
    if episodes:
        pool = load_cond_pool(episodes, meta)
        cond = pool[torch.randint(0, pool.shape[0], (batch,), generator=g)].clone()
    else:
        cond = torch.rand(batch, To, Do, generator=g) * 2 - 1
    x0 = torch.randn(batch, T, Da, generator=g)
    noises = torch.randn(K, batch, T, Da, generator=g)

    full_final = _run(model, sch, cond, x0, noises)
    with bac_runtime.apply(model, schedule, num_inference_steps=K):
        final = _run(model, sch, cond, x0, noises)

    base = os.path.dirname(os.path.abspath(out))
    ref = lambda p: {"path": _rel(p, base), "sha256": sha256_file(p)}  # noqa: E731
    tensors = {
        "cond": tensor_to_json(cond),
        "initial_noise": tensor_to_json(x0),
        "step_noises": tensor_to_json(noises),
        "final": tensor_to_json(final),
        "full_final": tensor_to_json(full_final),
    }
    acts = _actions(final, meta)
    if acts is not None:
        tensors["actions"] = tensor_to_json(acts)
    summary = schedule.summarize()
    doc: Dict[str, Any] = {
        "format": FORMAT,
        "version": 1,
        "generator": "python/make_runtime_vectors.py",
        "seed": seed,
        "tolerance": TOLERANCE,
        "checkpoint": ref(checkpoint),
        "config": ref(config) if config else None,
        "schedule": ref(schedule_path),
        "model": {"onnx": _rel(onnx, base), "onnx_sha256": sha256_file(onnx)} if onnx else None,
        "cond_source": "episode windows" if episodes else "uniform [-1, 1]",
        "dims": dims,
        "batch": batch,
        "sampler": sch.config(schedule.sampler.type),
        "timesteps": sch.timesteps.tolist(),
        "updates": {"cached": summary["updates"], "full": summary["fullUpdates"]},
        "max_abs_diff_vs_full": float((final - full_final).abs().max()),
        "action_slice": [int(meta["n_obs_steps"]) - 1, int(meta["n_obs_steps"]) - 1 + int(meta["n_action_steps"])]
        if acts is not None
        else None,
        "tensors": tensors,
    }
    os.makedirs(base, exist_ok=True)
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, out)
    return doc


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI; see the module docstring."""
    ap = argparse.ArgumentParser(description="Write bac_runtime vectors for the TypeScript cached runner")
    ap.add_argument("--checkpoint", required=True, help="trained checkpoint (bac_demo.train's policy_ema.pt)")
    ap.add_argument("--schedule", required=True, help=".bacschedule solved for that model")
    ap.add_argument("--config", help="export config JSON when the checkpoint carries no model_config/bac_meta")
    ap.add_argument("--onnx", help="the ONNX exported from the checkpoint (recorded for the TS side)")
    ap.add_argument("--episodes", help="replay-buffer .zarr whose observation windows supply cond")
    ap.add_argument("--out", help="output file (default fixtures/demo/vectors/runtime-<schedule name>.json)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--batch", type=int, default=2)
    args = ap.parse_args(argv)
    onnx = args.onnx
    if onnx is None and os.path.exists(os.path.join(REPO, "fixtures", "demo", "policy.onnx")):
        onnx = os.path.join(REPO, "fixtures", "demo", "policy.onnx")
    stem = os.path.splitext(os.path.basename(args.schedule))[0]
    out = args.out or os.path.join(DEFAULT_DIR, f"runtime-{stem}.json")
    try:
        doc = make_vectors(
            args.checkpoint,
            args.schedule,
            out,
            onnx=onnx,
            config=args.config,
            episodes=args.episodes,
            seed=args.seed,
            batch=args.batch,
        )
    except bac_runtime.ScheduleError as e:
        print(str(e), file=sys.stderr)
        return 1
    except bac_runtime.ScheduleMismatchError as e:
        print(f"{args.schedule}: {e}", file=sys.stderr)
        return 1
    print(
        f"wrote {out}: {doc['sampler']['type']}-{len(doc['timesteps'])}, {doc['updates']['cached']}/"
        f"{doc['updates']['full']} block updates, max |final - full| = {doc['max_abs_diff_vs_full']:.4g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

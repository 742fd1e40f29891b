#!/usr/bin/python3
"""Measured speedup of bac_runtime at S = 10 on CPU: patched vs unpatched DP-T, full DDPM-100 runs.

One sampling run = one action chunk: DDPM with K = 100 steps (diffusion_policy's
``conditional_sample`` loop, ``model(trajectory, t, cond)`` per step), batch 1 as in deployment,
under ``torch.no_grad()``. Plain and patched runs alternate in the same process on the same inputs;
the reported speedup is median(plain) / median(patched).

Model: ``--checkpoint``, else the demo checkpoint ``fixtures/demo/policy_ema.pt`` when present, else an untrained DP-T with
the paper's shipped config (8 layers, 4 heads, n_emb 256, horizon 10, 2 observation steps; timing
does not depend on the weights). Schedule: ``--schedule`` or a ``fixtures/demo/*.bacschedule`` with
K = 100 when present (a real BAC schedule), else Uniform(10) -- and the output says which.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 python/bench_runtime.py [--runs 5] [--threads 1] [--json] \
        [--checkpoint C.pt] [--schedule S.bacschedule]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DEMO = os.path.join(REPO, "fixtures", "demo")

import bac_runtime
from bac_demo.config import model_config
from bac_models import DDPMScheduler, TransformerForDiffusion

K = 100
BUDGET = 10

#: diffusion_policy's shipped DP-T config (METHOD notes): 8 layers × 3 = 24 blocks.
PAPER_KWARGS: Dict[str, Any] = model_config(n_emb=256, obs_dim=8, action_dim=2, p_drop_attn=0.3)


def _show(path: str) -> str:
    """Repository-relative when inside the repository, else absolute."""
    ap = os.path.abspath(path)
    return os.path.relpath(ap, REPO) if ap.startswith(REPO + os.sep) else ap


def load_model(checkpoint: Optional[str] = None) -> Tuple[torch.nn.Module, str]:
    """``checkpoint``, else the demo checkpoint if present, else the paper-sized untrained DP-T."""
    ck = checkpoint or os.path.join(DEMO, "policy_ema.pt")
    if os.path.exists(ck) or checkpoint:
        from bac_export import load_model_and_meta

        model, _meta = load_model_and_meta(ck, {})
        n = len(model.decoder.layers)
        return model.eval(), f"checkpoint {_show(ck)} ({n} layers, n_emb {model.input_emb.out_features})"
    torch.manual_seed(0)
    return TransformerForDiffusion(**PAPER_KWARGS).eval(), "untrained DP-T, paper config (8 layers, n_emb 256)"


def pick_schedule(model: torch.nn.Module, path: Optional[str]) -> Tuple[bac_runtime.Schedule, str]:
    """``path``, else a demo schedule with K = 100 fitting the model, else Uniform(10)."""
    n = len(model.decoder.layers)
    candidates = [path] if path else sorted(glob.glob(os.path.join(DEMO, "*.bacschedule")))
    for p in candidates:
        try:
            s = bac_runtime.load_schedule(p)
        except bac_runtime.ScheduleError:
            if path:
                raise
            continue
        if s.K == K and s.n_layers == n:
            desc = (
                f"{_show(p)} (budget M = {s.solver.budget}, top-n {s.solver.top_n}, "
                f"{s.summarize()['updates']} of {s.summarize()['fullUpdates']} block updates)"
            )
            return s, desc
        if path:
            raise SystemExit(f"{p}: K = {s.K} and {s.n_layers} layers, expected K = {K} and {n} layers")
    s = bac_runtime.uniform_schedule(n, K, BUDGET)
    return s, f"Uniform({BUDGET}) -- no real BAC schedule for this model found under fixtures/demo/"


@torch.no_grad()
def sampling_run(model, sch: DDPMScheduler, cond: torch.Tensor, x: torch.Tensor, noises: torch.Tensor) -> torch.Tensor:
    """One action chunk, as diffusion_policy's conditional_sample."""
    for k, t in enumerate(sch.timesteps):
        eps = model(x, t, cond)
        x = sch.step(eps, t, x, noise=noises[k])
    return x


def bench(runs: int, threads: int, schedule_path: Optional[str], checkpoint: Optional[str] = None) -> Dict[str, Any]:
    """Alternate plain and patched runs; return timings and the speedup."""
    torch.set_num_threads(threads)
    model, model_desc = load_model(checkpoint)
    schedule, sched_desc = pick_schedule(model, schedule_path)
    sch = DDPMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2", clip_sample=True)
    sch.set_timesteps(K)
    T = int(model.horizon)
    Da = int(model.input_emb.in_features)
    To = int(model.cond_pos_emb.shape[1]) - 1
    Do = int(model.cond_obs_emb.in_features)
    g = torch.Generator().manual_seed(0)
    cond = torch.rand(1, To, Do, generator=g) * 2 - 1
    x = torch.randn(1, T, Da, generator=g)
    noises = torch.randn(K, 1, T, Da, generator=g)

    plain: List[float] = []
    cached: List[float] = []
    plain_cpu: List[float] = []
    cached_cpu: List[float] = []
    handle = bac_runtime.apply(model, schedule)
    handle.remove()
    for i in range(runs + 1):  # run 0 warms both paths up and is not counted
        c0, t0 = time.process_time(), time.perf_counter()
        sampling_run(model, sch, cond, x, noises)
        c1, t1 = time.process_time(), time.perf_counter()
        handle = bac_runtime.apply(model, schedule)
        c2, t2 = time.process_time(), time.perf_counter()
        out = sampling_run(model, sch, cond, x, noises)
        c3, t3 = time.process_time(), time.perf_counter()
        handle.remove()
        if i > 0:
            plain.append((t1 - t0) * 1e3)
            cached.append((t3 - t2) * 1e3)
            # CPU time as well: on a shared machine wall time includes waiting for a core
            plain_cpu.append((c1 - c0) * 1e3)
            cached_cpu.append((c3 - c2) * 1e3)
    assert torch.isfinite(out).all()
    mp, mc = statistics.median(plain), statistics.median(cached)
    s = schedule.summarize()
    return {
        "model": model_desc,
        "schedule": sched_desc,
        "sampler": f"DDPM, K = {K}, batch 1",
        "threads": threads,
        "torch": torch.__version__,
        "runs": runs,
        "plain_ms": plain,
        "cached_ms": cached,
        "plain_median_ms": mp,
        "cached_median_ms": mc,
        "speedup": mp / mc,
        "plain_cpu_median_ms": statistics.median(plain_cpu),
        "cached_cpu_median_ms": statistics.median(cached_cpu),
        "speedup_cpu": statistics.median(plain_cpu) / statistics.median(cached_cpu),
        "block_updates": [s["updates"], s["fullUpdates"]],
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI; see the module docstring."""
    ap = argparse.ArgumentParser(description="Measured speedup of bac_runtime at S = 10 (CPU, DDPM-100)")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each (median), after one warm-up")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--schedule", help="a .bacschedule (K = 100) instead of the demo one / Uniform(10)")
    ap.add_argument("--checkpoint", help="a DP-T checkpoint instead of fixtures/demo/policy_ema.pt")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args(argv)
    r = bench(args.runs, args.threads, args.schedule, args.checkpoint)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"bac_runtime speedup at S = {BUDGET} (torch {r['torch']}, CPU, {r['threads']} thread(s))")
    print(f"  model:    {r['model']}")
    print(f"  schedule: {r['schedule']}")
    print(f"  run:      {r['sampler']}; median of {r['runs']} runs each, alternating, same process")
    print(f"  plain   {r['plain_median_ms']:9.1f} ms per action chunk (CPU time {r['plain_cpu_median_ms']:.1f} ms)")
    print(
        f"  patched {r['cached_median_ms']:9.1f} ms per action chunk (CPU time {r['cached_cpu_median_ms']:.1f} ms; "
        f"{r['block_updates'][0]}/{r['block_updates'][1]} block updates)"
    )
    print(f"  measured speedup {r['speedup']:.2f}x wall time, {r['speedup_cpu']:.2f}x CPU time")
    return 0


if __name__ == "__main__":
    sys.exit(main())

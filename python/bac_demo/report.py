#!/usr/bin/python3
"""Summarise a demo training checkpoint for the fixture README: model size, training wall time and
the loss curve (training loss averaged over each logging window, EMA validation loss on the
held-out set), as Markdown. Every number comes from the checkpoint's recorded ``train_info``.

Usage::

    /usr/bin/python3 -m bac_demo.report fixtures/demo/policy_ema.pt [--every 1000]
"""

from __future__ import annotations

import argparse

import torch


def main(argv=None) -> None:
    """Print the Markdown summary of one checkpoint."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--every", type=int, default=1000, help="table row spacing in steps")
    args = ap.parse_args(argv)
    ck = torch.load(args.checkpoint, map_location="cpu")
    info, cfg = ck["train_info"], ck["model_config"]
    n_params = info["n_params"]  # trainable parameters (the state dict also holds the mask buffers)
    hist = info["history"]
    a = info["args"]
    print(f"- parameters: {n_params:,} (n_emb {cfg['n_emb']}, n_layer {cfg['n_layer']}, n_head {cfg['n_head']}, "
          f"p_drop_attn {cfg['p_drop_attn']})")
    print(f"- optimiser steps: {info['step']} of {a['steps']} planned, batch {a['batch']}, lr {a['lr']} "
          f"(warm-up {a['warmup']}, cosine), seed {a['seed']}, device {a.get('device', 'cpu')}, "
          f"{a['threads']} torch thread(s)")
    if a.get("init_from"):
        print(f"- initialised from `{a['init_from']}` (an earlier run's weights): the numbers below are this run's only")
    print(f"- training wall time: {info['elapsed_s']:.0f} s ({info['elapsed_s'] / 60:.1f} min), "
          f"{info['elapsed_s'] / max(1, info['step']):.3f} s/step")
    print()
    print(f"| step | train loss (mean of last {a.get('log_every', 100)} steps) | EMA val loss (held-out) | elapsed |")
    print("|---:|---:|---:|---:|")
    for r in hist:
        if r["step"] % args.every == 0 or r is hist[-1] or r["step"] in (100, 500):
            v = f"{r['val_loss_ema']:.4f}" if "val_loss_ema" in r else ""
            print(f"| {r['step']} | {r['loss']:.4f} | {v} | {r['elapsed_s'] / 60:.1f} min |")


if __name__ == "__main__":
    main()

"""Export an untrained DP-T shaped like the demo policy but wider, for engine timings only.

``npm run bench`` measures the engine on the shipped demo policy (n_emb 128). The paper's DP-T is
n_emb 256; with ``BAC_BENCH_WIDE=1`` the bench also times this model so both widths are measured
by one command. Timings do not depend on the weights, so the model is untrained (seeded); its
metadata is the demo policy's, so it runs on the demo episodes.

    /usr/bin/python3 python/make_wide_dpt.py --out /tmp/dpt256.onnx [--n-emb 256]
"""

from __future__ import annotations

import argparse
import os
from typing import Optional, Sequence

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

from bac_export import export_bac_onnx
from bac_models import TransformerForDiffusion

DEMO_CHECKPOINT = os.path.join(REPO, "fixtures", "demo", "policy_ema.pt")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="the .onnx to write")
    ap.add_argument("--n-emb", type=int, default=256, help="embedding width (default 256, the paper's DP-T)")
    ap.add_argument("--checkpoint", default=DEMO_CHECKPOINT, help="where the configuration and metadata come from")
    args = ap.parse_args(argv)
    ck = torch.load(args.checkpoint, map_location="cpu")
    config = dict(ck["model_config"])
    config["n_emb"] = args.n_emb
    torch.manual_seed(0)
    model = TransformerForDiffusion(**config).eval()
    export_bac_onnx(model, args.out, ck["bac_meta"])
    params = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}: untrained DP-T, n_emb {args.n_emb}, {config['n_layer']} layers, {params / 1e6:.2f} M parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

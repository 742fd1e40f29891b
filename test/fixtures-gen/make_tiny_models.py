#!/usr/bin/python3
"""Tiny BAC-ready ONNX models (and malformed variants) for the engine's ONNX unit tests.

Writes into ``test/fixtures/onnx/`` (committed; each file well under 1 MB):

* ``tiny.onnx`` -- a seeded, untrained TransformerForDiffusion (2 decoder layers, n_emb 32, 2 heads,
  horizon 8, action dim 2, 2 observation steps of dim 3, causal attention) exported by
  ``python/bac_export.py`` to docs/method.md's model contract (6 blocks);
* ``tiny-hooks.json`` -- PyTorch reference values for the gated graph: block outputs at input A, and
  at input B for a few gate patterns with the reused blocks' outputs replaced by A's through forward
  hooks on dropout1/2/3 (the exact semantics of a cache hit);
* ``linear.onnx`` -- a hand-made contract-following toy (one "layer" whose three blocks are single
  MatMuls) whose FLOPs can be counted by hand;
* malformed variants of ``tiny.onnx``: ``no-blocks``, ``missing-block`` (bac:1.ca dropped),
  ``bad-metadata-json`` (bac.normalizer not JSON), ``bad-metadata-shape`` (valid JSON, wrong fields),
  ``missing-metadata`` (no bac.sampler), ``wrong-input-name`` (cond renamed obs),
  ``wrong-input-rank`` (sample declared rank 2).

Run from the repository root: ``PYTHONPATH=python /usr/bin/python3 test/fixtures-gen/make_tiny_models.py``
(or without PYTHONPATH after ``pip install -e python/``, see python/pyproject.toml).
Deterministic (fixed seeds, one thread).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from bac_export import BLOCK_KINDS, BlockCapture, export_bac_onnx
from bac_models import TransformerForDiffusion

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

OUT = os.path.join(REPO, "test", "fixtures", "onnx")
KWARGS = dict(
    input_dim=2, output_dim=2, horizon=8, n_obs_steps=2, cond_dim=3, n_layer=2, n_head=2, n_emb=32,
    p_drop_emb=0.0, p_drop_attn=0.0, causal_attn=True, n_cond_layers=0,
)
META = {
    "sampler": {
        "type": "ddpm", "num_train_timesteps": 100, "beta_schedule": "squaredcos_cap_v2",
        "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": "epsilon", "clip_sample": True,
        "num_inference_steps": 100,
    },
    "obs_keys": ["agent_pos", "goal"],
    "horizon": 8, "n_obs_steps": 2, "n_action_steps": 4,
    "normalizer": {
        "obs": {"scale": [1.0, 0.5, 2.0], "offset": [0.0, 0.1, -0.2]},
        "action": {"scale": [0.25, 0.5], "offset": [0.0, 0.0]},
    },
}
# Gate patterns for the torch-hook vectors: 1 = update, 0 = reuse A's output (6 blocks, model order).
PATTERNS = [
    [1, 0, 1, 0, 1, 0],
    [0, 0, 0, 0, 0, 0],
    [1, 1, 0, 1, 0, 1],
    [0, 1, 1, 1, 1, 0],
]


def tiny_model() -> TransformerForDiffusion:
    torch.manual_seed(0)
    m = TransformerForDiffusion(**KWARGS)
    # Untrained DP-T init leaves pos embeddings at zero and LayerNorms at identity; perturb every
    # parameter a little so no block is trivially zero and reuse makes a visible difference.
    with torch.no_grad():
        for p in m.parameters():
            if p.numel():
                p.add_(0.05 * torch.randn_like(p))
    return m.eval()


def flat(t: torch.Tensor) -> str:
    """base64 of the tensor as float32 little-endian (compact and exact)."""
    return base64.b64encode(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()).decode("ascii")


def hook_vectors(model: TransformerForDiffusion) -> dict:
    """Block outputs at A, then at B with reused blocks replaced by A's (torch forward hooks)."""
    g = torch.Generator().manual_seed(7)
    B = 2
    inputs = {}
    for name in ("A", "B"):
        inputs[name] = {
            "sample": torch.randn(B, 8, 2, generator=g),
            "timestep": torch.tensor([17, 63] if name == "A" else [16, 62], dtype=torch.long),
            "cond": torch.rand(B, 2, 3, generator=g) * 2 - 1,
        }
    cap = BlockCapture(model)
    with torch.no_grad():
        outs_a = cap(inputs["A"]["sample"], inputs["A"]["timestep"], inputs["A"]["cond"])
    cap.remove_hooks()
    names = [f"{li}.{k}" for li in range(KWARGS["n_layer"]) for k in BLOCK_KINDS]
    cache_a = {n: outs_a[i + 1] for i, n in enumerate(names)}
    cases = []
    for pat in PATTERNS:
        handles = []
        for li, layer in enumerate(model.decoder.layers):
            for ki, (kind, dname) in enumerate(zip(BLOCK_KINDS, ("dropout1", "dropout2", "dropout3"))):
                if pat[li * 3 + ki] == 0:
                    cached = cache_a[f"{li}.{kind}"]
                    handles.append(getattr(layer, dname).register_forward_hook(lambda _m, _i, _o, c=cached: c.clone()))
        cap = BlockCapture(model)  # registered after the replacing hooks: captures what flows on
        with torch.no_grad():
            outs = cap(inputs["B"]["sample"], inputs["B"]["timestep"], inputs["B"]["cond"])
        cap.remove_hooks()
        for h in handles:
            h.remove()
        cases.append({
            "update": pat,
            "prediction": flat(outs[0]),
            "blocks": [flat(o) for o in outs[1:]],
        })
    return {
        "encoding": "every tensor is base64 of float32 little-endian, row-major; shapes given",
        "source": "test/fixtures-gen/make_tiny_models.py (torch forward hooks)",
        "blocks": names,
        "block_shape": list(outs_a[1].shape),
        "inputs": {
            k: {"sample": flat(v["sample"]), "timestep": v["timestep"].tolist(), "cond": flat(v["cond"]),
                "prediction_shape": list(outs_a[0].shape), "sample_shape": list(v["sample"].shape), "cond_shape": list(v["cond"].shape)}
            for k, v in inputs.items()
        },
        "A": {"prediction": flat(outs_a[0]), "blocks": [flat(o) for o in outs_a[1:]]},
        "cases": cases,
    }


def save(proto: onnx.ModelProto, name: str, check: bool = True) -> None:
    if check:
        onnx.checker.check_model(proto)
    path = os.path.join(OUT, name)
    onnx.save(proto, path)
    print(f"wrote {os.path.relpath(path, REPO)} ({os.path.getsize(path)} bytes)")


def set_meta(proto: onnx.ModelProto, key: str, value: "str | None") -> None:
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key != key]
    if value is not None:
        keep.append((key, value))
    del proto.metadata_props[:]
    for k, v in keep:
        e = proto.metadata_props.add()
        e.key, e.value = k, v


def malformed(base: onnx.ModelProto) -> None:
    m = onnx.ModelProto(); m.CopyFrom(base)
    outs = [o for o in m.graph.output if not o.name.startswith("bac:")]
    del m.graph.output[:]; m.graph.output.extend(outs)
    save(m, "no-blocks.onnx")

    m = onnx.ModelProto(); m.CopyFrom(base)
    outs = [o for o in m.graph.output if o.name != "bac:1.ca"]
    del m.graph.output[:]; m.graph.output.extend(outs)
    save(m, "missing-block.onnx")

    m = onnx.ModelProto(); m.CopyFrom(base)
    set_meta(m, "bac.normalizer", '{"obs": {"scale": [1, 2], "offset": [0, 0]}, "action": ')
    save(m, "bad-metadata-json.onnx")

    m = onnx.ModelProto(); m.CopyFrom(base)
    sampler = dict(META["sampler"]); del sampler["prediction_type"]
    set_meta(m, "bac.sampler", json.dumps(sampler))
    set_meta(m, "bac.horizon", '"eight"')
    set_meta(m, "bac.normalizer", json.dumps({"obs": {"scale": [1.0]}}))
    save(m, "bad-metadata-shape.onnx")

    m = onnx.ModelProto(); m.CopyFrom(base)
    set_meta(m, "bac.sampler", None)
    save(m, "missing-metadata.onnx")

    m = onnx.ModelProto(); m.CopyFrom(base)
    for i in m.graph.input:
        if i.name == "cond":
            i.name = "obs"
    for n in m.graph.node:
        for k, x in enumerate(n.input):
            if x == "cond":
                n.input[k] = "obs"
    save(m, "wrong-input-name.onnx")

    m = onnx.ModelProto(); m.CopyFrom(base)
    for i in m.graph.input:
        if i.name == "sample":
            del i.type.tensor_type.shape.dim[1:]
            i.type.tensor_type.shape.dim[0].dim_param = "batch"
    save(m, "wrong-input-rank.onnx", check=False)


def linear_model() -> onnx.ModelProto:
    """One 'layer' of three single-MatMul blocks on x = input_emb(sample) [B, T=4, d=8]:

    h = sample @ We (Da=2 -> 8); sa = h @ Ws; h1 = h + sa; ca = (h1 @ Wc) + mean(cond @ Wm);
    h2 = h1 + ca; ffn = (h2 @ W1) @ W2 (8 -> 16 -> 8); pred = (h2 + ffn) @ Wh (8 -> 2).
    FLOPs at batch 1 (2·M·N·K): base (c_0) = embed 2·4·8·2 + head 2·4·2·8 = 128 + 128 = 256;
    sa = 2·4·8·8 = 512; ca = 2·4·8·8 + 2·2·8·3 = 512 + 96 = 608 (cond @ Wm feeds only ca, so it is
    in ca's exclusive set); ffn = 2·4·16·8 + 2·4·8·16 = 2048.
    """
    rng = np.random.default_rng(3)
    w = lambda *s: numpy_helper.from_array(rng.standard_normal(s).astype(np.float32) * 0.3)  # noqa: E731
    inits = []
    for name, shape in [("We", (2, 8)), ("Ws", (8, 8)), ("Wc", (8, 8)), ("Wm", (3, 8)), ("W1", (8, 16)),
                        ("W2", (16, 8)), ("Wh", (8, 2))]:
        t = w(*shape); t.name = name; inits.append(t)
    tf = helper.make_node("Cast", ["timestep"], ["tf"], to=TensorProto.FLOAT)
    nodes = [
        helper.make_node("MatMul", ["sample", "We"], ["h"]),
        tf,
        helper.make_node("Unsqueeze", ["tf", "ax12"], ["tf3"]),
        helper.make_node("Mul", ["h", "tf3"], ["h0"]),
        helper.make_node("MatMul", ["h0", "Ws"], ["bac:0.sa"]),
        helper.make_node("Add", ["h0", "bac:0.sa"], ["h1"]),
        helper.make_node("MatMul", ["h1", "Wc"], ["c1"]),
        helper.make_node("MatMul", ["cond", "Wm"], ["m"]),
        helper.make_node("ReduceMean", ["m"], ["mm"], axes=[1], keepdims=1),
        helper.make_node("Add", ["c1", "mm"], ["bac:0.ca"]),
        helper.make_node("Add", ["h1", "bac:0.ca"], ["h2"]),
        helper.make_node("MatMul", ["h2", "W1"], ["f1"]),
        helper.make_node("Relu", ["f1"], ["f1r"]),
        helper.make_node("MatMul", ["f1r", "W2"], ["bac:0.ffn"]),
        helper.make_node("Add", ["h2", "bac:0.ffn"], ["h3"]),
        helper.make_node("MatMul", ["h3", "Wh"], ["prediction"]),
    ]
    ax = numpy_helper.from_array(np.array([1, 2], dtype=np.int64)); ax.name = "ax12"
    inits.append(ax)
    vi = lambda n, t, s: helper.make_tensor_value_info(n, t, s)  # noqa: E731
    graph = helper.make_graph(
        nodes, "linear",
        [vi("sample", TensorProto.FLOAT, ["batch", 4, 2]), vi("timestep", TensorProto.INT64, ["batch"]),
         vi("cond", TensorProto.FLOAT, ["batch", 2, 3])],
        [vi("prediction", TensorProto.FLOAT, ["batch", 4, 2])]
        + [vi(f"bac:0.{k}", TensorProto.FLOAT, ["batch", 4, 8]) for k in BLOCK_KINDS],
        initializer=inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="make_tiny_models")
    m.ir_version = 8
    meta = dict(META); meta["horizon"] = 4
    for k, v in meta.items():
        e = m.metadata_props.add(); e.key = f"bac.{k}"; e.value = json.dumps(v)
    return m


def main() -> None:
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    model = tiny_model()
    path = os.path.join(OUT, "tiny.onnx")
    export_bac_onnx(model, path, META)
    print(f"wrote {os.path.relpath(path, REPO)} ({os.path.getsize(path)} bytes)")
    hooks = os.path.join(OUT, "tiny-hooks.json")
    with open(hooks, "w", encoding="utf-8") as f:
        json.dump(hook_vectors(model), f, indent=2)
        f.write("\n")
    # the repository's `prettier --check .` covers JSON: store it the way prettier writes it
    subprocess.run(["npx", "prettier", "--write", hooks], cwd=REPO, check=False, capture_output=True)
    malformed(onnx.load(path))
    save(linear_model(), "linear.onnx")


if __name__ == "__main__":
    main()

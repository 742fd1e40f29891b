"""Tests of python/bac_export.py (the BAC-ready ONNX exporter) and of the DP-T replica it targets.

* Structure and metadata of the export, checked with ``onnx`` (Debian's onnx 1.12; no onnxruntime
  in Python), on the demo-sized model and on a module assembled *independently of our class*, the
  way diffusion_policy assembles TransformerForDiffusion (different sizes).
* Numerics: the exported graph is run in onnxruntime-node (the runtime BAC Studio uses) through a
  small Node script and compared with torch forward hooks on the same input -- the prediction and
  every block output.
* The hooks capture the residual branch *before* the add: checked against a hand-written pre-norm
  decoder layer.
* Refusals: modules without decoder layers, incomplete metadata.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess

import pytest
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.path.dirname(HERE)
REPO = os.path.dirname(PY)

import onnx

from bac_export import (
    BlockCapture,
    ExportError,
    block_names,
    export_bac_onnx,
    find_decoder_layers,
    main as export_main,
)
from bac_models import DDPMScheduler, TransformerForDiffusion

torch.set_num_threads(1)


def _meta(obs_dim: int, action_dim: int, horizon: int, n_obs: int) -> dict:
    return {
        "sampler": DDPMScheduler(100, beta_schedule="squaredcos_cap_v2").config("ddpm"),
        "obs_keys": ["pos", "goal"],
        "horizon": horizon,
        "n_obs_steps": n_obs,
        "n_action_steps": horizon - n_obs,
        "normalizer": {
            "obs": {"scale": [0.5] * obs_dim, "offset": [0.1] * obs_dim},
            "action": {"scale": [2.0] * action_dim, "offset": [0.0] * action_dim},
        },
    }


class ReferenceDPT(nn.Module):
    """TransformerForDiffusion's obs-as-cond path assembled directly from torch.nn, without our
    class: sinusoidal time token + Linear obs tokens + cond_pos_emb -> MLP encoder -> memory;
    input_emb + pos_emb -> nn.TransformerDecoder(pre-norm GELU layers) with diffusion_policy's
    causal mask and memory mask -> ln_f -> head."""

    def __init__(self, da: int, do: int, horizon: int, n_obs: int, n_layer: int, n_head: int, n_emb: int) -> None:
        super().__init__()
        self.n_emb = n_emb
        self.horizon = horizon
        self.input_emb = nn.Linear(da, n_emb)
        self.pos_emb = nn.Parameter(0.02 * torch.randn(1, horizon, n_emb))
        self.cond_obs_emb = nn.Linear(do, n_emb)
        self.cond_pos_emb = nn.Parameter(0.02 * torch.randn(1, 1 + n_obs, n_emb))
        self.encoder = nn.Sequential(nn.Linear(n_emb, 4 * n_emb), nn.Mish(), nn.Linear(4 * n_emb, n_emb))
        layer = nn.TransformerDecoderLayer(
            d_model=n_emb,
            nhead=n_head,
            dim_feedforward=4 * n_emb,
            dropout=0.1,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.decoder = nn.TransformerDecoder(decoder_layer=layer, num_layers=n_layer)
        t = torch.arange(horizon)[:, None]
        self.register_buffer("mask", torch.where(t >= t.T, 0.0, float("-inf")))
        s = torch.arange(1 + n_obs)[None, :]
        self.register_buffer("memory_mask", torch.where(t >= s - 1, 0.0, float("-inf")))
        self.ln_f = nn.LayerNorm(n_emb)
        self.head = nn.Linear(n_emb, da)

    def time_embedding(self, t: torch.Tensor) -> torch.Tensor:
        half = self.n_emb // 2
        f = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1)))
        a = t.float()[:, None] * f[None, :]
        return torch.cat([a.sin(), a.cos()], dim=-1)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        timestep = timestep.expand(sample.shape[0])
        mem = torch.cat([self.time_embedding(timestep)[:, None], self.cond_obs_emb(cond)], dim=1)
        mem = self.encoder(mem + self.cond_pos_emb)
        x = self.input_emb(sample) + self.pos_emb
        x = self.decoder(tgt=x, memory=mem, tgt_mask=self.mask, memory_mask=self.memory_mask)
        return self.head(self.ln_f(x))


def _demo_model() -> TransformerForDiffusion:
    torch.manual_seed(0)
    return TransformerForDiffusion(
        input_dim=2,
        output_dim=2,
        horizon=10,
        n_obs_steps=2,
        cond_dim=9,
        n_layer=8,
        n_head=4,
        n_emb=64,
        p_drop_emb=0.0,
        p_drop_attn=0.3,
        causal_attn=True,
        obs_as_cond=True,
    ).eval()


def _reference_model() -> ReferenceDPT:
    torch.manual_seed(1)
    return ReferenceDPT(da=3, do=5, horizon=6, n_obs=3, n_layer=3, n_head=2, n_emb=48).eval()


def _check_contract(path: str, n_layers: int, horizon: int, da: int, n_obs: int, do: int, d: int) -> None:
    m = onnx.load(path)
    onnx.checker.check_model(m)
    assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) <= 17
    ins = {i.name: i for i in m.graph.input}
    assert [i.name for i in m.graph.input] == ["sample", "timestep", "cond"]
    assert ins["sample"].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert ins["timestep"].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert ins["cond"].type.tensor_type.elem_type == onnx.TensorProto.FLOAT

    def dims(vi):
        return [x.dim_param or x.dim_value for x in vi.type.tensor_type.shape.dim]

    assert dims(ins["sample"]) == ["batch", horizon, da]
    assert dims(ins["timestep"]) == ["batch"]
    assert dims(ins["cond"]) == ["batch", n_obs, do]
    outs = list(m.graph.output)
    assert dims(outs[0]) == ["batch", horizon, da]
    assert [o.name for o in outs[1:]] == block_names(n_layers)
    assert len(outs) == 1 + 3 * n_layers
    for o in outs[1:]:
        assert dims(o) == ["batch", horizon, d], o.name
    meta = {p.key: json.loads(p.value) for p in m.metadata_props}
    for key in ("bac.sampler", "bac.obs_keys", "bac.horizon", "bac.n_obs_steps", "bac.n_action_steps", "bac.normalizer"):
        assert key in meta, key
    assert meta["bac.horizon"] == horizon
    assert meta["bac.n_obs_steps"] == n_obs
    assert meta["bac.sampler"]["beta_schedule"] == "squaredcos_cap_v2"
    assert meta["bac.sampler"]["num_inference_steps"] == 100
    assert len(meta["bac.normalizer"]["obs"]["scale"]) == do
    assert len(meta["bac.normalizer"]["action"]["offset"]) == da
    # each block output must come out of the layer's computation, not be an input or an initializer
    produced = {o for n in m.graph.node for o in n.output}
    for o in outs:
        assert o.name in produced, f"{o.name} is not produced by any node"


NODE_RUNNER = r"""
const ort = require('onnxruntime-node');
const fs = require('fs');
(async () => {
  const [model, inPath, outPath] = process.argv.slice(1);
  const inp = JSON.parse(fs.readFileSync(inPath, 'utf8'));
  const s = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
  const r = await s.run({
    sample: new ort.Tensor('float32', Float32Array.from(inp.sample.data), inp.sample.shape),
    timestep: new ort.Tensor('int64', BigInt64Array.from(inp.timestep.map(BigInt)), [inp.timestep.length]),
    cond: new ort.Tensor('float32', Float32Array.from(inp.cond.data), inp.cond.shape),
  });
  const out = {};
  for (const n of s.outputNames) out[n] = { dims: r[n].dims, data: Array.from(r[n].data) };
  fs.writeFileSync(outPath, JSON.stringify({ names: s.outputNames, out }));
})().catch((e) => { console.error(e); process.exit(3); });
"""


def _run_ort(model_path: str, sample: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor, tmp_path) -> dict:
    """Run the ONNX in onnxruntime-node (repo's node_modules) and return its outputs."""
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(REPO, "node_modules", "onnxruntime-node")):
        pytest.skip("node / onnxruntime-node not available for the numeric check")
    inp = tmp_path / "in.json"
    out = tmp_path / "out.json"
    inp.write_text(
        json.dumps(
            {
                "sample": {"data": sample.flatten().tolist(), "shape": list(sample.shape)},
                "timestep": timestep.tolist(),
                "cond": {"data": cond.flatten().tolist(), "shape": list(cond.shape)},
            }
        )
    )
    res = subprocess.run(
        [node, "-e", NODE_RUNNER, model_path, str(inp), str(out)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    return json.loads(out.read_text())


def _compare_with_hooks(model: nn.Module, path: str, dims: tuple, tmp_path, batch: int = 3) -> None:
    horizon, da, n_obs, do = dims
    g = torch.Generator().manual_seed(7)
    sample = torch.randn(batch, horizon, da, generator=g)
    cond = torch.randn(batch, n_obs, do, generator=g)
    timestep = torch.tensor([99, 42, 0][:batch], dtype=torch.long)
    # independent capture: plain forward hooks on the dropouts, not the exporter's wrapper
    captured = {}
    handles = []
    for li, layer in enumerate(model.decoder.layers):
        for kind, dn in (("sa", "dropout1"), ("ca", "dropout2"), ("ffn", "dropout3")):
            handles.append(
                getattr(layer, dn).register_forward_hook(
                    lambda _m, _i, o, key=f"bac:{li}.{kind}": captured.__setitem__(key, o.detach().clone())
                )
            )
    with torch.no_grad():
        pred = model(sample, timestep, cond)
    for h in handles:
        h.remove()
    ort_out = _run_ort(path, sample, timestep, cond, tmp_path)
    names = ort_out["names"]
    assert names[0] == "prediction"
    refs = {"prediction": pred, **captured}
    assert set(names) == set(refs)
    for n in names:
        got = torch.tensor(ort_out["out"][n]["data"]).reshape(ort_out["out"][n]["dims"])
        assert got.shape == refs[n].shape, n
        diff = (got - refs[n]).abs().max().item()
        assert diff < 1e-4, f"{n}: max |ORT - torch| = {diff}"


def test_demo_model_export_contract_and_numerics(tmp_path):
    model = _demo_model()
    path = str(tmp_path / "demo.onnx")
    names = export_bac_onnx(model, path, _meta(9, 2, 10, 2))
    assert names == ["prediction", *block_names(8)] and len(names) == 25
    _check_contract(path, n_layers=8, horizon=10, da=2, n_obs=2, do=9, d=64)
    assert not model.training, "export must restore the mode (eval here)"
    _compare_with_hooks(model, path, (10, 2, 2, 9), tmp_path)


def test_reference_assembly_export_contract_and_numerics(tmp_path):
    model = _reference_model()
    assert not isinstance(model, TransformerForDiffusion)
    path = str(tmp_path / "ref.onnx")
    meta = _meta(5, 3, 6, 3)
    export_bac_onnx(model, path, meta)
    _check_contract(path, n_layers=3, horizon=6, da=3, n_obs=3, do=5, d=48)
    _compare_with_hooks(model, path, (6, 3, 3, 5), tmp_path, batch=2)


def test_export_restores_training_mode(tmp_path):
    model = _reference_model().train()
    export_bac_onnx(model, str(tmp_path / "m.onnx"), _meta(5, 3, 6, 3))
    assert model.training


def test_hooks_capture_residual_branches_before_the_add():
    """x_out = x_in + sa + ca + ffn for every layer, and each branch equals a hand-written
    pre-norm computation -- so the captured tensors are exactly docs/method.md's block outputs."""
    model = _reference_model()
    g = torch.Generator().manual_seed(3)
    sample = torch.randn(2, 6, 3, generator=g)
    cond = torch.randn(2, 3, 5, generator=g)
    t = torch.tensor([10, 80])
    layer_io = []
    hs = [
        layer.register_forward_hook(lambda _m, i, o: layer_io.append((i[0], i[1], o))) for layer in model.decoder.layers
    ]
    cap = BlockCapture(model)
    with torch.no_grad():
        outs = cap(sample, t, cond)
    cap.remove_hooks()
    for h in hs:
        h.remove()
    blocks = outs[1:]
    assert len(blocks) == 9
    for li, (x_in, mem, x_out) in enumerate(layer_io):
        sa, ca, ffn = blocks[3 * li : 3 * li + 3]
        torch.testing.assert_close(x_in + sa + ca + ffn, x_out, atol=1e-5, rtol=1e-5)
        layer = model.decoder.layers[li]
        with torch.no_grad():
            h = layer.norm1(x_in)
            sa_ref = layer.self_attn(h, h, h, attn_mask=model.mask, need_weights=False)[0]
            x1 = x_in + sa_ref
            h = layer.norm2(x1)
            ca_ref = layer.multihead_attn(h, mem, mem, attn_mask=model.memory_mask, need_weights=False)[0]
            x2 = x1 + ca_ref
            h = layer.norm3(x2)
            ffn_ref = layer.linear2(torch.nn.functional.gelu(layer.linear1(h)))
        torch.testing.assert_close(sa, sa_ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ca, ca_ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(ffn, ffn_ref, atol=1e-5, rtol=1e-5)


def test_modules_without_decoder_layers_are_refused(tmp_path):
    encoder_only = TransformerForDiffusion(input_dim=2, output_dim=2, horizon=8, n_layer=2, n_head=2, n_emb=16, time_as_cond=False)
    with pytest.raises(ExportError, match="no decoder layers"):
        find_decoder_layers(encoder_only)
    with pytest.raises(ExportError, match="no decoder layers"):
        export_bac_onnx(encoder_only, str(tmp_path / "x.onnx"), _meta(1, 2, 8, 2), dims={"horizon": 8, "action_dim": 2, "n_obs_steps": 1, "obs_dim": 1})
    mlp = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ExportError, match="nn.TransformerDecoderLayer"):
        export_bac_onnx(mlp, str(tmp_path / "y.onnx"), _meta(1, 2, 8, 2), dims={"horizon": 8, "action_dim": 2, "n_obs_steps": 1, "obs_dim": 1})
    assert not (tmp_path / "y.onnx").exists()


def test_incomplete_metadata_is_refused(tmp_path):
    meta = _meta(5, 3, 6, 3)
    del meta["normalizer"]
    with pytest.raises(ExportError, match="normalizer"):
        export_bac_onnx(_reference_model(), str(tmp_path / "m.onnx"), meta)
    meta = _meta(5, 3, 6, 3)
    del meta["sampler"]["clip_sample"]
    with pytest.raises(ExportError, match="clip_sample"):
        export_bac_onnx(_reference_model(), str(tmp_path / "m.onnx"), meta)


def test_cli_with_training_checkpoint_format(tmp_path, capsys):
    """The CLI loads bac_demo.train's checkpoint layout ({ema_state_dict, model_config, bac_meta})
    without a --config, and a per-key obs normalizer is concatenated in obs_keys order."""
    model = _demo_model()
    cfg = dict(
        input_dim=2, output_dim=2, horizon=10, n_obs_steps=2, cond_dim=9, n_layer=8, n_head=4, n_emb=64,
        p_drop_emb=0.0, p_drop_attn=0.3, causal_attn=True, obs_as_cond=True,
    )
    meta = _meta(9, 2, 10, 2)
    meta["normalizer"]["obs"] = {"pos": {"scale": [1.0] * 4, "offset": [0.0] * 4}, "goal": {"scale": [3.0] * 5, "offset": [0.5] * 5}}
    ckpt = tmp_path / "policy_ema.pt"
    torch.save({"ema_state_dict": model.state_dict(), "model_config": cfg, "bac_meta": meta, "train_info": {}}, ckpt)
    out = tmp_path / "p.onnx"
    assert export_main(["--checkpoint", str(ckpt), "--out", str(out)]) == 0
    m = onnx.load(str(out))
    norm = json.loads({p.key: p.value for p in m.metadata_props}["bac.normalizer"])
    assert norm["obs"]["scale"] == [1.0] * 4 + [3.0] * 5
    # a config that overrides the horizon metadata wins
    conf = tmp_path / "c.json"
    conf.write_text(json.dumps({"n_action_steps": 5}))
    assert export_main(["--checkpoint", str(ckpt), "--config", str(conf), "--out", str(out)]) == 0
    m = onnx.load(str(out))
    assert json.loads({p.key: p.value for p in m.metadata_props}["bac.n_action_steps"]) == 5
    # a checkpoint without model kwargs is a user error (exit 1, message on stderr)
    torch.save({"ema_state_dict": model.state_dict()}, ckpt)
    assert export_main(["--checkpoint", str(ckpt), "--out", str(out)]) == 1
    assert "model kwargs" in capsys.readouterr().err


def test_replica_matches_diffusion_policy_structure():
    """Names, masks and init of our TransformerForDiffusion follow diffusion_policy's."""
    m = _demo_model()
    names = {n for n, _ in m.named_parameters()}
    for n in (
        "_dummy_variable", "pos_emb", "cond_pos_emb", "input_emb.weight", "cond_obs_emb.weight", "encoder.0.weight",
        "encoder.2.weight", "decoder.layers.0.self_attn.in_proj_weight", "decoder.layers.7.multihead_attn.out_proj.weight",
        "decoder.layers.3.linear1.weight", "ln_f.weight", "head.bias",
    ):
        assert n in names, n
    assert isinstance(m.encoder[1], nn.Mish)
    assert m.T_cond == 3 and m.memory_mask.shape == (10, 3)
    # memory mask: action token t sees memory s iff s <= t + 1 (memory 0 is the time token)
    assert m.memory_mask[0].tolist() == [0.0, 0.0, float("-inf")]
    assert m.memory_mask[1].tolist() == [0.0, 0.0, 0.0]
    assert torch.equal(m.mask == 0, torch.tril(torch.ones(10, 10, dtype=torch.bool)))
    layer = m.decoder.layers[0]
    assert layer.norm_first and layer.self_attn.batch_first and layer.linear1.out_features == 4 * 64
    assert torch.all(layer.self_attn.in_proj_bias == 0) and torch.all(m.ln_f.weight == 1)
    assert abs(m.input_emb.weight.std().item() - 0.02) < 0.005
    groups = m.get_optim_groups(1e-3)
    assert sum(len(g["params"]) for g in groups) == len(list(m.parameters()))
    assert m.decoder.layers[0] is not m.decoder.layers[1]


def test_committed_demo_policy_follows_the_contract():
    """fixtures/demo/policy.onnx (once it exists) is a BAC-ready export of the 8-layer DP-T."""
    path = os.path.join(REPO, "fixtures", "demo", "policy.onnx")
    if not os.path.exists(path):
        pytest.skip("fixtures/demo/policy.onnx not generated yet")
    m = onnx.load(path)
    onnx.checker.check_model(m)
    outs = [o.name for o in m.graph.output]
    assert outs[1:] == block_names(8)
    meta = {p.key: json.loads(p.value) for p in m.metadata_props}
    assert meta["bac.sampler"]["type"] == "ddpm" and meta["bac.sampler"]["num_train_timesteps"] == 100
    assert meta["bac.horizon"] == 10 and meta["bac.n_obs_steps"] == 2 and meta["bac.n_action_steps"] == 8


def test_schedulers_follow_diffusers_semantics():
    """The schedulers whose config the exporter writes into bac.sampler (and which made the test
    vectors): leading timesteps, cosine betas, DDPM's t=0 step returns the clipped x0, DDIM with the
    true epsilon stays on the same x0, noise enters DDPM only for t > 0."""
    from bac_models import DDIMScheduler

    s = DDPMScheduler(100, beta_schedule="squaredcos_cap_v2", clip_sample=True)
    s.set_timesteps(100)
    assert s.timesteps.tolist() == list(range(99, -1, -1))
    ab = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    assert abs(s.betas[10].item() - (1 - ab(0.11) / ab(0.10))) < 1e-7
    assert abs(s.betas[-1].item() - 0.999) < 1e-6
    x = torch.tensor([0.5, 3.0, -3.0])
    eps = torch.tensor([0.1, 0.0, 0.0])
    a0 = s.alphas_cumprod[0]
    out = s.step(eps, 0, x, noise=torch.full((3,), 100.0))  # noise must be ignored at t = 0
    assert torch.allclose(out, torch.stack([(0.5 - (1 - a0) ** 0.5 * 0.1) / a0**0.5, torch.tensor(1.0), torch.tensor(-1.0)]))
    n1 = s.step(eps, 50, x, noise=torch.zeros(3))
    n2 = s.step(eps, 50, x, noise=torch.ones(3))
    ap, at = s.alphas_cumprod[49], s.alphas_cumprod[50]
    std = ((1 - ap) / (1 - at) * (1 - at / ap)) ** 0.5
    assert torch.allclose(n2 - n1, std.expand(3))

    d = DDIMScheduler(100, beta_schedule="squaredcos_cap_v2", clip_sample=False)
    d.set_timesteps(10)
    assert d.timesteps.tolist() == [90, 80, 70, 60, 50, 40, 30, 20, 10, 0]
    x0, e = torch.tensor([0.7]), torch.tensor([-1.3])
    xt = d.add_noise(x0, e, torch.tensor([90]))
    prev = d.step(e, 90, xt)
    assert torch.allclose(prev, d.add_noise(x0, e, torch.tensor([80])), atol=1e-6)
    assert torch.allclose(d.step(e, 0, d.add_noise(x0, e, torch.tensor([0]))), x0, atol=1e-6)


def test_make_wide_dpt_writes_a_contract_following_model_of_the_asked_width(tmp_path) -> None:
    """python/make_wide_dpt.py (npm run bench:wide): the demo policy's configuration and metadata,
    another n_emb; the contract's block outputs are all there."""
    import onnx

    import make_wide_dpt

    out = str(tmp_path / "wide.onnx")
    assert make_wide_dpt.main(["--out", out, "--n-emb", "64"]) == 0
    m = onnx.load(out)
    onnx.checker.check_model(m)
    outputs = [o.name for o in m.graph.output]
    assert len([o for o in outputs if o.startswith("bac:")]) == 24
    block = next(o for o in m.graph.output if o.name == "bac:0.sa")
    assert block.type.tensor_type.shape.dim[2].dim_value == 64
    meta = {p.key for p in m.metadata_props}
    assert {"bac.sampler", "bac.obs_keys", "bac.normalizer"} <= meta

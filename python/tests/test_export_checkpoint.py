"""``bac_export --checkpoint run.ckpt`` on diffusion_policy workspace checkpoints (python/bac_dp_checkpoint.py).

Checkpoints are built in diffusion_policy's exact layout (tests/dp_layout.py: OmegaConf cfg with its
``${eval:…}`` interpolations, the lowdim transformer policy's state-dict names, saved with dill).
Numerics: the exported ONNX runs in onnxruntime-node and is compared with the original torch module
(the one whose weights went into the checkpoint) on the prediction and every block output, within
1e-4 -- at n_emb 128, the paper's 256 and Kitchen's 768, with n_cond_layers 0 and 2.
"""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch
import torch.nn as nn

import onnx

import bac_dp_checkpoint
from bac_export import ExportError, block_names, export_bac_onnx, load_model_and_meta, main as export_main
from bac_models import TransformerForDiffusion
from dp_layout import DDPM_CFG, lowdim_cfg, policy_state_dict, save_workspace_checkpoint
from test_export import _check_contract, _compare_with_hooks

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.path.dirname(HERE)
REPO = os.path.dirname(PY)

torch.set_num_threads(1)


def _norm(obs_dim: int, action_dim: int) -> dict:
    g = torch.Generator().manual_seed(5)
    return {
        "obs": {"scale": (0.5 + torch.rand(obs_dim, generator=g)).tolist(), "offset": (torch.rand(obs_dim, generator=g) - 0.5).tolist()},
        "action": {"scale": (1 + torch.rand(action_dim, generator=g)).tolist(), "offset": torch.zeros(action_dim).tolist()},
    }


def _make(tmp_path, *, n_emb, n_layer, n_cond_layers, obs_dim=20, action_dim=2, horizon=10, n_obs=2, n_act=8,
          use_ema=True, resolved=False, name="run.ckpt", **cfg_kw):
    """A workspace checkpoint whose `model` weights differ from its `ema_model` weights; returns
    (path, ema module, plain module)."""
    cfg = lowdim_cfg(obs_dim=obs_dim, action_dim=action_dim, horizon=horizon, n_obs_steps=n_obs, n_action_steps=n_act,
                     n_layer=n_layer, n_emb=n_emb, n_cond_layers=n_cond_layers, use_ema=use_ema, resolved=resolved, **cfg_kw)
    kw = dict(input_dim=action_dim, output_dim=action_dim, horizon=horizon, n_obs_steps=n_obs, cond_dim=obs_dim,
              n_layer=n_layer, n_head=4, n_emb=n_emb, p_drop_emb=0.0, p_drop_attn=0.3, causal_attn=True,
              time_as_cond=True, obs_as_cond=True, n_cond_layers=n_cond_layers)
    torch.manual_seed(n_emb + n_layer + n_cond_layers)
    plain = TransformerForDiffusion(**kw).eval()
    ema = TransformerForDiffusion(**kw).eval()
    with torch.no_grad():
        for p in ema.parameters():  # EMA weights differ from the plain ones by noise at the init's own scale (0.02)
            p.add_(0.02 * torch.randn_like(p))
    norm = _norm(obs_dim, action_dim)
    opt = plain.configure_optimizers()
    path = str(tmp_path / name)
    save_workspace_checkpoint(
        path, cfg,
        model_state=policy_state_dict(plain, norm),
        ema_state=policy_state_dict(ema, norm) if use_ema else None,
        optimizer_state=opt.state_dict(),
    )
    return path, ema, plain


def _meta_of(path: str) -> dict:
    return {p.key: json.loads(p.value) for p in onnx.load(path).metadata_props}


@pytest.mark.parametrize(
    "n_emb,n_layer,n_cond_layers",
    [(128, 8, 0), (128, 2, 2), (256, 8, 0), (256, 2, 2), (768, 1, 0), (768, 1, 2)],
    ids=["128-L8", "128-L2-cond2", "paper-256-L8", "256-L2-cond2", "kitchen-768-L1", "kitchen-768-L1-cond2"],
)
def test_workspace_checkpoint_exports_and_matches_eager(tmp_path, n_emb, n_layer, n_cond_layers):
    kitchen = n_emb == 768  # Kitchen's lowdim DP-T: horizon 16, 4 observation steps, obs 60, action 9
    dims = dict(obs_dim=60, action_dim=9, horizon=16, n_obs=4, n_act=8) if kitchen else {}
    ckpt, ema, _ = _make(tmp_path, n_emb=n_emb, n_layer=n_layer, n_cond_layers=n_cond_layers, **dims)
    out = str(tmp_path / "policy.onnx")
    assert export_main(["--checkpoint", ckpt, "--out", out]) == 0
    h, da, to, do = (16, 9, 4, 60) if kitchen else (10, 2, 2, 20)
    _check_contract(out, n_layers=n_layer, horizon=h, da=da, n_obs=to, do=do, d=n_emb)
    meta = _meta_of(out)
    assert meta["bac.obs_keys"] == ["obs"] and meta["bac.n_action_steps"] == 8
    assert meta["bac.sampler"] == {k: v for k, v in DDPM_CFG.items() if k not in ("_target_", "variance_type")} | {
        "type": "ddpm", "num_inference_steps": 100}
    _compare_with_hooks(ema, out, (h, da, to, do), tmp_path)  # default weights: the EMA policy
    assert sorted(os.listdir(tmp_path)) == ["in.json", "out.json", "policy.onnx", "run.ckpt"], "no temp files left"


def test_weights_choice_resolved_cfg_and_task_obs_keys(tmp_path):
    ckpt, ema, plain = _make(tmp_path, n_emb=32, n_layer=2, n_cond_layers=0, resolved=True,
                             obs_keys=["object", "robot0_eef_pos"])
    out = str(tmp_path / "plain.onnx")
    assert export_main(["--checkpoint", ckpt, "--weights", "model", "--out", out]) == 0
    assert _meta_of(out)["bac.obs_keys"] == ["object", "robot0_eef_pos"]
    _compare_with_hooks(plain, out, (10, 2, 2, 20), tmp_path)
    # a run without EMA has no ema_model: the default falls back to model, asking for it is an error
    ckpt2, _, plain2 = _make(tmp_path, n_emb=32, n_layer=1, n_cond_layers=0, use_ema=False, name="noema.ckpt")
    model, _ = load_model_and_meta(ckpt2, {})
    assert torch.equal(model.head.weight, plain2.head.weight)
    with pytest.raises(ExportError, match=r"no 'ema_model' \(has model\)"):
        load_model_and_meta(ckpt2, {}, "ema_model")


def test_sampler_and_normalizer_come_from_the_checkpoint(tmp_path):
    ddim = {"_target_": "diffusers.DDIMScheduler", "num_train_timesteps": 100, "beta_schedule": "squaredcos_cap_v2",
            "clip_sample": True, "set_alpha_to_one": True, "steps_offset": 0, "prediction_type": "epsilon"}
    ckpt, _, _ = _make(tmp_path, n_emb=32, n_layer=1, n_cond_layers=0, noise_scheduler=ddim, num_inference_steps=10)
    _, meta = load_model_and_meta(ckpt, {})
    assert meta["sampler"] == {"type": "ddim", "num_train_timesteps": 100, "beta_start": 0.0001, "beta_end": 0.02,
                               "beta_schedule": "squaredcos_cap_v2", "prediction_type": "epsilon", "clip_sample": True,
                               "num_inference_steps": 10, "set_alpha_to_one": True, "steps_offset": 0}
    norm = _norm(20, 2)
    assert meta["normalizer"]["obs"]["scale"] == pytest.approx(norm["obs"]["scale"], rel=1e-6)
    assert meta["normalizer"]["action"]["offset"] == pytest.approx(norm["action"]["offset"], abs=1e-7)
    # num_inference_steps: null means num_train_timesteps (diffusion_policy's rule)
    ckpt, _, _ = _make(tmp_path, n_emb=32, n_layer=1, n_cond_layers=0, num_inference_steps=None, name="k.ckpt")
    assert load_model_and_meta(ckpt, {})[1]["sampler"]["num_inference_steps"] == 100


def _with_cfg(tmp_path, edit, name="edited.ckpt"):
    ckpt, _, _ = _make(tmp_path, n_emb=32, n_layer=1, n_cond_layers=0, name=name)
    payload = bac_dp_checkpoint.load_checkpoint_file(ckpt)
    edit(payload["cfg"])
    save_workspace_checkpoint(ckpt, payload["cfg"], model_state=payload["state_dicts"]["model"],
                              ema_state=payload["state_dicts"]["ema_model"])
    return ckpt


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda c: c.policy.__setitem__("_target_", "diffusion_policy.policy.diffusion_transformer_hybrid_image_policy.DiffusionTransformerHybridImagePolicy"),
         r"DiffusionTransformerHybridImagePolicy: image and hybrid policies .* BAC exports DiffusionTransformerLowdimPolicy"),
        (lambda c: c.task.__setitem__("shape_meta", {"obs": {"agentview_image": {"shape": [3, 84, 84], "type": "rgb"}}}),
         r"image observations: agentview_image"),
        (lambda c: c.policy.__setitem__("_target_", "diffusion_policy.policy.diffusion_unet_lowdim_policy.DiffusionUnetLowdimPolicy"),
         r"a U-Net has no transformer decoder blocks"),
        (lambda c: c.__setitem__("obs_as_cond", False), r"obs_as_cond is false: this policy inpaints"),
        (lambda c: c.__setitem__("pred_action_steps_only", True), r"pred_action_steps_only is true"),
        (lambda c: c.policy.noise_scheduler.__setitem__("variance_type", "fixed_small_log"), r"variance_type is 'fixed_small_log'"),
        (lambda c: c.policy.noise_scheduler.__setitem__("_target_", "diffusers.EulerDiscreteScheduler"), r"EulerDiscreteScheduler; BAC samples with DDPMScheduler, DDIMScheduler"),
        (lambda c: c.policy.model.__setitem__("n_layers", 3), r"arguments TransformerForDiffusion does not take: n_layers"),
        (lambda c: c.policy.model.__setitem__("n_layer", 2), r"do not fit cfg.policy.model \(missing decoder.layers.1"),
        (lambda c: c.__setitem__("horizon", "${now:%H}"), r"cannot be resolved"),
    ],
    ids=["hybrid", "rgb-shape-meta", "unet", "inpainting", "pred-action-steps-only", "variance", "scheduler", "kwarg", "weights", "interpolation"],
)
def test_unsupported_checkpoints_are_refused_with_one_clear_line(tmp_path, capsys, edit, message):
    ckpt = _with_cfg(tmp_path, edit)
    out = tmp_path / "x.onnx"
    assert export_main(["--checkpoint", ckpt, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("bac_export: ") and len(err.strip().splitlines()) == 1, err
    assert __import__("re").search(message, err), err
    assert not out.exists()


def test_missing_packages_input_as_output_and_weights_on_other_files(tmp_path, capsys, monkeypatch):
    ckpt, _, _ = _make(tmp_path, n_emb=32, n_layer=1, n_cond_layers=0)
    assert export_main(["--checkpoint", ckpt, "--out", ckpt]) == 1
    assert "is the checkpoint itself" in capsys.readouterr().err
    assert os.path.getsize(ckpt) > 0
    legacy = str(tmp_path / "sd.pt")
    torch.save({"ema_state_dict": {"w": torch.zeros(1)}}, legacy)
    assert export_main(["--checkpoint", legacy, "--weights", "model", "--out", str(tmp_path / "l.onnx")]) == 1
    assert "--weights applies to those only" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "omegaconf", None)  # import omegaconf now raises ImportError
    with pytest.raises(ExportError, match=r"needs the Python package `omegaconf` \(Debian: apt install python3-omegaconf"):
        bac_dp_checkpoint.register_eval_resolver()


def test_torch_load_is_asked_for_full_unpickling_where_it_has_the_switch(tmp_path, monkeypatch):
    """torch >= 2.6 defaults to weights_only=True, which refuses these files; the reader passes False."""
    ckpt, _, _ = _make(tmp_path, n_emb=32, n_layer=1, n_cond_layers=0)
    real = torch.load
    seen = {}

    def new_torch_load(f, map_location=None, pickle_module=None, *, weights_only=None, **kw):
        seen.update(weights_only=weights_only, pickle_module=pickle_module)
        return real(f, map_location=map_location, pickle_module=pickle_module, **kw)

    monkeypatch.setattr(torch, "load", new_torch_load)
    bac_dp_checkpoint.load_checkpoint_file(ckpt)
    assert seen["weights_only"] is False and seen["pickle_module"].__name__ == "dill"

    def old_torch_load(f, map_location=None, pickle_module=None, **kw):  # torch < 1.13: no such argument
        assert "weights_only" not in kw
        return real(f, map_location=map_location, pickle_module=pickle_module, **kw)

    monkeypatch.setattr(torch, "load", old_torch_load)
    assert bac_dp_checkpoint.is_workspace_payload(bac_dp_checkpoint.load_checkpoint_file(ckpt))


def test_interrupted_export_leaves_no_file(tmp_path, monkeypatch):
    ckpt, _, _ = _make(tmp_path, n_emb=32, n_layer=1, n_cond_layers=0)
    model, meta = load_model_and_meta(ckpt, {})

    def interrupted(*_a, **_k):
        raise SystemExit(143)  # what the CLI's SIGTERM handler raises

    monkeypatch.setattr(onnx, "save", interrupted)
    with pytest.raises(SystemExit):
        export_bac_onnx(model, str(tmp_path / "p.onnx"), meta)
    assert sorted(os.listdir(tmp_path)) == ["run.ckpt"]


def test_demo_policy_in_workspace_layout_exports_the_same_model(tmp_path):
    """fixtures/demo/policy_ema.pt converted to diffusion_policy's layout exports the same graph and
    metadata as the demo's own checkpoint format does today."""
    demo = os.path.join(REPO, "fixtures", "demo", "policy_ema.pt")
    if not os.path.exists(demo):
        pytest.skip("fixtures/demo/policy_ema.pt is not in the repository")
    src = torch.load(demo, map_location="cpu")
    mc, bm = src["model_config"], src["bac_meta"]
    cfg = lowdim_cfg(obs_dim=mc["cond_dim"], action_dim=mc["input_dim"], horizon=mc["horizon"], n_obs_steps=mc["n_obs_steps"],
                     n_action_steps=bm["n_action_steps"], n_layer=mc["n_layer"], n_head=mc["n_head"], n_emb=mc["n_emb"],
                     n_cond_layers=mc["n_cond_layers"], p_drop_attn=mc["p_drop_attn"], obs_keys=bm["obs_keys"],
                     noise_scheduler={**DDPM_CFG, **{k: v for k, v in bm["sampler"].items() if k not in ("type", "num_inference_steps")}},
                     num_inference_steps=bm["sampler"]["num_inference_steps"])
    model = TransformerForDiffusion(**mc)
    model.load_state_dict(src["ema_state_dict"])
    state = policy_state_dict(model, bm["normalizer"])
    ckpt = str(tmp_path / "demo.ckpt")
    save_workspace_checkpoint(ckpt, cfg, model_state=state, ema_state=state)
    today, new = str(tmp_path / "today.onnx"), str(tmp_path / "dp.onnx")
    assert export_main(["--checkpoint", demo, "--out", today]) == 0
    assert export_main(["--checkpoint", ckpt, "--out", new]) == 0
    a, b = onnx.load(today), onnx.load(new)
    assert a.graph.SerializeToString() == b.graph.SerializeToString(), "same graph and weights"
    ma, mb = _meta_of(today), _meta_of(new)
    assert set(ma) == set(mb)
    for key in ma:
        if key == "bac.normalizer":  # diffusion_policy stores the normaliser in float32
            for part in ("obs", "action"):
                for f in ("scale", "offset"):
                    assert mb[key][part][f] == pytest.approx(ma[key][part][f], rel=1e-6, abs=1e-7)
        else:
            assert mb[key] == ma[key], key
    assert [o.name for o in b.graph.output][1:] == block_names(mc["n_layer"])


class _DictOfTensors(nn.Module):
    """diffusion_policy's LinearNormalizer storage: a nested ``params_dict`` ParameterDict."""

    def __init__(self, parts) -> None:
        super().__init__()
        self.params_dict = nn.ParameterDict(
            {p: nn.ParameterDict({"scale": nn.Parameter(torch.zeros(n), requires_grad=False),
                                  "offset": nn.Parameter(torch.zeros(n), requires_grad=False),
                                  "input_stats": nn.ParameterDict({s: nn.Parameter(torch.zeros(n), requires_grad=False)
                                                                   for s in ("max", "mean", "min", "std")})})
             for p, n in parts.items()}
        )


class LowdimPolicy(nn.Module):
    """The attributes and state-dict names of diffusion_policy's DiffusionTransformerLowdimPolicy, and
    its sampling loop (``conditional_sample``) reduced to the obs-as-cond case."""

    def __init__(self, model, noise_scheduler, num_inference_steps, obs_dim, action_dim) -> None:
        super().__init__()
        self._dummy_variable = nn.Parameter()
        self.model = model
        self.noise_scheduler = noise_scheduler
        self.mask_generator = nn.Module()
        self.mask_generator._dummy_variable = nn.Parameter()
        self.normalizer = _DictOfTensors({"action": action_dim, "obs": obs_dim})
        self.num_inference_steps = num_inference_steps

    @torch.no_grad()
    def sample(self, cond, x, noises):
        self.noise_scheduler.set_timesteps(self.num_inference_steps)
        for k, t in enumerate(self.noise_scheduler.timesteps):
            x = self.noise_scheduler.step(self.model(x, t, cond), t, x, noise=noises[k])
        return x


def test_runtime_applies_to_the_policy_object_of_a_workspace_checkpoint(tmp_path):
    """bac_runtime.apply(policy, schedule): the policy (its state dict loaded strictly from the
    checkpoint) is patched through policy.model, K comes from policy.num_inference_steps and the
    scheduler's type must be the schedule's sampler."""
    import numpy as np

    import bac_runtime as br
    from bac_models import DDIMScheduler, DDPMScheduler

    ckpt, _, _ = _make(tmp_path, n_emb=32, n_layer=2, n_cond_layers=2)
    payload = bac_dp_checkpoint.load_checkpoint_file(ckpt)
    model, meta = load_model_and_meta(ckpt, {})
    sched_kw = {k: v for k, v in meta["sampler"].items() if k not in ("type", "num_inference_steps")}
    policy = LowdimPolicy(model, DDPMScheduler(**sched_kw), np.int64(100), obs_dim=20, action_dim=2)
    policy.load_state_dict(payload["state_dicts"]["ema_model"], strict=True)  # the layout is the policy's
    g = torch.Generator().manual_seed(3)
    cond, x = torch.randn(2, 2, 20, generator=g), torch.randn(2, 10, 2, generator=g)
    noises = torch.randn(100, 2, 10, 2, generator=g)
    plain = policy.sample(cond, x, noises)
    with br.apply(policy, br.full_schedule(2, 100)) as handle:
        assert handle.model is model
        assert torch.equal(policy.sample(cond, x, noises), plain)
    with br.apply(policy, br.uniform_schedule(2, 100, 10)):
        cached = policy.sample(cond, x, noises)
    assert not torch.equal(cached, plain) and torch.isfinite(cached).all()
    with pytest.raises(br.ScheduleMismatchError, match=r"K = 10 .* LowdimPolicy.num_inference_steps is 100"):
        br.apply(policy, br.full_schedule(2, 10))
    with pytest.raises(br.ScheduleMismatchError, match=r"solved for the ddim sampler .* DDPMScheduler"):
        br.apply(policy, br.full_schedule(2, 100, sampler_type="ddim"))
    policy.noise_scheduler = DDIMScheduler(**sched_kw)
    br.apply(policy, br.full_schedule(2, 100, sampler_type="ddim")).remove()

    class EulerDiscreteScheduler:
        pass

    policy.noise_scheduler = EulerDiscreteScheduler()
    with pytest.raises(br.ScheduleMismatchError, match=r"noise_scheduler is EulerDiscreteScheduler, which BAC cannot match"):
        br.apply(policy, br.full_schedule(2, 100))
    assert "forward" not in model.__dict__


def test_script_reports_unreadable_files_in_one_line(tmp_path):
    """Run as a script (as the extension runs it): errors raised inside bac_dp_checkpoint are
    caught by the CLI too (exit 1, one `bac_export: …` line, no traceback, no output)."""
    import subprocess

    bad = tmp_path / "notes.ckpt"
    bad.write_text("not a checkpoint")
    cut = tmp_path / "cut.ckpt"
    ckpt, _, _ = _make(tmp_path, n_emb=32, n_layer=1, n_cond_layers=0)
    cut.write_bytes(open(ckpt, "rb").read()[:20000])
    for path, message in ((bad, "is not a readable torch checkpoint (UnpicklingError"),
                          (tmp_path / "missing.ckpt", "does not exist or is not a file"),
                          (cut, "is not a readable torch checkpoint")):
        r = subprocess.run([sys.executable, os.path.join(PY, "bac_export.py"), "--checkpoint", str(path), "--out",
                            str(tmp_path / "x.onnx")], capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
        assert r.returncode == 1, r.stderr
        assert r.stderr.startswith("bac_export: ") and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "x.onnx").exists()

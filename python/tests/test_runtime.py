"""Tests of python/bac_runtime (apply a .bacschedule to a PyTorch DP-T).

* Exactness: with a Full schedule the patched model's outputs equal the unpatched model's bit for bit
  (torch.equal) at every step of whole DDPM-100 and DDIM-10 sampling loops, with and without masks.
* Caching semantics: with sparse schedules the outputs differ from the unpatched model but equal,
  bit for bit, a straightforward reference written here (a cache dictionary and every block
  computed explicitly from the layer's submodules); skipped blocks are really not computed.
* Run bookkeeping: automatic reset when K calls are done and when the batch shape changes, explicit
  reset(), a rising timestep before K calls refused; diffusion_policy-style predict_action loops.
* .remove() restores the model exactly; mismatched schedules and unsupported models are refused.
* The loader: valid files, every invariant violation, and parity with the TypeScript reader
  (same issues, same messages; same serialised bytes) when node + tsx are available.
* The shared test vectors against the TypeScript cached runner (fixtures/demo/vectors/runtime-*.json),
  skipped with the missing file named until the demo checkpoint and schedule exist.
"""

from __future__ import annotations

import copy
import glob
import json
import os
import shutil
import subprocess
from typing import Dict, List, Optional, Sequence

import pytest
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.path.dirname(HERE)
REPO = os.path.dirname(PY)

import bac_runtime as br
from bac_models import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, TransformerForDiffusion

torch.set_num_threads(1)

KINDS = ("sa", "ca", "ffn")
SHA = "ab" * 32


# ---------------------------------------------------------------------------------------------
# helpers: models, samplers, schedule files


def make_model(seed: int = 0, n_layer: int = 2, causal: bool = True, n_cond_layers: int = 0) -> TransformerForDiffusion:
    """A small DP-T (n_emb 32) with non-trivial weights, in eval mode."""
    torch.manual_seed(seed)
    m = TransformerForDiffusion(
        input_dim=3,
        output_dim=3,
        horizon=8,
        n_obs_steps=2,
        cond_dim=5,
        n_layer=n_layer,
        n_head=4,
        n_emb=32,
        p_drop_emb=0.0,
        p_drop_attn=0.3,
        causal_attn=causal,
        n_cond_layers=n_cond_layers,
    )
    # The N(0, 0.02) init makes branches tiny and every LayerNorm identical (1, 0): larger weights make
    # caching visibly change outputs, and distinct norms/biases make using the wrong one detectable.
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() > 1:
                p.mul_(10.0)
            else:
                p.add_(torch.randn_like(p) * 0.1)
    return m.eval()


def ddpm(K: int = 100) -> DDPMScheduler:
    s = DDPMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2", clip_sample=True)
    s.set_timesteps(K)
    return s


def ddim(K: int = 10) -> DDIMScheduler:
    s = DDIMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2", clip_sample=True)
    s.set_timesteps(K)
    return s


def inputs(batch: int = 2, K: int = 100, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    cond = torch.rand(batch, 2, 5, generator=g) * 2 - 1
    x = torch.randn(batch, 8, 3, generator=g)
    noises = torch.randn(K, batch, 8, 3, generator=g)
    return cond, x, noises


@torch.no_grad()
def sample_loop(denoiser, sch, cond, x, noises):
    """diffusion_policy's conditional_sample: ``model(trajectory, t, cond)`` for t in timesteps.
    Returns (list of denoiser outputs, final sample)."""
    eps_all = []
    for k, t in enumerate(sch.timesteps):
        eps = denoiser(x, t, cond)
        eps_all.append(eps)
        x = sch.step(eps, t, x, noise=noises[k])
    return eps_all, x


class Reference:
    """Straightforward cached DP-T forward written from the layer's submodules: a cache dictionary,
    every block computed explicitly. Independent of bac_runtime's code path."""

    def __init__(self, model: TransformerForDiffusion, updates: Dict[str, Sequence[int]]) -> None:
        self.m = model
        self.updates = {b: set(s) for b, s in updates.items()}
        self.cache: Dict[str, torch.Tensor] = {}
        self.k = 0

    def block(self, layer: nn.TransformerDecoderLayer, kind: str, x, memory):
        m = self.m
        if kind == "sa":
            h = layer.norm1(x)
            y = layer.self_attn(h, h, h, attn_mask=m.mask, key_padding_mask=None, need_weights=False)[0]
            return layer.dropout1(y)
        if kind == "ca":
            h = layer.norm2(x)
            y = layer.multihead_attn(h, memory, memory, attn_mask=m.memory_mask, key_padding_mask=None, need_weights=False)[0]
            return layer.dropout2(y)
        h = layer.norm3(x)
        return layer.dropout3(layer.linear2(layer.dropout(layer.activation(layer.linear1(h)))))

    def __call__(self, sample, t, cond):
        m = self.m
        ts = t[None] if torch.is_tensor(t) and t.dim() == 0 else torch.as_tensor(t).reshape(-1)
        ts = ts.expand(sample.shape[0])
        cond_emb = torch.cat([m.time_emb(ts).unsqueeze(1), m.cond_obs_emb(cond)], dim=1)
        memory = m.encoder(m.drop(cond_emb + m.cond_pos_emb[:, : cond_emb.shape[1], :]))
        x = m.drop(m.input_emb(sample) + m.pos_emb[:, : sample.shape[1], :])
        for li, layer in enumerate(m.decoder.layers):
            for kind in KINDS:
                bid = f"{li}.{kind}"
                if self.k in self.updates[bid]:
                    self.cache[bid] = self.block(layer, kind, x, memory)
                x = x + self.cache[bid]
        self.k += 1
        return m.head(m.ln_f(x))


def schedule_doc(steps: Dict[str, Sequence[int]], K: int, sampler: str = "ddpm") -> dict:
    """A .bacschedule as a dict in the TypeScript serialiser's key order (zero costs)."""
    blocks = [
        {"id": b, "acs": sorted(set(s)), "bua": [], "manual": [], "manualOff": [], "flops": 0, "timeUs": 0}
        for b, s in steps.items()
    ]
    return {
        "format": "bacschedule",
        "version": 1,
        "model": {"path": "policy.onnx", "sha256": SHA},
        "sampler": {"type": sampler, "steps": K},
        "solver": {"budget": max(len(b["acs"]) for b in blocks), "topN": 0, "forceLast": False, "profile": None},
        "baseCost": {"flops": 0, "timeUs": 0},
        "blocks": blocks,
    }


def emit(doc: dict) -> str:
    """The exact .bacschedule text layout (2-space indent, one line per block, trailing newline)."""
    j = lambda x: json.dumps(x)  # noqa: E731
    head = {k: v for k, v in doc.items() if k != "blocks"}
    text = json.dumps(head, indent=2)[:-2] + ",\n"
    lines = [
        "    { " + ", ".join(f"{j(k)}: {j(v) if not isinstance(v, list) else '[' + ', '.join(map(j, v)) + ']'}" for k, v in b.items()) + " }"
        for b in doc["blocks"]
    ]
    return text + '  "blocks": [\n' + ",\n".join(lines) + "\n  ]\n}\n"


def write_schedule(tmp_path, steps: Dict[str, Sequence[int]], K: int, name: str = "s.bacschedule", sampler: str = "ddpm") -> str:
    p = os.path.join(str(tmp_path), name)
    with open(p, "w", encoding="utf-8") as f:
        f.write(emit(schedule_doc(steps, K, sampler)))
    return p


def ids(n_layer: int) -> List[str]:
    return [f"{li}.{k}" for li in range(n_layer) for k in KINDS]


def random_steps(n_layer: int, K: int, seed: int, per_block: int = 8) -> Dict[str, List[int]]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for b in ids(n_layer):
        picks = torch.randperm(K - 1, generator=g)[: per_block - 1] + 1
        out[b] = sorted({0, *picks.tolist()})
    return out


# ---------------------------------------------------------------------------------------------
# exactness and caching semantics


@pytest.mark.parametrize("causal", [True, False])
def test_full_schedule_is_bit_identical_over_a_ddpm_loop(tmp_path, causal):
    model = make_model(causal=causal)
    cond, x, noises = inputs()
    ref_eps, ref_final = sample_loop(model, ddpm(), cond, x, noises)
    sched = br.load_schedule(write_schedule(tmp_path, {b: range(100) for b in ids(2)}, 100))
    handle = br.apply(model, sched)
    eps, final = sample_loop(model, ddpm(), cond, x, noises)
    assert handle.calls == 100
    assert all(torch.equal(a, b) for a, b in zip(eps, ref_eps))
    assert torch.equal(final, ref_final)
    handle.remove()


def test_full_schedule_is_bit_identical_with_ddim_and_a_transformer_cond_encoder():
    model = make_model(n_layer=3, n_cond_layers=1)
    cond, x, noises = inputs(batch=3, K=10)
    ref_eps, ref_final = sample_loop(model, ddim(10), cond, x, noises)
    with br.apply(model, br.full_schedule(3, 10, "ddim")):
        eps, final = sample_loop(model, ddim(10), cond, x, noises)
    assert all(torch.equal(a, b) for a, b in zip(eps, ref_eps))
    assert torch.equal(final, ref_final)


def test_reference_with_every_block_updating_is_the_model():
    """Validates the test's reference itself: with C(b) = all steps it is the plain model."""
    model = make_model()
    cond, x, noises = inputs(K=20)
    _, plain = sample_loop(model, ddpm(20), cond, x, noises)
    _, ref = sample_loop(Reference(model, {b: range(20) for b in ids(2)}), ddpm(20), cond, x, noises)
    assert torch.allclose(plain, ref, atol=1e-6)


@pytest.mark.parametrize("seed", [3, 4])
def test_sparse_schedule_equals_the_reference_and_differs_from_the_plain_model(tmp_path, seed):
    model = make_model(seed=seed)
    cond, x, noises = inputs(seed=seed)
    steps = random_steps(2, 100, seed)
    plain_eps, plain_final = sample_loop(model, ddpm(), cond, x, noises)
    ref_eps, ref_final = sample_loop(Reference(model, steps), ddpm(), cond, x, noises)
    handle = br.apply(model, br.load_schedule(write_schedule(tmp_path, steps, 100)))
    eps, final = sample_loop(model, ddpm(), cond, x, noises)
    handle.remove()
    for k, (a, b) in enumerate(zip(eps, ref_eps)):
        assert torch.equal(a, b), f"step {k}: max |diff| {float((a - b).abs().max())}"
    assert torch.equal(final, ref_final)
    # caching must change something: steps where some block reuses its cache differ from the plain model
    assert not torch.equal(final, plain_final)
    assert float((final - plain_final).abs().max()) > 1e-4
    assert torch.equal(eps[0], plain_eps[0])  # step 0 updates every block


def test_uniform_and_per_block_schedules_with_ddim(tmp_path):
    model = make_model(n_layer=3)
    cond, x, noises = inputs(K=10)
    steps = {b: ([0, 5] if b.endswith("ffn") else [0, 3, 7]) for b in ids(3)}
    steps["2.sa"] = [0, 1, 2, 9]
    ref_eps, ref_final = sample_loop(Reference(model, steps), ddim(10), cond, x, noises)
    with br.apply(model, br.load_schedule(write_schedule(tmp_path, steps, 10, sampler="ddim"))):
        eps, final = sample_loop(model, ddim(10), cond, x, noises)
    assert all(torch.equal(a, b) for a, b in zip(eps, ref_eps))
    assert torch.equal(final, ref_final)


def test_per_block_schedule_with_dpm_solver_multistep(tmp_path):
    # RDT-style policies sample with DPM-Solver++: its multistep state lives in the scheduler, so
    # the patched model must give the reference's outputs at every step of a whole run, twice (the
    # schedule's run bookkeeping resets after K calls, the scheduler after set_timesteps)
    model = make_model(n_layer=3)
    cond, x, noises = inputs(K=10)
    steps = {b: ([0, 4, 9] if b.endswith("ca") else [0, 2, 6]) for b in ids(3)}

    def dpm() -> DPMSolverMultistepScheduler:
        s = DPMSolverMultistepScheduler(
            num_train_timesteps=100, beta_schedule="squaredcos_cap_v2", thresholding=True
        )
        s.set_timesteps(10)
        return s

    ref_eps, ref_final = sample_loop(Reference(model, steps), dpm(), cond, x, noises)
    schedule = br.load_schedule(write_schedule(tmp_path, steps, 10, sampler="dpmsolver++"))
    with br.apply(FakePolicy(model, dpm(), 10), schedule):
        for _ in range(2):
            eps, final = sample_loop(model, dpm(), cond, x, noises)
            assert all(torch.equal(a, b) for a, b in zip(eps, ref_eps))
            assert torch.equal(final, ref_final)


def test_reused_blocks_are_not_computed():
    model = make_model()
    steps = random_steps(2, 100, 9, per_block=5)
    counts = {b: 0 for b in ids(2)}
    hooks = []
    for li, layer in enumerate(model.decoder.layers):
        for kind, mod in (("sa", layer.self_attn), ("ca", layer.multihead_attn), ("ffn", layer.linear1)):
            def hook(*_a, bid=f"{li}.{kind}"):
                counts[bid] += 1
            hooks.append(mod.register_forward_hook(hook))
    cond, x, noises = inputs()
    with br.apply(model, br.schedule_from_steps(steps, 100)):
        sample_loop(model, ddpm(), cond, x, noises)
    for h in hooks:
        h.remove()
    assert counts == {b: len(s) for b, s in steps.items()}


class MaskedDenoiser(nn.Module):
    """A DP-T-like module whose decoder call uses key-padding masks too (TransformerForDiffusion does not)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(5)
        layer = nn.TransformerDecoderLayer(16, 2, 64, dropout=0.3, activation="gelu", batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers=2)
        self.inp = nn.Linear(3, 16)
        self.mem = nn.Linear(4, 16)
        self.out = nn.Linear(16, 3)
        self.register_buffer("mask", torch.triu(torch.full((6, 6), float("-inf")), diagonal=1))
        self.register_buffer("memory_mask", torch.zeros(6, 3))

    def forward(self, sample, timestep, cond):
        x = self.inp(sample) + timestep.float().reshape(-1, 1, 1) / 100
        mem = self.mem(cond)
        pad_t = torch.zeros(sample.shape[0], 6, dtype=torch.bool)
        pad_t[:, -1] = True  # last action token is padding
        pad_m = torch.zeros(sample.shape[0], 3, dtype=torch.bool)
        pad_m[0, 2] = True
        x = self.decoder(x, mem, tgt_mask=self.mask, memory_mask=self.memory_mask,
                         tgt_key_padding_mask=pad_t, memory_key_padding_mask=pad_m)
        return self.out(x)


def test_masks_are_honoured_exactly():
    model = MaskedDenoiser().eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 3, generator=g)
    cond = torch.randn(2, 3, 4, generator=g)
    with torch.no_grad():
        plain = [model(x, torch.tensor(9 - k), cond) for k in range(10)]
        with br.apply(model, br.full_schedule(2, 10)):
            full = [model(x, torch.tensor(9 - k), cond) for k in range(10)]
        with br.apply(model, br.uniform_schedule(2, 10, 2)):
            uni = [model(x, torch.tensor(9 - k), cond) for k in range(10)]
    assert all(torch.equal(a, b) for a, b in zip(plain, full))
    # with the same input every step, steps 0 and 5 (updates) are the plain output and the others reuse
    assert torch.equal(uni[5], plain[5])  # step 5 updates every block
    assert not torch.equal(uni[3], plain[3])  # step 3 reuses the caches of step 0


# ---------------------------------------------------------------------------------------------
# run bookkeeping


def test_runs_reset_automatically_after_K_calls():
    model = make_model()
    steps = random_steps(2, 100, 11)
    cond, x, noises = inputs()
    _, expect = sample_loop(Reference(model, steps), ddpm(), cond, x, noises)
    handle = br.apply(model, br.schedule_from_steps(steps, 100))
    _, first = sample_loop(model, ddpm(), cond, x, noises)
    assert handle.calls == 100
    _, second = sample_loop(model, ddpm(), cond, x, noises)  # no reset() in between
    assert torch.equal(first, expect) and torch.equal(second, expect)
    with torch.no_grad():
        model(x, torch.tensor(99), cond)
    assert handle.calls == 1
    handle.remove()


def test_batch_shape_change_resets_and_explicit_reset():
    model = make_model()
    steps = random_steps(2, 100, 12)
    c2, x2, n2 = inputs(batch=2)
    c3, x3, n3 = inputs(batch=3, seed=7)
    _, expect3 = sample_loop(Reference(model, steps), ddpm(), c3, x3, n3)
    handle = br.apply(model, br.schedule_from_steps(steps, 100))
    with torch.no_grad():
        for k in range(30):
            model(x2, torch.tensor(99 - k), c2)
        assert handle.calls == 30
        model(x3, torch.tensor(99), c3)  # another batch size: a new run
        assert handle.calls == 1
        handle.reset()
        assert handle.calls == 0
    _, got3 = sample_loop(model, ddpm(), c3, x3, n3)
    assert torch.equal(got3, expect3)
    # an aborted run followed by reset() gives a clean run too
    with torch.no_grad():
        for k in range(17):
            model(x3, torch.tensor(99 - k), c3)
    handle.reset()
    _, again = sample_loop(model, ddpm(), c3, x3, n3)
    assert torch.equal(again, expect3)
    handle.remove()


def test_rising_timestep_before_K_calls_is_refused():
    model = make_model()
    cond, x, noises = inputs(K=10)
    handle = br.apply(model, br.uniform_schedule(2, 100, 10))  # K = 100, but a DDIM-10 loop below
    sample_loop(model, ddim(10), cond, x, noises)
    assert handle.calls == 10
    with pytest.raises(br.SamplingRunError, match=r"after 10 of the schedule's K = 100 denoiser calls"):
        sample_loop(model, ddim(10), cond, x, noises)
    handle.remove()
    handle = br.apply(model, br.uniform_schedule(2, 100, 10), check_timesteps=False)
    sample_loop(model, ddim(10), cond, x, noises)
    sample_loop(model, ddim(10), cond, x, noises)
    assert handle.calls == 10
    handle.remove()


class FakePolicy:
    """diffusion_policy's DiffusionTransformerLowdimPolicy, reduced to its sampling loop."""

    def __init__(self, model, scheduler, K):
        self.model = model
        self.noise_scheduler = scheduler
        self.num_inference_steps = K

    @torch.no_grad()
    def predict_action(self, cond, x, noises):
        sch = self.noise_scheduler
        sch.set_timesteps(self.num_inference_steps)
        traj = x
        for k, t in enumerate(sch.timesteps):
            out = self.model(traj, t, cond)
            traj = sch.step(out, t, traj, noise=noises[k])
        return traj


def test_policy_object_and_predict_action_loops():
    model = make_model()
    steps = random_steps(2, 100, 13)
    policy = FakePolicy(model, ddpm(), 100)
    cond, x, noises = inputs()
    _, expect = sample_loop(Reference(model, steps), ddpm(), cond, x, noises)
    handle = br.apply(policy, br.schedule_from_steps(steps, 100))
    assert handle.model is model
    a = policy.predict_action(cond, x, noises)
    b = policy.predict_action(cond, x, noises)
    handle.remove()
    assert torch.equal(a, expect) and torch.equal(b, expect)
    # DDIM-10 policy with a DDIM-10 schedule
    pol10 = FakePolicy(model, ddim(10), 10)
    steps10 = random_steps(2, 10, 14, per_block=3)
    _, expect10 = sample_loop(Reference(model, steps10), ddim(10), cond, x, noises[:10])
    with br.apply(pol10, br.schedule_from_steps(steps10, 10, sampler_type="ddim")):
        assert torch.equal(pol10.predict_action(cond, x, noises[:10]), expect10)


# ---------------------------------------------------------------------------------------------
# remove() and refusals


def test_remove_restores_the_model_exactly():
    model = make_model()
    cond, x, noises = inputs()
    _, before = sample_loop(model, ddpm(), cond, x, noises)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    handle = br.apply(model, br.uniform_schedule(2, 100, 10))
    assert "forward" in model.__dict__
    _, cached = sample_loop(model, ddpm(), cond, x, noises)
    assert not torch.equal(cached, before)
    with pytest.raises(br.ScheduleMismatchError, match="already patched"):
        br.apply(model, br.full_schedule(2, 100))
    handle.remove()
    handle.remove()  # idempotent
    assert "forward" not in model.__dict__
    assert all("forward" not in layer.__dict__ for layer in model.decoder.layers)
    assert type(model).forward is TransformerForDiffusion.forward
    _, after = sample_loop(model, ddpm(), cond, x, noises)
    assert torch.equal(after, before)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    # the model can be patched again, and a pre-existing instance forward survives apply/remove
    sentinel = model.forward
    model.forward = sentinel
    with br.apply(model, br.full_schedule(2, 100)):
        pass
    assert model.__dict__["forward"] is sentinel


def test_mismatched_schedules_are_refused(tmp_path):
    model = make_model(n_layer=2)
    three = br.load_schedule(write_schedule(tmp_path, {b: [0] for b in ids(3)}, 100, "three.bacschedule"))
    with pytest.raises(br.ScheduleMismatchError) as e:
        br.apply(model, three)
    msg = str(e.value)
    assert "three.bacschedule" in msg and "3 decoder layers" in msg and "has 2 decoder layers" in msg
    assert "forward" not in model.__dict__  # nothing patched on refusal

    # a schedule built in code that lacks a block
    full = br.full_schedule(2, 100)
    holed = br.Schedule(full.model, full.sampler, full.solver, full.base_cost, tuple(b for b in full.blocks if b.id != "1.ca"))
    with pytest.raises(br.ScheduleMismatchError, match=r"missing block\(s\) 1\.ca; expected exactly sa, ca and ffn for each of the 2"):
        br.apply(model, holed)

    # K against the sampler
    with pytest.raises(br.ScheduleMismatchError, match=r"K = 100 denoiser calls .* num_inference_steps is 10"):
        br.apply(model, full, num_inference_steps=10)
    with pytest.raises(br.ScheduleMismatchError, match=r"FakePolicy.num_inference_steps is 10"):
        br.apply(FakePolicy(model, ddim(10), 10), full)
    with pytest.raises(br.ScheduleMismatchError, match=r"solved for the ddpm sampler .* DDIMScheduler"):
        br.apply(FakePolicy(model, ddim(100), 100), full)
    dpm = DPMSolverMultistepScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2")
    dpm.set_timesteps(10)
    ten = br.full_schedule(2, 10)
    with pytest.raises(br.ScheduleMismatchError, match=r"solved for the ddpm sampler .* DPMSolverMultistepScheduler; expected a schedule profiled with dpmsolver\+\+"):
        br.apply(FakePolicy(model, dpm, 10), ten)
    br.apply(FakePolicy(model, dpm, 10), br.full_schedule(2, 10, sampler_type="dpmsolver++")).remove()
    # a block-steps error in a schedule built in code
    bad = br.Schedule(full.model, full.sampler, full.solver, full.base_cost,
                      (br.ScheduleBlock("0.sa", (1, 2), (), (), ()),) + full.blocks[1:])
    with pytest.raises(br.ScheduleError, match=r"blocks\[0\]: step 0 is not an update"):
        br.apply(model, bad)
    assert "forward" not in model.__dict__


def test_unsupported_models_are_refused():
    with pytest.raises(br.ScheduleMismatchError, match="has no decoder layers"):
        br.apply(nn.Linear(3, 3), br.full_schedule(1, 10))

    class PostNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 16, batch_first=True), 1)

    with pytest.raises(br.ScheduleMismatchError, match="norm_first=False"):
        br.apply(PostNorm(), br.full_schedule(1, 10))

    class Custom(nn.TransformerDecoderLayer):
        def forward(self, *a, **k):  # noqa: D401
            return super().forward(*a, **k)

    m = make_model(n_layer=1)
    m.decoder.layers[0].__class__ = Custom
    with pytest.raises(br.ScheduleMismatchError, match="overrides forward"):
        br.apply(m, br.full_schedule(1, 10))


# ---------------------------------------------------------------------------------------------
# the loader


TS_SERIALISED = """{
  "format": "bacschedule",
  "version": 1,
  "model": {
    "path": "../models/policy.onnx",
    "sha256": "abababababababababababababababababababababababababababababababab"
  },
  "sampler": {
    "type": "ddpm",
    "steps": 12
  },
  "solver": {
    "budget": 3,
    "topN": 2,
    "forceLast": true,
    "profile": {
      "path": "policy.bacprofile",
      "sha256": "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
    }
  },
  "baseCost": {
    "flops": 123456,
    "timeUs": 0.00005
  },
  "blocks": [
    { "id": "0.sa", "acs": [0, 5, 11], "bua": [7], "manual": [], "manualOff": [3], "flops": 1048576, "timeUs": 12.5 },
    { "id": "0.ca", "acs": [0, 6, 11], "bua": [], "manual": [9], "manualOff": [], "flops": 2000000, "timeUs": 1e-7 },
    { "id": "0.ffn", "acs": [0, 7, 11], "bua": [], "manual": [], "manualOff": [], "flops": 4194304, "timeUs": 33 }
  ]
}
"""  # written by the TypeScript serializeSchedule (src/core/schedule-format.ts)


def test_loads_a_typescript_written_schedule_and_writes_the_same_bytes(tmp_path):
    p = tmp_path / "ts.bacschedule"
    p.write_text(TS_SERIALISED, encoding="utf-8")
    s = br.load_schedule(str(p))
    assert s.K == 12 and s.sampler.type == "ddpm" and s.n_layers == 1
    assert s.solver == br.SolverParams(3, 2, True, br.FileRef("policy.bacprofile", "cd" * 32))
    assert s.block("0.sa").updates == (0, 5, 7, 11)  # acs ∪ bua ∪ manual, manualOff excluded
    assert s.block("0.ca").updates == (0, 6, 9, 11)
    assert s.block("0.sa").cost == br.Cost(1048576, 12.5)
    assert s.source == str(p)
    assert br.dumps_schedule(s) == TS_SERIALISED


def test_test_helper_emits_the_serialiser_layout(tmp_path):
    p = write_schedule(tmp_path, {b: [0, 4] for b in ids(2)}, 10)
    with open(p, encoding="utf-8") as f:
        assert br.dumps_schedule(br.load_schedule(p)) == f.read()


def _valid_doc() -> dict:
    return schedule_doc({b: [0, 3, 6] for b in ids(2)}, 10)


def _case(mutate) -> str:
    d = copy.deepcopy(_valid_doc())
    r = mutate(d)
    return r if isinstance(r, str) else json.dumps(d, indent=2)


def _set(path, value):
    def f(d):
        o = d
        for k in path[:-1]:
            o = o[k]
        if value is _DEL:
            del o[path[-1]]
        else:
            o[path[-1]] = value

    return f


_DEL = object()

#: (name, text maker, expected [(path, message fragment)] or None when only rejection is checked)
MALFORMED = [
    ("truncated", lambda d: '{"format": "bacschedule",', [("", "invalid JSON at line 1, column 26")]),
    ("array root", lambda d: "[]", [("", 'is an array, expected a .bacschedule object (format "bacschedule")')]),
    ("not a schedule", _set(["format"], "bacprofile"), [("format", '"bacprofile" is not a BAC schedule, expected "bacschedule"')]),
    ("version 2", _set(["version"], 2), [("version", "version 2 is not supported, expected 1")]),
    ("version string", _set(["version"], "1"), [("version", '"1" is a string, expected 1')]),
    ("sha upper", _set(["model", "sha256"], "AB" * 32), [("model.sha256", "expected a lower-case hex sha256")]),
    ("model path missing", _set(["model", "path"], _DEL), [("model.path", "is missing, expected the model this schedule belongs to as {path, sha256}"), ("model.path", "is missing, expected a non-empty path")]),
    ("K zero", _set(["sampler", "steps"], 0), [("sampler.steps", "0 is out of range, expected an integer in 1…100000")]),
    ("K fractional", _set(["sampler", "steps"], 1.5), [("sampler.steps", "1.5 is not an integer, expected an integer in 1…100000")]),
    ("sampler type empty", _set(["sampler", "type"], ""), [("sampler.type", '"" is a string, expected a sampler name')]),
    ("budget above K", _set(["solver", "budget"], 11), [("solver.budget", "11 is out of range, expected an integer in 1…10")]),
    ("topN negative", _set(["solver", "topN"], -1), [("solver.topN", "-1 is out of range, expected an integer ≥ 0")]),
    ("forceLast string", _set(["solver", "forceLast"], "yes"), [("solver.forceLast", '"yes" is a string, expected true or false')]),
    ("profile missing", _set(["solver", "profile"], _DEL), [("solver.profile", "is missing, expected the solver parameters")]),
    ("timeUs negative", _set(["baseCost", "timeUs"], -1), [("baseCost.timeUs", "-1 is out of range, expected a finite number ≥ 0")]),
    ("flops infinite", lambda d: json.dumps(d).replace('"flops": 0', '"flops": 1e400', 1), [("baseCost.flops", "Infinity is not a finite number, expected an integer ≥ 0")]),
    ("legacy summary speedup string", _set(["summary"], {"updates": 1, "fullUpdates": 1, "speedupFlops": 1, "speedupTime": "x"}), [("summary.speedupTime", '"x" is a string, expected a finite number ≥ 0 or null')]),
    ("no blocks", _set(["blocks"], []), [("blocks", "is empty, expected the sa, ca and ffn blocks of every decoder layer")]),
    ("blocks object", _set(["blocks"], {}), [("blocks", "is an object, expected an array of blocks in model order")]),
    ("bad block id", _set(["blocks", 1, "id"], "0.mlp"), [("blocks[1].id", '"0.mlp" is a string, expected a block id "<layer>.<kind>"')]),
    ("step out of range", _set(["blocks", 0, "acs"], [0, 10]), [("blocks[0].acs[1]", "step 10 is out of range, expected an integer in 0…9")]),
    ("step repeated", _set(["blocks", 0, "acs"], [0, 3, 3]), [("blocks[0].acs[2]", "step 3 is repeated, expected each step once")]),
    ("steps unsorted", _set(["blocks", 0, "acs"], [0, 5, 2]), [("blocks[0].acs[2]", "step 2 comes after 5, expected steps in increasing order")]),
    ("step fractional", _set(["blocks", 0, "acs"], [0, 2.5]), [("blocks[0].acs[1]", "2.5 is not an integer, expected a step: an integer in 0…9")]),
    ("step string", _set(["blocks", 0, "acs"], [0, "3"]), [("blocks[0].acs[1]", '"3" is a string, expected a step')]),
    ("step boolean", _set(["blocks", 0, "acs"], [0, True]), [("blocks[0].acs[1]", "true is a boolean, expected a step")]),
    ("steps not array", _set(["blocks", 0, "bua"], None), [("blocks[0].bua", "is null, expected an array of steps")]),
    ("origins overlap", _set(["blocks", 0, "bua"], [3]), [("blocks[0].bua[0]", "step 3 is also in acs, expected each update under one origin")]),
    ("step 0 missing", _set(["blocks", 2, "acs"], [3]), [("blocks[2]", "step 0 is not an update, expected 0 in acs, bua or manual")]),
    ("manualOff 0", _set(["blocks", 0, "manualOff"], [0]), [("blocks[0].manualOff[0]", "step 0 cannot be switched off")]),
    ("manualOff overlaps", _set(["blocks", 0, "manualOff"], [6]), [("blocks[0].manualOff[0]", "step 6 is also an update (in acs), expected manualOff disjoint")]),
    ("duplicate block", _set(["blocks", 1, "id"], "0.sa"), [("blocks[1].id", 'duplicate block "0.sa" (also blocks[0]), expected each block once'), ("blocks", 'block "0.ca" is missing')]),
    ("out of order", lambda d: (d["blocks"].__setitem__(slice(0, 2), [d["blocks"][1], d["blocks"][0]]), json.dumps(d))[1], [("blocks[1].id", '"0.sa" comes after "0.ca", expected model order')]),
    ("missing block", lambda d: (d["blocks"].pop(4), json.dumps(d))[1], [("blocks", 'block "1.ca" is missing, expected sa, ca and ffn for every layer 0…1')]),
    ("unknown root key", _set(["extra"], 1), [("extra", 'unknown key "extra", expected only format, version, model')]),
    ("unknown block key", _set(["blocks", 0, "weight"], 1), [("blocks[0].weight", 'unknown key "weight"')]),
    ("duplicate key", lambda d: json.dumps(d).replace('"version": 1', '"version": 1, "version": 1'), [("version", "duplicate key, expected each key once")]),
    ("NaN", lambda d: json.dumps(d).replace('"flops": 0', '"flops": NaN', 1), [("", "invalid JSON")]),
    ("too many issues", _set(["blocks", 0, "acs"], [0] + [99] * 80), [("blocks[0].acs[1]", "step 99 is out of range"), ("", "more issue(s) not shown, fix the ones above first")]),
    ("a million layers", lambda d: (d["blocks"].append({**d["blocks"][-1], "id": "999999.ffn"}), json.dumps(d))[1], [("blocks", 'block "2.sa" is missing'), ("", "2999943 more issue(s) not shown")]),
]

VALID_VARIANTS = [
    ("float steps", lambda d: json.dumps(d).replace('"acs": [0, 3, 6]', '"acs": [0.0, 3, 6e0]', 1)),
    ("profile object", _set(["solver", "profile"], {"path": "p.bacprofile", "sha256": SHA})),
    ("all origins", lambda d: (d["blocks"][0].update(acs=[0], bua=[2], manual=[4], manualOff=[5]), json.dumps(d))[1]),
    ("unicode path", _set(["model", "path"], "modèles/policy.onnx")),
]


@pytest.mark.parametrize("name,make,expected", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_schedules_are_rejected_with_precise_messages(tmp_path, name, make, expected):
    p = tmp_path / "bad.bacschedule"
    p.write_text(_case(make), encoding="utf-8")
    with pytest.raises(br.ScheduleError) as e:
        br.load_schedule(str(p))
    err = e.value
    assert err.file == str(p) and err.issues
    for path, fragment in expected:
        assert any(i.path == path and fragment in i.message for i in err.issues), (path, fragment, err.issues)
    lines = str(err).split("\n")
    assert len(lines) == len(err.issues)
    for line, issue in zip(lines, err.issues):
        assert line == (f"{p}: {issue.path}: {issue.message}" if issue.path else f"{p}: {issue.message}")
        assert ", expected" in issue.message or "invalid JSON" in issue.message or "not shown" in issue.message


@pytest.mark.parametrize("name,make", VALID_VARIANTS, ids=[c[0] for c in VALID_VARIANTS])
def test_valid_variants_load(tmp_path, name, make):
    p = tmp_path / "ok.bacschedule"
    p.write_text(_case(make), encoding="utf-8")
    s = br.load_schedule(str(p))
    assert s.K == 10 and s.n_layers == 2


def test_every_issue_is_listed_and_non_utf8_is_rejected(tmp_path):
    def many(d):
        d["sampler"]["steps"] = "ten"
        d["solver"]["topN"] = -2
        d["blocks"][3]["acs"] = [1]
        d["blocks"][4]["bua"] = [1, 1]
        return json.dumps(d)

    p = tmp_path / "many.bacschedule"
    p.write_text(_case(many), encoding="utf-8")
    with pytest.raises(br.ScheduleError) as e:
        br.load_schedule(str(p))
    paths = [i.path for i in e.value.issues]
    assert paths == ["sampler.steps", "solver.topN", "blocks[3]", "blocks[4].bua[1]"]
    q = tmp_path / "latin1.bacschedule"
    q.write_bytes(b'{"format": "bacsch\xe9dule"}')
    with pytest.raises(br.ScheduleError, match="is not UTF-8 text"):
        br.load_schedule(str(q))
    with pytest.raises(FileNotFoundError):
        br.load_schedule(str(tmp_path / "absent.bacschedule"))


def _tsx_available() -> Optional[str]:
    node = shutil.which("node")
    if node is None:
        return "node is not on PATH"
    if not os.path.isdir(os.path.join(REPO, "node_modules", "tsx")):
        return "node_modules/tsx is not installed (npm ci)"
    return None


#: Number spellings that read as integers but are not (issue #12 defect 9), and ones that are.
NUMBER_SPELLINGS = ["99.99999999999999999", "1e-400", "3.0000000000000001", "6e0", "0.0", "1200e-2", "1e400", "-0", "2.5"]


def _fuzzed_cases(n: int, seed: int = 15) -> List[tuple]:
    """Seeded mutations of a valid schedule: values replaced, keys dropped or added, steps shuffled,
    numbers respelled, text cut -- the same files go through both readers."""
    import random

    rnd = random.Random(seed)
    fillers = [None, True, "x", [], {}, -1, 0, 1, 9, 10, 11, 1.5, [0], [0, 0], [3, 1], "0.sa"]
    out = []
    for i in range(n):
        d = _valid_doc()
        d["blocks"][rnd.randrange(6)]["manual"] = sorted(rnd.sample(range(1, 10), rnd.randrange(3)))
        paths = []

        def walk(v, path):
            paths.append(path)
            if isinstance(v, dict):
                for k in v:
                    walk(v[k], path + [k])
            elif isinstance(v, list):
                for j in range(len(v)):
                    walk(v[j], path + [j])

        walk(d, [])
        for _ in range(rnd.randrange(1, 3)):
            path = rnd.choice(paths[1:])
            parent = d
            try:
                for k in path[:-1]:
                    parent = parent[k]
                op = rnd.random()
                if op < 0.6:
                    parent[path[-1]] = rnd.choice(fillers)
                elif op < 0.75 and isinstance(parent, dict):
                    del parent[path[-1]]
                elif isinstance(parent, dict):
                    parent["extra"] = 1
            except (KeyError, IndexError, TypeError):
                pass
        text = json.dumps(d)
        if rnd.random() < 0.3:
            text = text.replace('"steps": 10', f'"steps": {rnd.choice(NUMBER_SPELLINGS)}', 1)
        if rnd.random() < 0.3:
            text = text.replace("[0, 3, 6]", f"[0, {rnd.choice(NUMBER_SPELLINGS)}, 6]", 1)
        if rnd.random() < 0.05:
            text = text[: rnd.randrange(len(text))]
        out.append((f"fuzz{i}", text))
    return out


def test_parity_with_the_typescript_reader(tmp_path):
    """Same files through src/core/schedule-format.ts: same verdict (accepted or rejected), and for
    accepted files the same serialised bytes. Hand-written cases plus 300 seeded mutations. Messages
    are not compared: each language words them from the shared contract."""
    why = _tsx_available()
    if why:
        pytest.skip(f"TypeScript parity not checked: {why}")
    cases = [(n, _case(m)) for n, m, _ in MALFORMED] + [(n, _case(m)) for n, m in VALID_VARIANTS]
    cases.append(("ts serialised", TS_SERIALISED))
    cases += [(f"spelling {s}", _case(_set(["sampler", "steps"], 0)).replace('"steps": 0', f'"steps": {s}', 1)) for s in NUMBER_SPELLINGS]
    cases += _fuzzed_cases(300)
    files = []
    for i, (_n, text) in enumerate(cases):
        f = tmp_path / f"case{i}.bacschedule"
        f.write_text(text, encoding="utf-8")
        files.append(str(f))
    core = os.path.join(REPO, "src", "core", "schedule-format.ts")
    script = tmp_path / "parse.ts"
    script.write_text(
        "import { readFileSync } from 'node:fs';\n"
        f"import {{ parseSchedule, serializeSchedule }} from {json.dumps(core)};\n"
        "const files: string[] = JSON.parse(readFileSync(0, 'utf8'));\n"
        "const out = files.map((f) => {\n"
        "  const r = parseSchedule(readFileSync(f, 'utf8'));\n"
        "  return r.ok ? { ok: true, text: serializeSchedule(r.schedule) } : { ok: false };\n"
        "});\n"
        "process.stdout.write(JSON.stringify(out));\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        ["node", "--import", "tsx", str(script)], input=json.dumps(files), capture_output=True, text=True, cwd=REPO, timeout=300
    )
    assert run.returncode == 0, run.stderr
    ts = json.loads(run.stdout)
    accepted = 0
    for (name, text), f, t in zip(cases, files, ts):
        try:
            py = {"ok": True, "text": br.dumps_schedule(br.load_schedule(f))}
        except br.ScheduleError:
            py = {"ok": False}
        assert py == t, (name, text[:300], py, t)
        accepted += t["ok"]
    # the fuzzing exercises both verdicts
    assert 20 < accepted < len(cases) - 20, accepted


def test_numbers_are_judged_as_written(tmp_path):
    """#12 defect 9: a literal that rounds onto an integer is not one; exact spellings of integers are."""
    p = tmp_path / "n.bacschedule"
    for spelling, ok in [("99.99999999999999999", False), ("1e-400", False), ("3.0000000000000001", False), ("1e1", True), ("10.0", True)]:
        p.write_text(_case(_set(["sampler", "steps"], 0)).replace('"steps": 0', f'"steps": {spelling}', 1), encoding="utf-8")
        if ok:
            assert br.load_schedule(str(p)).K == 10
        else:
            with pytest.raises(br.ScheduleError, match=r"sampler\.steps: .* is not an integer"):
                br.load_schedule(str(p))


def test_huge_and_repetitive_files_are_refused_early(tmp_path):
    """#12 defect 12: a file of many copies of one block, or over the size limit, is refused at once."""
    d = _valid_doc()
    d["blocks"] = [d["blocks"][0]] * 20_000
    p = tmp_path / "copies.bacschedule"
    p.write_text(json.dumps(d), encoding="utf-8")
    with pytest.raises(br.ScheduleError) as e:
        br.load_schedule(str(p))
    assert len(e.value.issues) == 1
    assert "19999 of the 20000 blocks repeat an earlier block's id" in e.value.issues[0].message
    big = tmp_path / "big.bacschedule"
    big.write_bytes(b" " * (16 * 2**20 + 1))
    with pytest.raises(br.ScheduleError, match="expected at most 16 MB"):
        br.load_schedule(str(big))


def test_the_solver_method_round_trips_and_bac_is_not_written(tmp_path):
    doc = _valid_doc()
    doc["solver"] = {"method": "grid", **doc["solver"]}
    p = tmp_path / "grid.bacschedule"
    p.write_text(emit(doc), encoding="utf-8")
    s = br.load_schedule(str(p))
    assert s.solver.method == "grid"
    assert br.dumps_schedule(s) == emit(doc)
    doc["solver"]["method"] = "bac"
    p.write_text(emit(doc), encoding="utf-8")
    assert '"method"' not in br.dumps_schedule(br.load_schedule(str(p)))
    doc["solver"]["method"] = "tuned"
    p.write_text(emit(doc), encoding="utf-8")
    with pytest.raises(br.ScheduleError, match="solver.method"):
        br.load_schedule(str(p))


def test_a_legacy_summary_is_read_and_dropped_on_write(tmp_path):
    doc = _valid_doc()
    blocks = doc.pop("blocks")
    doc["summary"] = {"updates": 1, "fullUpdates": 2, "speedupFlops": 9.5, "speedupTime": None}
    doc["blocks"] = blocks
    p = tmp_path / "legacy.bacschedule"
    p.write_text(emit(doc), encoding="utf-8")
    text = br.dumps_schedule(br.load_schedule(str(p)))
    assert '"summary"' not in text
    del doc["summary"]
    assert text == emit(doc)


def test_constructors_and_summary():
    u = br.uniform_schedule(8, 100, 10)
    assert u.block("7.ffn").updates == tuple(range(0, 100, 10))
    assert br.uniform_steps(100, 30) == list(range(0, 100, 3))  # ⌊K/M⌋ spacing, as the TS baseline
    assert u.summarize()["updates"] == 240 and u.summarize()["fullUpdates"] == 2400
    with pytest.raises(br.ScheduleError, match='block "1.ca" is missing'):
        br.schedule_from_steps({"0.sa": [0], "0.ca": [0], "0.ffn": [0], "1.sa": [0], "1.ffn": [0]}, 10)
    assert br.USAGE.startswith("handle = bac_runtime.apply(policy.model, bac_runtime.load_schedule(")


# ---------------------------------------------------------------------------------------------
# shared vectors with the TypeScript cached runner


DEMO = os.path.join(REPO, "fixtures", "demo")
VECTORS = sorted(glob.glob(os.path.join(DEMO, "vectors", "runtime-*.json")))


def _missing_demo_inputs() -> str:
    missing = []
    if not os.path.exists(os.path.join(DEMO, "policy_ema.pt")):
        missing.append("fixtures/demo/policy_ema.pt (the demo checkpoint)")
    if not glob.glob(os.path.join(DEMO, "*.bacschedule")):
        missing.append("fixtures/demo/*.bacschedule (a schedule solved from the demo profile)")
    missing.append("fixtures/demo/vectors/runtime-*.json")
    return (
        "missing " + "; ".join(missing) + " -- write the vectors with `/usr/bin/python3 python/make_runtime_vectors.py "
        "--checkpoint fixtures/demo/policy_ema.pt --schedule fixtures/demo/<name>.bacschedule`"
    )


TS_CACHED_CHECK = """\
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseSchedule } from %(core)s;
import { loadPolicy, policyScheduler } from %(policy)s;
import { CachedRunner, updateTable } from %(runner)s;

const vecPath = process.argv[2]!;
const doc = JSON.parse(readFileSync(vecPath, 'utf8'));
const base = dirname(vecPath);
const f32 = (t: { data: number[] }) => Float32Array.from(t.data);
const parsed = parseSchedule(readFileSync(join(base, doc.schedule.path), 'utf8'));
if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
const policy = await loadPolicy(join(base, doc.model.onnx));
const K = doc.timesteps.length;
const noises = f32(doc.tensors.step_noises);
const per = noises.length / K;
const runner = await CachedRunner.open(policy, 'cpu', 1);
const final = await runner.runChunk(policyScheduler(policy, K), updateTable(parsed.schedule, runner.blockIds), {
  batch: doc.batch,
  cond: f32(doc.tensors.cond),
  initialSample: f32(doc.tensors.initial_noise),
  noise: (k: number) => noises.slice(k * per, (k + 1) * per),
});
await runner.release();
process.stdout.write(JSON.stringify(Array.from(final)));
"""


def _ts_cached_final(vec: str, tmp_path) -> torch.Tensor:
    """Run the TypeScript cached runner (src/engine/runner.ts, the If-gated ONNX graph on ORT CPU)
    on a runtime vectors file's model, schedule and inputs; returns its final sample."""
    eng = lambda *p: json.dumps(os.path.join(REPO, "src", *p))  # noqa: E731
    script = tmp_path / "cached_check.mts"
    script.write_text(
        TS_CACHED_CHECK % {"core": eng("core", "schedule-format.ts"), "policy": eng("engine", "policy.ts"),
                           "runner": eng("engine", "runner.ts")},
        encoding="utf-8",
    )
    run = subprocess.run(["node", "--import", "tsx", str(script), vec], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return torch.tensor(json.loads(run.stdout), dtype=torch.float32)


def _check_vectors(vec: str) -> None:
    import make_runtime_vectors as mrv
    from make_test_vectors import sha256_file

    with open(vec, encoding="utf-8") as f:
        doc = json.load(f)
    assert doc["format"] == "bac-runtime-vectors" and doc["version"] == 1
    base = os.path.dirname(vec)
    for key in ("checkpoint", "schedule"):
        p = os.path.normpath(os.path.join(base, doc[key]["path"]))
        if not os.path.exists(p):
            pytest.skip(f"{os.path.relpath(p, REPO)} (the {key} {os.path.basename(vec)} was made from) is missing")
        assert sha256_file(p) == doc[key]["sha256"], (
            f"{os.path.relpath(p, REPO)} changed since {os.path.basename(vec)} was written; regenerate it with "
            "python/make_runtime_vectors.py"
        )
    got = mrv.recompute(doc, base)
    tol = float(doc["tolerance"])
    assert tol <= 1e-4
    for name in ("final", "actions"):
        if name in doc["tensors"]:
            want = mrv.tensor_from_json(doc["tensors"][name])
            diff = float((got[name] - want).abs().max())
            assert diff <= tol, f"{os.path.basename(vec)} {name}: max |diff| {diff} > {tol}"


@pytest.mark.parametrize("vec", VECTORS or [None], ids=[os.path.basename(v) for v in VECTORS] or ["none"])
def test_runtime_vectors_reproduce(vec):
    """The committed runtime vectors (what the TypeScript cached runner is checked against) are what
    bac_runtime computes now from the referenced checkpoint and schedule."""
    if vec is None:
        pytest.skip(_missing_demo_inputs())
    _check_vectors(vec)


@pytest.mark.parametrize("vec", VECTORS or [None], ids=[os.path.basename(v) for v in VECTORS] or ["none"])
def test_runtime_vectors_match_the_typescript_cached_runner(vec, tmp_path):
    """Acceptance: with the demo schedule, the TypeScript cached runner gives bac_runtime's final
    sample for the same noise and observations within the file's tolerance (1e-4)."""
    if vec is None:
        pytest.skip(_missing_demo_inputs())
    why = _tsx_available()
    if why:
        pytest.skip(f"TypeScript cached runner not run: {why}")
    with open(vec, encoding="utf-8") as f:
        doc = json.load(f)
    if not doc.get("model"):
        pytest.skip(f"{os.path.basename(vec)} records no ONNX model (write it with --onnx)")
    onnx_path = os.path.normpath(os.path.join(os.path.dirname(vec), doc["model"]["onnx"]))
    if not os.path.exists(onnx_path):
        pytest.skip(f"{os.path.relpath(onnx_path, REPO)} is missing")
    from make_test_vectors import sha256_file

    assert sha256_file(onnx_path) == doc["model"]["onnx_sha256"], (
        f"{os.path.relpath(onnx_path, REPO)} changed since {os.path.basename(vec)} was written; regenerate it with "
        "python/make_runtime_vectors.py"
    )
    import make_runtime_vectors as mrv

    ts = _ts_cached_final(vec, tmp_path)
    want = mrv.tensor_from_json(doc["tensors"]["final"]).reshape(-1)
    diff = float((ts - want).abs().max())
    assert diff <= float(doc["tolerance"]), f"TS cached runner vs bac_runtime: max |diff| {diff}"


def test_make_runtime_vectors_on_a_small_checkpoint(tmp_path):
    """The vectors writer end to end on a checkpoint shaped like bac_demo.train's policy_ema.pt."""
    import make_runtime_vectors as mrv

    model = make_model(n_layer=2)
    kwargs = dict(input_dim=3, output_dim=3, horizon=8, n_obs_steps=2, cond_dim=5, n_layer=2, n_head=4, n_emb=32,
                  p_drop_emb=0.0, p_drop_attn=0.3, causal_attn=True, n_cond_layers=0)
    meta = {
        "sampler": ddpm().config("ddpm"),
        "obs_keys": ["obs"],
        "horizon": 8,
        "n_obs_steps": 2,
        "n_action_steps": 4,
        "normalizer": {"obs": {"scale": [1.0] * 5, "offset": [0.0] * 5},
                       "action": {"scale": [2.0, 0.5, 1.0], "offset": [0.1, 0.0, -0.2]}},
    }
    ck = tmp_path / "policy_ema.pt"
    torch.save({"ema_state_dict": model.state_dict(), "model_config": kwargs, "bac_meta": meta}, str(ck))
    sched = write_schedule(tmp_path, random_steps(2, 100, 21), 100, "policy.bacschedule")
    out = tmp_path / "vectors" / "runtime-policy.json"
    rc = mrv.main(["--checkpoint", str(ck), "--schedule", sched, "--out", str(out), "--batch", "3"])
    assert rc == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["checkpoint"]["path"] == "../policy_ema.pt" and doc["schedule"]["path"] == "../policy.bacschedule"
    assert doc["tensors"]["step_noises"]["shape"] == [100, 3, 8, 3]
    assert doc["tensors"]["actions"]["shape"] == [3, 4, 3] and doc["action_slice"] == [1, 5]
    assert doc["timesteps"] == list(range(99, -1, -1))
    assert doc["max_abs_diff_vs_full"] > 1e-4  # the schedule changes the result
    # independent recomputation with the test's reference
    t = {k: mrv.tensor_from_json(doc["tensors"][k]) for k in ("cond", "initial_noise", "step_noises", "final")}
    _, ref = sample_loop(Reference(model, random_steps(2, 100, 21)), ddpm(), t["cond"], t["initial_noise"], t["step_noises"])
    assert torch.equal(ref, t["final"])
    _check_vectors(str(out))
    # a tampered final is caught
    doc["tensors"]["final"]["data"][0] += 1e-3
    out.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(AssertionError, match="final: max"):
        _check_vectors(str(out))
    # a mismatched schedule is a user error (exit 1)
    three = write_schedule(tmp_path, {b: [0] for b in ids(3)}, 100, "three.bacschedule")
    assert mrv.main(["--checkpoint", str(ck), "--schedule", three, "--out", str(tmp_path / "x.json")]) == 1


def test_typescript_cached_runner_agrees_on_a_small_exported_model(tmp_path):
    """The acceptance cross-check on a stand-in for the demo policy (until it exists): a small DP-T
    exported with bac_export, a schedule using every origin (acs, bua, manual; manualOff ignored),
    vectors written by make_runtime_vectors, the TypeScript cached runner within 1e-4."""
    why = _tsx_available()
    if why:
        pytest.skip(f"TypeScript cached runner not run: {why}")
    import make_runtime_vectors as mrv
    from bac_export import export_bac_onnx

    model = make_model(n_layer=2)
    kwargs = dict(input_dim=3, output_dim=3, horizon=8, n_obs_steps=2, cond_dim=5, n_layer=2, n_head=4, n_emb=32,
                  p_drop_emb=0.0, p_drop_attn=0.3, causal_attn=True, n_cond_layers=0)
    meta = {
        "sampler": ddpm().config("ddpm"),
        "obs_keys": ["a", "b"],
        "horizon": 8,
        "n_obs_steps": 2,
        "n_action_steps": 4,
        "normalizer": {"obs": {"scale": [1.0] * 5, "offset": [0.0] * 5},
                       "action": {"scale": [1.0] * 3, "offset": [0.0] * 3}},
    }
    ck = tmp_path / "policy_ema.pt"
    torch.save({"ema_state_dict": model.state_dict(), "model_config": kwargs, "bac_meta": meta}, str(ck))
    onnx_path = tmp_path / "policy.onnx"
    export_bac_onnx(model, str(onnx_path), meta)
    doc = schedule_doc(random_steps(2, 100, 31), 100)
    for i, b in enumerate(doc["blocks"]):
        steps = b["acs"]
        b["acs"], b["bua"], b["manual"] = steps[0::3], steps[1::3], steps[2::3]
        b["manualOff"] = [s for s in (50 + i, 97) if s not in steps]
    sched = tmp_path / "policy.bacschedule"
    sched.write_text(emit(doc), encoding="utf-8")
    out = tmp_path / "vectors" / "runtime-policy.json"
    assert mrv.main(["--checkpoint", str(ck), "--schedule", str(sched), "--onnx", str(onnx_path), "--out", str(out)]) == 0
    vec = json.loads(out.read_text(encoding="utf-8"))
    assert vec["model"]["onnx"] == "../policy.onnx"
    ts = _ts_cached_final(str(out), tmp_path)
    want = mrv.tensor_from_json(vec["tensors"]["final"]).reshape(-1)
    full = mrv.tensor_from_json(vec["tensors"]["full_final"]).reshape(-1)
    assert float((ts - want).abs().max()) <= 1e-4
    assert float((ts - full).abs().max()) > 1e-2  # the schedule matters, so agreement is not trivial

"""Apply a BAC schedule to a PyTorch DP-T (diffusion_policy's ``TransformerForDiffusion``).

How it works, without editing the user's classes:

* the model's ``forward`` is replaced *on the instance* by a thin wrapper that counts denoiser
  calls (step k = the k-th call of the current sampling run) and resets the caches when a new run
  starts;
* each decoder layer's ``forward`` is replaced *on the instance* by the pre-norm layer computation
  written out branch by branch: at step k, block b (``sa``, ``ca``, ``ffn``) is recomputed from the
  current residual stream when k ∈ C(b) and its branch output stored; otherwise the stored output
  is added to the residual stream instead.

The recompute path calls the layer's own ``norm1/2/3`` and ``_sa_block`` / ``_mha_block`` /
``_ff_block`` -- the very functions ``nn.TransformerDecoderLayer.forward`` calls with
``norm_first=True`` -- in the same order, so with every block updating at every step the patched
model is bit-identical to the unpatched one. :meth:`BACHandle.remove` deletes the instance
attributes, which restores the class methods exactly.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .schedule import BLOCK_KINDS, Schedule, block_ids, validate_schedule

#: The one line users paste (also shown by the editor's hover).
USAGE = 'handle = bac_runtime.apply(policy.model, bac_runtime.load_schedule("policy.bacschedule"))'

# Attribute set on our wrapper functions so a second apply() on the same model is recognised.
_MARK = "__bac_runtime_handle__"


class ScheduleMismatchError(ValueError):
    """The schedule does not fit the model (layer count, block list, K or sampler)."""


class SamplingRunError(RuntimeError):
    """The denoiser calls do not follow the schedule's sampling run (e.g. fewer than K calls per run)."""


def _decoder_layers(module: Any) -> Optional[List[nn.Module]]:
    dec = getattr(module, "decoder", None)
    layers = getattr(dec, "layers", None) if dec is not None else None
    if isinstance(module, nn.Module) and isinstance(layers, nn.ModuleList) and len(layers) > 0:
        return list(layers)
    return None


def find_denoiser(obj: Any) -> Tuple[nn.Module, Optional[Any], List[nn.Module]]:
    """Resolve what :func:`apply` patches: ``(denoiser, policy or None, decoder layers)``.

    ``obj`` is a ``TransformerForDiffusion``-shaped module (``obj.decoder.layers``) or a policy whose
    ``.model`` is one (diffusion_policy's ``DiffusionTransformer*Policy``). Raises
    :class:`ScheduleMismatchError` when neither holds.
    """
    layers = _decoder_layers(obj)
    if layers is not None:
        return obj, None, layers
    inner = getattr(obj, "model", None)
    layers = _decoder_layers(inner) if inner is not None else None
    if layers is not None:
        return inner, obj, layers
    raise ScheduleMismatchError(
        f"{type(obj).__name__} has no decoder layers: BAC needs a TransformerForDiffusion-shaped module "
        "(`model.decoder.layers`, nn.TransformerDecoderLayer with norm_first=True) or a policy whose "
        "`.model` is one; encoder-only (time_as_cond=False) and U-Net policies have no cacheable blocks"
    )


def _check_layers(layers: Sequence[nn.Module]) -> None:
    seen: Dict[int, int] = {}
    for i, layer in enumerate(layers):
        where = f"decoder layer {i} ({type(layer).__name__})"
        if not isinstance(layer, nn.TransformerDecoderLayer):
            raise ScheduleMismatchError(
                f"{where} is not an nn.TransformerDecoderLayer; the BAC runtime recomputes the sa, ca and "
                "ffn branches the way nn.TransformerDecoderLayer(norm_first=True) does"
            )
        if not getattr(layer, "norm_first", False):
            raise ScheduleMismatchError(
                f"{where} has norm_first=False (post-norm): its branch outputs are not added to a residual "
                "stream that BAC could cache; DP-T uses norm_first=True"
            )
        if type(layer).forward is not nn.TransformerDecoderLayer.forward:
            raise ScheduleMismatchError(
                f"{where} overrides forward(); the BAC runtime would bypass that code, so it refuses the layer"
            )
        for name in ("norm1", "norm2", "norm3", "_sa_block", "_mha_block", "_ff_block"):
            if not hasattr(layer, name):
                raise ScheduleMismatchError(f"{where} has no `{name}` (unsupported torch version?)")
        if id(layer) in seen:
            raise ScheduleMismatchError(
                f"decoder layers {seen[id(layer)]} and {i} are the same module object; BAC needs one "
                "module per layer (each layer has its own cache)"
            )
        seen[id(layer)] = i
        if _MARK in getattr(layer.__dict__.get("forward"), "__dict__", {}):
            raise ScheduleMismatchError(
                f"{where} is already patched by bac_runtime; call .remove() on the first handle before applying again"
            )


def _sampler_kind(scheduler: Any) -> Optional[str]:
    """The schedule's name for a diffusers-style scheduler object, or None when unknown."""
    name = type(scheduler).__name__.lower()
    if "ddim" in name:
        return "ddim"
    if "ddpm" in name:
        return "ddpm"
    if "dpmsolver" in name and "multistep" in name:
        config = getattr(scheduler, "config", None)
        algorithm = getattr(config, "algorithm_type", None) if config is not None else None
        if algorithm is None and isinstance(config, dict):
            algorithm = config.get("algorithm_type")
        # diffusers' default (and ours, which has no algorithm_type attribute) is dpmsolver++
        return str(algorithm or getattr(scheduler, "algorithm_type", None) or "dpmsolver++")
    return None


def _check_fit(
    schedule: Schedule,
    model: nn.Module,
    policy: Optional[Any],
    layers: Sequence[nn.Module],
    num_inference_steps: Optional[int],
) -> None:
    src = schedule.source or "the schedule"
    n = len(layers)
    what = f"{type(model).__name__} has {n} decoder layer{'s' if n != 1 else ''}"
    if schedule.n_layers != n:
        raise ScheduleMismatchError(
            f"{src} has blocks for {schedule.n_layers} decoder layers (0.sa … {schedule.n_layers - 1}.ffn) but "
            f"{what}; the schedule was solved for another model (its model: {schedule.model.path}), "
            "expected one solved from this model's export"
        )
    have = [b.id for b in schedule.blocks]
    want = block_ids(n)
    missing = [b for b in want if b not in have]
    extra = [b for b in have if b not in want]
    dup = sorted({b for b in have if have.count(b) > 1})
    if missing or extra or dup:
        parts = []
        if missing:
            parts.append(f"missing block(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unknown block(s) {', '.join(extra)}")
        if dup:
            parts.append(f"repeated block(s) {', '.join(dup)}")
        raise ScheduleMismatchError(
            f"{src}: {'; '.join(parts)}; expected exactly sa, ca and ffn for each of the {n} decoder layers "
            f"of {type(model).__name__} ({want[0]} … {want[-1]})"
        )
    if have != want:
        raise ScheduleMismatchError(f"{src}: blocks are not in model order, expected {', '.join(want)}")
    K = schedule.K
    steps = num_inference_steps
    source = "num_inference_steps"
    policy_steps = getattr(policy, "num_inference_steps", None) if policy is not None else None
    if steps is None and isinstance(policy_steps, numbers.Integral) and not isinstance(policy_steps, bool):
        # diffusion_policy's policies sample with exactly this many scheduler steps
        steps, source = int(policy_steps), f"{type(policy).__name__}.num_inference_steps"
    if steps is not None and steps != K:
        raise ScheduleMismatchError(
            f"{src} is for K = {K} denoiser calls per action chunk ({schedule.sampler.type}) but {source} is "
            f"{steps}; expected a schedule solved for {steps} steps (bac solve on a profile made with {steps})"
        )
    scheduler = getattr(policy, "noise_scheduler", None) if policy is not None else None
    kind = _sampler_kind(scheduler) if scheduler is not None else None
    stype = schedule.sampler.type.lower()
    if scheduler is not None and kind is None:
        raise ScheduleMismatchError(
            f"{src} was solved for the {stype} sampler but {type(policy).__name__}.noise_scheduler is "
            f"{type(scheduler).__name__}, which BAC cannot match to it; expected a DDPM, DDIM or DPM-Solver++ "
            "scheduler (diffusers' classes), or apply to policy.model and pass num_inference_steps"
        )
    if kind is not None and stype in ("ddpm", "ddim", "dpmsolver++") and kind != stype:
        raise ScheduleMismatchError(
            f"{src} was solved for the {stype} sampler but {type(policy).__name__}.noise_scheduler is "
            f"{type(policy.noise_scheduler).__name__}; expected a schedule profiled with {kind}"
        )


def _first_tensor(args: Tuple[Any, ...], kwargs: Dict[str, Any], index: int, name: str) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name)


class BACHandle:
    """A schedule applied to a model. Returned by :func:`apply`.

    * ``calls``: denoiser calls made so far in the current sampling run (0 … K);
    * :meth:`reset`: start a new sampling run (call it at the start of each ``predict_action``; it
      also happens automatically when ``calls`` reached K, when the sample's shape, dtype or device
      changes, and checked when the timestep goes up);
    * :meth:`remove`: restore the model exactly (also on leaving a ``with`` block).
    """

    def __init__(self, model: nn.Module, layers: List[nn.Module], schedule: Schedule, check_timesteps: bool) -> None:
        self.model = model
        self.layers = layers
        self.schedule = schedule
        self.K = schedule.K
        self.check_timesteps = check_timesteps
        # plan[k][layer] = (recompute sa?, recompute ca?, recompute ffn?) -- one lookup per layer call
        n = len(layers)
        sets = {b.id: set(b.updates) for b in schedule.blocks}
        self._plan: List[Tuple[Tuple[bool, bool, bool], ...]] = [
            tuple(tuple(k in sets[f"{li}.{kind}"] for kind in BLOCK_KINDS) for li in range(n))  # type: ignore[misc]
            for k in range(self.K)
        ]
        self._caches: List[List[Optional[torch.Tensor]]] = [[None, None, None] for _ in range(n)]
        self._step = 0
        self._key: Optional[Tuple[Any, ...]] = None
        self._last_t: Optional[float] = None
        self._now: Optional[Tuple[Tuple[bool, bool, bool], ...]] = None  # plan of the call in progress
        self._saved: List[Tuple[nn.Module, bool, Any]] = []
        self.removed = False

    # -- public -----------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """Denoiser calls so far in the current sampling run (K after a complete run)."""
        return self._step

    def reset(self) -> None:
        """Start a new sampling run: forget every cached block output and set the step to 0.

        Call it at the start of each ``predict_action`` (it is also automatic after K calls and when
        the batch shape changes, so forgetting it costs nothing in the usual loops)."""
        for c in self._caches:
            c[0] = c[1] = c[2] = None
        self._step = 0
        self._key = None
        self._last_t = None

    def remove(self) -> None:
        """Undo :func:`apply`: the model and its layers get their own ``forward`` back (bit-exact
        original behaviour) and the caches are freed. Idempotent."""
        if self.removed:
            return
        for mod, had, prev in reversed(self._saved):
            if had:
                mod.forward = prev
            else:
                mod.__dict__.pop("forward", None)
        self._saved = []
        self.reset()
        self.removed = True

    def __enter__(self) -> "BACHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "removed" if self.removed else f"step {self._step}/{self.K}"
        return f"<BACHandle {self.schedule.source or 'schedule'} on {type(self.model).__name__}: {state}>"

    # -- patching -------------------------------------------------------------------------

    def _patch(self, mod: nn.Module, fn: Any) -> None:
        had = "forward" in mod.__dict__
        self._saved.append((mod, had, mod.__dict__.get("forward")))
        setattr(fn, _MARK, self)
        # An instance attribute shadows the class's forward; nn.Module.__call__ looks it up per call.
        mod.forward = fn

    def _install(self) -> None:
        inner = self.model.forward  # the class method bound to the instance (or an earlier override)
        h = self

        def forward(*args: Any, **kwargs: Any) -> Any:
            h._begin(args, kwargs)
            try:
                out = inner(*args, **kwargs)
            finally:
                h._now = None
            h._step += 1
            return out

        forward.__doc__ = getattr(inner, "__doc__", None)
        for li, layer in enumerate(self.layers):
            self._patch(layer, self._layer_forward(li, layer))
        self._patch(self.model, forward)

    def _begin(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        """Bookkeeping at the start of a denoiser call: pick step k's plan, reset when a run starts."""
        sample = _first_tensor(args, kwargs, 0, "sample")
        key = (tuple(sample.shape), sample.dtype, sample.device) if torch.is_tensor(sample) else None
        t = _first_tensor(args, kwargs, 1, "timestep")
        tv: Optional[float] = None
        # Only CPU tensors and numbers are read: reading a CUDA tensor would synchronise every step.
        if torch.is_tensor(t) and t.device.type == "cpu" and t.numel() > 0:
            tv = float(t.reshape(-1)[0])
        elif isinstance(t, (int, float)) and not isinstance(t, bool):
            tv = float(t)
        if self._step >= self.K or key != self._key:
            self.reset()
        elif (
            self._step > 0
            and tv is not None
            and self._last_t is not None
            and tv > self._last_t
            and not math.isnan(tv)
        ):
            # Samplers walk the timesteps downwards; a rise means a new run started early.
            if self.check_timesteps:
                done, prev_t = self._step, self._last_t
                self.reset()
                raise SamplingRunError(
                    f"a new sampling run started (timestep rose from {prev_t:g} to {tv:g}) after "
                    f"{done} of the schedule's K = {self.K} denoiser calls: the sampler makes fewer calls per "
                    "run than the schedule expects (check num_inference_steps), or a run was interrupted; call "
                    "handle.reset() at the start of each predict_action (pass check_timesteps=False to "
                    "apply() to reset silently instead)"
                )
            self.reset()
        self._key = key
        self._last_t = tv
        self._now = self._plan[self._step]

    def _layer_forward(self, li: int, layer: nn.Module):
        inner = layer.forward
        caches = self._caches[li]
        h = self

        def forward(
            tgt: torch.Tensor,
            memory: torch.Tensor,
            tgt_mask: Optional[torch.Tensor] = None,
            memory_mask: Optional[torch.Tensor] = None,
            tgt_key_padding_mask: Optional[torch.Tensor] = None,
            memory_key_padding_mask: Optional[torch.Tensor] = None,
            **kw: Any,
        ) -> torch.Tensor:
            now = h._now
            if now is None:
                # Not inside a denoiser call of the patched model (e.g. the decoder used on its own):
                # behave exactly as the layer does.
                return inner(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, **kw)
            # torch >= 2.0 passes tgt_is_causal / memory_is_causal; forward them as the layer would.
            extra = set(kw) - {"tgt_is_causal", "memory_is_causal"}
            if extra:
                raise TypeError(f"decoder layer {li}: unexpected arguments {sorted(extra)}")
            sa_extra = (kw["tgt_is_causal"],) if "tgt_is_causal" in kw else ()
            ca_extra = (kw["memory_is_causal"],) if "memory_is_causal" in kw else ()
            do_sa, do_ca, do_ffn = now[li]
            # Same ops in the same order as nn.TransformerDecoderLayer.forward with norm_first=True:
            #   x = x + _sa_block(norm1(x)); x = x + _mha_block(norm2(x), memory); x = x + _ff_block(norm3(x))
            # A block without a cache (cannot happen after step 0, which always updates) computes.
            x = tgt
            y = caches[0]
            if do_sa or y is None:
                y = layer._sa_block(layer.norm1(x), tgt_mask, tgt_key_padding_mask, *sa_extra)
                caches[0] = y
            x = x + y
            y = caches[1]
            if do_ca or y is None:
                y = layer._mha_block(layer.norm2(x), memory, memory_mask, memory_key_padding_mask, *ca_extra)
                caches[1] = y
            x = x + y
            y = caches[2]
            if do_ffn or y is None:
                y = layer._ff_block(layer.norm3(x))
                caches[2] = y
            x = x + y
            return x

        forward.__doc__ = getattr(inner, "__doc__", None)
        return forward


def apply(
    model: Any,
    schedule: Schedule,
    *,
    num_inference_steps: Optional[int] = None,
    check_timesteps: bool = True,
) -> BACHandle:
    """Apply ``schedule`` to a DP-T and return a :class:`BACHandle` (``.remove()``, ``.reset()``, ``.calls``).

    ``model`` is a ``TransformerForDiffusion``-shaped module (its ``decoder.layers`` are pre-norm
    ``nn.TransformerDecoderLayer``) or a policy whose ``.model`` is one. From then on every call of
    the model is one denoising step: step k of a run recomputes block b when k ∈ C(b) and reuses its
    last output otherwise. Usage::

        handle = bac_runtime.apply(policy.model, bac_runtime.load_schedule("policy.bacschedule"))

    Checks, raising :class:`ScheduleMismatchError` with what differs: the schedule covers exactly the
    model's layers × (sa, ca, ffn); K equals ``num_inference_steps`` when given (or, for a policy,
    ``policy.num_inference_steps``); a policy's DDPM/DDIM scheduler matches the schedule's sampler.
    At run time, a timestep that rises before K calls raises :class:`SamplingRunError` (the sampler
    does not make K calls per run) unless ``check_timesteps=False`` (then it just resets).

    Inference only: caches keep whatever autograd graph their tensors carry, so run under
    ``torch.no_grad()`` (as ``predict_action`` does); do not train, script or pickle the model while
    patched. The model's parameters and state dict are untouched.
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule is a {type(schedule).__name__}, expected a Schedule from bac_runtime.load_schedule")
    den, policy, layers = find_denoiser(model)
    if _MARK in getattr(den.__dict__.get("forward"), "__dict__", {}):
        raise ScheduleMismatchError(
            f"{type(den).__name__} is already patched by bac_runtime; call .remove() on the first handle before applying again"
        )
    _check_layers(layers)
    _check_fit(schedule, den, policy, layers, num_inference_steps)
    validate_schedule(schedule)  # a Schedule built in code gets the file's invariants checked too
    handle = BACHandle(den, layers, schedule, check_timesteps)
    handle._install()
    return handle

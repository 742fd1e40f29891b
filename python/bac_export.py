#!/usr/bin/python3
"""Export a TransformerForDiffusion-shaped denoiser to a BAC-ready ONNX file.

The model contract (docs/method.md, "Model contract (ONNX)"):

* inputs ``sample`` float32 [B, T, Da], ``timestep`` int64 [B], ``cond`` float32 [B, To, Do];
* first output ``prediction`` (the denoiser output, [B, T, Da]); then one graph output per block,
  ``bac:<layer>.<kind>`` with kind in (sa, ca, ffn), each [B, T, d] -- the residual branch of
  ``decoder.layers[layer]`` *before* the residual add, i.e. the outputs of its ``dropout1``
  (self-attention), ``dropout2`` (cross-attention) and ``dropout3`` (feed-forward);
* ``metadata_props`` JSON strings ``bac.sampler``, ``bac.obs_keys``, ``bac.horizon``,
  ``bac.n_obs_steps``, ``bac.n_action_steps``, ``bac.normalizer``.

Block outputs are captured with forward hooks on the dropout modules inside a wrapper module whose
``forward`` returns them; tracing therefore records them as graph outputs without changing the
computation. The layers are found by walking ``decoder.layers`` (any ``nn.TransformerDecoder`` built
the way diffusion_policy builds it), never by our own class, so a user's original
diffusion_policy module exports the same way.

CLI::

    /usr/bin/python3 python/bac_export.py --checkpoint run.ckpt [--weights ema_model|model] --out policy.onnx
    /usr/bin/python3 python/bac_export.py --checkpoint ckpt.pt [--config export.json] --out policy.onnx

A diffusion_policy workspace checkpoint (``cfg`` + ``state_dicts``) carries everything: model kwargs,
sampler, horizon and steps, normaliser (:mod:`bac_dp_checkpoint`; it is unpickled, so only export
checkpoints you trust). ``--config`` may also be left out when the checkpoint carries
``model_config`` and ``bac_meta`` (as ``bac_demo.train``'s ``policy_ema.pt`` does). The output is
written atomically (a temp file beside it, renamed at the end; removed on errors and on SIGTERM/SIGINT). ``export.json`` (all keys optional except where the
checkpoint cannot supply them)::

    {
      "model": {...TransformerForDiffusion kwargs...},      # if the checkpoint does not carry them
      "state_dict_key": "ema_state_dict",                   # which entry of the checkpoint to load
      "sampler": {"type": "ddpm", "num_train_timesteps": 100, "beta_schedule": "squaredcos_cap_v2",
                  "beta_start": 0.0001, "beta_end": 0.02, "prediction_type": "epsilon",
                  "clip_sample": true, "num_inference_steps": 100},
      "obs_keys": ["agent_pos", ...],
      "horizon": 10, "n_obs_steps": 2, "n_action_steps": 8,
      "normalizer": {"obs": {"scale": [...], "offset": [...]},          # concatenated in obs_keys order
                     "action": {"scale": [...], "offset": [...]}}
    }

``normalizer.obs`` may instead map each obs key to ``{"scale", "offset"}``; it is then concatenated in
``obs_keys`` order. The checkpoint may be a dict holding the state dict (under ``state_dict_key`` or
one of ``ema_state_dict``, ``ema``, ``state_dict``, ``model_state_dict``, ``model``) and optionally the
constructor kwargs (``model_config`` / ``model_kwargs``) and any of the metadata keys above under
``bac_meta``; a bare state dict; or a pickled ``nn.Module``. Values in ``--config`` win.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import secrets
import signal
import sys
import warnings
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn

BLOCK_KINDS: Tuple[str, ...] = ("sa", "ca", "ffn")
"""Block kinds in layer order; kind i is captured from ``dropout{i+1}`` of the decoder layer."""

_DROPOUT_FOR_KIND = {"sa": "dropout1", "ca": "dropout2", "ffn": "dropout3"}

INPUT_NAMES: Tuple[str, str, str] = ("sample", "timestep", "cond")
PREDICTION_NAME = "prediction"
OPSET = 17  # Debian's onnx 1.12 checker knows opsets <= 17; ORT accepts 13..26
METADATA_KEYS: Tuple[str, ...] = (
    "bac.sampler",
    "bac.obs_keys",
    "bac.horizon",
    "bac.n_obs_steps",
    "bac.n_action_steps",
    "bac.normalizer",
)
SAMPLER_KEYS: Tuple[str, ...] = (
    "type",
    "num_train_timesteps",
    "beta_schedule",
    "beta_start",
    "beta_end",
    "prediction_type",
    "clip_sample",
    "num_inference_steps",
)


class ExportError(ValueError):
    """A user-facing problem with the module or the configuration (message says what and how to fix)."""


def find_decoder_layers(module: nn.Module) -> List[nn.Module]:
    """Return the decoder layers of a TransformerForDiffusion-shaped module, in order.

    Looks at ``module.decoder.layers`` first (diffusion_policy's attribute); failing that, at the one
    ``nn.TransformerDecoder`` among the submodules. Every layer must have ``dropout1..3`` (the three
    residual branches of ``nn.TransformerDecoderLayer``). Raises :class:`ExportError` otherwise.
    """
    layers: Optional[Sequence[nn.Module]] = None
    decoder = getattr(module, "decoder", None)
    if decoder is not None and isinstance(getattr(decoder, "layers", None), nn.ModuleList):
        layers = list(decoder.layers)
    else:
        decs = [m for m in module.modules() if isinstance(m, nn.TransformerDecoder)]
        if len(decs) > 1:
            raise ExportError(
                f"{type(module).__name__} holds {len(decs)} nn.TransformerDecoder modules and no "
                "`decoder` attribute; BAC cannot tell which one is the denoiser trunk"
            )
        if decs:
            layers = list(decs[0].layers)
    if not layers:
        raise ExportError(
            f"{type(module).__name__} has no decoder layers: BAC needs a module whose `decoder.layers` "
            "are nn.TransformerDecoderLayer (as diffusion_policy's TransformerForDiffusion builds them); "
            "encoder-only (time_as_cond=False) and U-Net policies have no cacheable decoder blocks"
        )
    for i, layer in enumerate(layers):
        for name in _DROPOUT_FOR_KIND.values():
            if not isinstance(getattr(layer, name, None), nn.Module):
                raise ExportError(
                    f"decoder layer {i} ({type(layer).__name__}) has no `{name}` module; BAC expects "
                    "nn.TransformerDecoderLayer, whose dropout1/2/3 outputs are the sa/ca/ffn branches"
                )
    return list(layers)


def block_names(n_layers: int) -> List[str]:
    """Graph output names of the blocks, in model order: ``bac:0.sa, bac:0.ca, bac:0.ffn, bac:1.sa, ...``."""
    return [f"bac:{layer}.{kind}" for layer in range(n_layers) for kind in BLOCK_KINDS]


class BlockCapture(nn.Module):
    """Wraps a denoiser so ``forward`` returns ``(prediction, *block_outputs)`` in :func:`block_names` order.

    Forward hooks on each decoder layer's dropout1/2/3 record the branch outputs of the current call;
    returning them from ``forward`` is what makes ``torch.onnx.export`` keep them as graph outputs.
    The wrapped module's computation is unchanged (hooks do not modify outputs).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.layers = find_decoder_layers(model)
        self._captured: Dict[Tuple[int, str], torch.Tensor] = {}
        self._handles = []
        for li, layer in enumerate(self.layers):
            for kind, dname in _DROPOUT_FOR_KIND.items():
                self._handles.append(getattr(layer, dname).register_forward_hook(self._make_hook(li, kind)))

    def _make_hook(self, li: int, kind: str):
        def hook(_mod: nn.Module, _inp: Any, out: torch.Tensor) -> None:
            key = (li, kind)
            if key in self._captured:
                # A second call in one forward would make the capture ambiguous (shared layer objects).
                raise ExportError(f"block {li}.{kind} ran twice in one forward; layers must not be shared")
            self._captured[key] = out

        return hook

    def remove_hooks(self) -> None:
        """Detach the hooks from the wrapped model (the wrapper is unusable afterwards)."""
        for h in self._handles:
            h.remove()
        self._handles = []

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, cond: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self._captured = {}
        try:
            pred = self.model(sample, timestep, cond)
            missing = [
                f"{li}.{k}" for li in range(len(self.layers)) for k in BLOCK_KINDS if (li, k) not in self._captured
            ]
            if missing:
                raise ExportError(f"blocks not executed in forward: {', '.join(missing)}")
            blocks = [self._captured[(li, k)] for li in range(len(self.layers)) for k in BLOCK_KINDS]
        finally:
            self._captured = {}
        return (pred, *blocks)


def infer_io_dims(model: nn.Module) -> Dict[str, int]:
    """Infer horizon, action dim, n_obs_steps and obs dim from a DP-T-shaped module's attributes."""
    try:
        da = int(model.input_emb.in_features)
        horizon = int(getattr(model, "horizon", model.pos_emb.shape[1]))
        do = int(model.cond_obs_emb.in_features)
        n_obs = int(model.cond_pos_emb.shape[1]) - 1  # memory = time token + observation tokens
    except AttributeError as e:
        raise ExportError(
            f"cannot infer input shapes from {type(model).__name__} ({e}); pass horizon, action_dim, "
            "n_obs_steps and obs_dim explicitly"
        ) from None
    return {"horizon": horizon, "action_dim": da, "n_obs_steps": n_obs, "obs_dim": do}


def _json_meta(meta: Mapping[str, Any]) -> Dict[str, str]:
    """Validate the metadata dict and encode every value as a JSON string."""
    missing = [k for k in ("sampler", "obs_keys", "horizon", "n_obs_steps", "n_action_steps", "normalizer") if k not in meta]
    if missing:
        raise ExportError(f"metadata is missing {', '.join(missing)} (see bac_export.py's docstring for the format)")
    sampler = dict(meta["sampler"])
    absent = [k for k in SAMPLER_KEYS if k not in sampler]
    if absent:
        raise ExportError(f"sampler is missing {', '.join(absent)}")
    norm = meta["normalizer"]
    for part in ("obs", "action"):
        if part not in norm or "scale" not in norm[part] or "offset" not in norm[part]:
            raise ExportError(f"normalizer.{part} needs `scale` and `offset` arrays")
    return {
        "bac.sampler": json.dumps(sampler),
        "bac.obs_keys": json.dumps(list(meta["obs_keys"])),
        "bac.horizon": json.dumps(int(meta["horizon"])),
        "bac.n_obs_steps": json.dumps(int(meta["n_obs_steps"])),
        "bac.n_action_steps": json.dumps(int(meta["n_action_steps"])),
        "bac.normalizer": json.dumps(norm),
    }


def export_bac_onnx(
    model: nn.Module,
    out_path: str,
    metadata: Mapping[str, Any],
    *,
    dims: Optional[Mapping[str, int]] = None,
    batch: int = 2,
    opset: int = OPSET,
) -> List[str]:
    """Export ``model`` (eps(sample, timestep, cond)) as a BAC-ready ONNX file at ``out_path``.

    ``metadata`` holds ``sampler``, ``obs_keys``, ``horizon``, ``n_obs_steps``, ``n_action_steps`` and
    ``normalizer`` (Python values; stored as JSON strings under ``bac.*``). ``dims`` (horizon,
    action_dim, n_obs_steps, obs_dim) defaults to :func:`infer_io_dims`. The batch axis is dynamic.
    The model is put in eval mode (dropout off) for the export and restored afterwards; the file
    appears only complete (temp file + rename). Returns the graph output names. Raises :class:`ExportError` for modules without decoder layers
    or incomplete metadata; the written file passes ``onnx.checker.check_model``.
    """
    import onnx  # local import: only export needs it

    props = _json_meta(metadata)
    dims = dict(dims) if dims is not None else infer_io_dims(model)
    wrapper = BlockCapture(model)
    names = block_names(len(wrapper.layers))
    output_names = [PREDICTION_NAME, *names]
    was_training = model.training
    model.eval()
    temp = _temp_path(out_path)
    try:
        g = torch.Generator().manual_seed(0)
        sample = torch.randn(batch, dims["horizon"], dims["action_dim"], generator=g)
        timestep = torch.arange(batch, dtype=torch.long) + 1
        cond = torch.randn(batch, dims["n_obs_steps"], dims["obs_dim"], generator=g)
        dyn = {n: {0: "batch"} for n in (*INPUT_NAMES, *output_names)}
        extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
        with without_fast_path(model), warnings.catch_warnings():
            # torch's MHA asserts on shapes while tracing; T and d are static by design (only the
            # batch axis is dynamic), so those TracerWarnings are expected noise.
            warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
            # eager run: the true per-output shapes (tracing leaves T of the block outputs symbolic)
            out_shapes = [list(o.shape) for o in wrapper(sample, timestep, cond)]
            torch.onnx.export(
                wrapper,
                (sample, timestep, cond),
                temp,
                input_names=list(INPUT_NAMES),
                output_names=output_names,
                dynamic_axes=dyn,
                opset_version=opset,
                do_constant_folding=True,
                **extra,
            )
        proto = onnx.load(temp)
        _finish_proto(proto, output_names, out_shapes, props)
        onnx.save(proto, temp)
        os.replace(temp, out_path)
    finally:
        wrapper.remove_hooks()
        model.train(was_training)
        if os.path.exists(temp):
            os.unlink(temp)
    return output_names


def _temp_path(out_path: str) -> str:
    """A fresh name beside ``out_path`` (same file system, so the final rename is atomic)."""
    d, base = os.path.split(os.path.abspath(out_path))
    return os.path.join(d, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


@contextlib.contextmanager
def without_fast_path(model: nn.Module) -> Iterator[None]:
    """Run ``model`` on PyTorch's composite (exportable) transformer path, with no gradients kept.

    In eval mode without gradients, ``nn.TransformerEncoderLayer`` (the condition encoder when
    ``n_cond_layers > 0``) and self-attention ``nn.MultiheadAttention`` take a fused fast path
    (``aten::_transformer_encoder_layer_fwd``, ``aten::_native_multi_head_attention``) that the ONNX
    exporter cannot translate. torch >= 2.1 switches it off with
    ``torch.backends.mha.set_fastpath_enabled(False)``; every version (1.13 included) skips it when
    grad mode is on and a weight requires grad, so the parameters are marked so for the duration and
    restored after. Both paths compute the same function (the export tests compare with eager).
    """
    mha = getattr(torch.backends, "mha", None)
    can_toggle = mha is not None and hasattr(mha, "set_fastpath_enabled") and hasattr(mha, "get_fastpath_enabled")
    was_fast = mha.get_fastpath_enabled() if can_toggle else None
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        if can_toggle:
            mha.set_fastpath_enabled(False)
        for p, _ in flags:
            if p.is_floating_point():
                p.requires_grad_(True)
        with torch.enable_grad():
            yield
    finally:
        for p, had in flags:
            p.requires_grad_(had)
        if can_toggle:
            mha.set_fastpath_enabled(was_fast)


def _finish_proto(proto: Any, output_names: List[str], out_shapes: List[List[int]], props: Mapping[str, str]) -> None:
    """Check the traced graph's inputs/outputs, declare static T and d on the outputs, set the
    ``bac.*`` metadata, and run the ONNX checker."""
    import onnx
    got_outputs = [o.name for o in proto.graph.output]
    if got_outputs != output_names:
        raise RuntimeError(f"exported outputs {got_outputs} differ from the intended {output_names}")
    got_inputs = [i.name for i in proto.graph.input]
    if got_inputs != list(INPUT_NAMES):
        # e.g. a model that ignores `cond` would drop that input; the contract requires all three
        raise ExportError(f"exported inputs are {got_inputs}, expected {list(INPUT_NAMES)}")
    # Declare [batch, T, d] on every output so consumers (and ORT's outputMetadata) see static T, d.
    for out, shape in zip(proto.graph.output, out_shapes):
        dims_proto = out.type.tensor_type.shape.dim
        if len(dims_proto) != len(shape):
            raise RuntimeError(f"output {out.name}: rank {len(dims_proto)} differs from eager rank {len(shape)}")
        for i, (dp, size) in enumerate(zip(dims_proto, shape)):
            if i == 0:
                dp.dim_param = "batch"
            else:
                dp.dim_value = int(size)
    del proto.metadata_props[:]
    for k, v in props.items():
        entry = proto.metadata_props.add()
        entry.key = k
        entry.value = v
    proto.producer_name = "bac_export"
    onnx.checker.check_model(proto)


# ---------------------------------------------------------------------------------------------
# checkpoint + config loading for the CLI

_STATE_KEYS = ("ema_state_dict", "ema", "state_dict", "model_state_dict", "model")
_KWARG_KEYS = ("model_config", "model_kwargs", "model_cfg")


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(torch.is_tensor(v) for v in obj.values())


def load_model_and_meta(
    checkpoint: str, config: Mapping[str, Any], weights: Optional[str] = None
) -> Tuple[nn.Module, Dict[str, Any]]:
    """Build the model from a checkpoint + export config (see module docstring); returns it with the
    merged metadata (the checkpoint's, overridden by the config). A diffusion_policy workspace
    checkpoint is read by :mod:`bac_dp_checkpoint` (``weights``: ``ema_model`` or ``model``)."""
    from bac_dp_checkpoint import is_workspace_payload, load_checkpoint_file, policy_from_payload
    from bac_models import TransformerForDiffusion

    ckpt = load_checkpoint_file(checkpoint)
    meta: Dict[str, Any] = {}
    if is_workspace_payload(ckpt):
        found = policy_from_payload(ckpt, weights, source=checkpoint)
        model, meta = found.model, dict(found.metadata)
    elif weights is not None:
        raise ExportError(
            f"{checkpoint} is not a diffusion_policy workspace checkpoint (cfg + state_dicts); --weights applies "
            "to those only (use `state_dict_key` in --config for other files)"
        )
    elif isinstance(ckpt, nn.Module):
        model = ckpt
    else:
        kwargs = config.get("model")
        state = None
        if _is_state_dict(ckpt):
            state = ckpt
        elif isinstance(ckpt, Mapping):
            meta.update(ckpt.get("bac_meta", {}) or {})
            if kwargs is None:
                kwargs = next((ckpt[k] for k in _KWARG_KEYS if k in ckpt), None)
            key = config.get("state_dict_key")
            if key is not None:
                if key not in ckpt:
                    raise ExportError(f"{checkpoint}: no entry {key!r} (has {sorted(ckpt)})")
                state = ckpt[key]
            else:
                state = next((ckpt[k] for k in _STATE_KEYS if k in ckpt and _is_state_dict(ckpt[k])), None)
        if state is None:
            raise ExportError(
                f"{checkpoint}: no state dict found (looked for {', '.join(_STATE_KEYS)}, and it is not a "
                "diffusion_policy workspace checkpoint with cfg and state_dicts)"
            )
        if kwargs is None:
            raise ExportError(
                f"{checkpoint} carries no model kwargs; add a `model` object with TransformerForDiffusion's "
                "constructor arguments to the --config file"
            )
        model = TransformerForDiffusion(**kwargs)
        model.load_state_dict(state, strict=True)
    for k in ("sampler", "obs_keys", "horizon", "n_obs_steps", "n_action_steps", "normalizer"):
        if k in config:
            meta[k] = config[k]
    if "normalizer" in meta:
        meta["normalizer"] = concat_normalizer(meta["normalizer"], meta.get("obs_keys", []))
    model.eval()
    return model, meta


def concat_normalizer(norm: Mapping[str, Any], obs_keys: Sequence[str]) -> Dict[str, Any]:
    """Normalise the normalizer to ``{obs: {scale, offset}, action: {scale, offset}}`` with flat lists.

    ``obs`` given per key (``{key: {scale, offset}}``) is concatenated in ``obs_keys`` order, which is
    also the order of the last axis of ``cond``.
    """
    out: Dict[str, Any] = {}
    for part in ("obs", "action"):
        p = norm[part]
        if "scale" in p and "offset" in p:
            out[part] = {"scale": _flat(p["scale"]), "offset": _flat(p["offset"])}
        else:
            missing = [k for k in obs_keys if k not in p]
            if part != "obs" or missing:
                raise ExportError(f"normalizer.{part}: expected scale/offset or per-key entries (missing {missing})")
            out[part] = {
                "scale": [v for k in obs_keys for v in _flat(p[k]["scale"])],
                "offset": [v for k in obs_keys for v in _flat(p[k]["offset"])],
            }
    return out


def _flat(x: Any) -> List[float]:
    return [float(v) for v in torch.as_tensor(x, dtype=torch.float64).reshape(-1).tolist()]


def _exit_on_signal(signum: int, _frame: Any) -> None:
    # SystemExit unwinds through export_bac_onnx's cleanup, so a cancelled export leaves no temp file.
    raise SystemExit(128 + signum)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI entry point; exit 0 on success, 1 on a user error (message on stderr)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", required=True, help="diffusion_policy workspace .ckpt, or a torch checkpoint (see module docstring)")
    ap.add_argument("--config", help="export config JSON (model kwargs, sampler, metadata); optional when the checkpoint carries them")
    ap.add_argument("--weights", choices=("ema_model", "model"), help="workspace checkpoints: which policy weights (default: ema_model when present)")
    ap.add_argument("--out", required=True, help="output .onnx path (written atomically)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    previous = {sig: signal.signal(sig, _exit_on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if os.path.exists(args.out) and os.path.samefile(args.out, args.checkpoint):
            raise ExportError(f"--out {args.out} is the checkpoint itself; choose another output path")
        config: Dict[str, Any] = {}
        if args.config:
            with open(args.config, "r", encoding="utf-8") as f:
                config = json.load(f)
        model, meta = load_model_and_meta(args.checkpoint, config, args.weights)
        outputs = export_bac_onnx(model, args.out, meta)
    except (ExportError, OSError, json.JSONDecodeError) as e:
        print(f"bac_export: {e}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"wrote {args.out}: {len(outputs) - 1} block outputs, metadata {', '.join(METADATA_KEYS)}")
    return 0


if __name__ == "__main__":
    # Run the importable module's main: bac_dp_checkpoint imports `bac_export`, so the ExportError it
    # raises is that module's class, which this script's own copy (`__main__`) would not catch.
    from bac_export import main as module_main

    sys.exit(module_main())

"""Read a diffusion_policy workspace checkpoint (``…/checkpoints/epoch=0300-….ckpt``) for export.

Such a file is what ``BaseWorkspace.save_checkpoint`` writes: ``torch.save(payload, f,
pickle_module=dill)`` with ``payload = {'cfg': <OmegaConf DictConfig>, 'state_dicts': {'model': …,
'ema_model': …, 'optimizer': …}, 'pickles': {…}}``. For ``DiffusionTransformerLowdimPolicy`` the
policy's state dict holds the denoiser under ``model.*`` and the normaliser under
``normalizer.params_dict.{obs,action}.{scale,offset,input_stats.*}``; ``cfg.policy`` holds the
denoiser's kwargs (``model``), the diffusers scheduler kwargs (``noise_scheduler`` with ``_target_``)
and ``horizon``, ``n_obs_steps``, ``n_action_steps``, ``num_inference_steps``, ``obs_as_cond``,
``pred_action_steps_only``; ``cfg.task`` the observation and action sizes.

The denoiser is rebuilt from :class:`bac_models.TransformerForDiffusion` (same constructor and
state-dict names), so diffusion_policy itself need not be installed; ``omegaconf`` and ``dill`` are
(Debian: python3-omegaconf, python3-dill), imported only when a checkpoint is read.

Trust model: a checkpoint is code. Unpickling runs whatever the file says (torch >= 2.6 refuses
such files by default, so this module passes ``weights_only=False`` explicitly), and the config's
``${eval:…}`` values are Python expressions evaluated by the ``eval`` resolver diffusion_policy
registers. Only read checkpoints you would run.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from bac_export import ExportError

WEIGHTS = ("ema_model", "model")
"""Entries of ``state_dicts`` that hold a policy; the first present is the default (EMA when kept)."""

_SUPPORTED_POLICY = "DiffusionTransformerLowdimPolicy"
_SAMPLER_TYPES = {"DDPMScheduler": "ddpm", "DDIMScheduler": "ddim", "DPMSolverMultistepScheduler": "dpmsolver++"}
# Optional diffusers scheduler arguments the BAC samplers understand (src/engine/samplers.ts).
_OPTIONAL_SAMPLER_KEYS: Dict[str, Tuple[str, ...]] = {
    "ddpm": ("clip_sample_range", "steps_offset", "timestep_spacing"),
    "ddim": ("clip_sample_range", "steps_offset", "set_alpha_to_one", "timestep_spacing"),
    "dpmsolver++": (
        "steps_offset",
        "timestep_spacing",
        "solver_order",
        "solver_type",
        "lower_order_final",
        "euler_at_final",
        "final_sigmas_type",
        "lambda_min_clipped",
        "thresholding",
        "dynamic_thresholding_ratio",
        "sample_max_value",
    ),
}
# diffusers' defaults for the keys the bac.sampler contract requires.
_DIFFUSERS_DEFAULTS = {
    "num_train_timesteps": 1000,
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "prediction_type": "epsilon",
}


def _require(module: str, debian: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ExportError(
            f"reading a diffusion_policy checkpoint needs the Python package `{module}` "
            f"(Debian: apt install {debian}; pip: pip install {module})"
        ) from None


def is_workspace_payload(obj: Any) -> bool:
    """True for the dict ``BaseWorkspace.save_checkpoint`` writes (``cfg`` + ``state_dicts``)."""
    return isinstance(obj, Mapping) and "cfg" in obj and isinstance(obj.get("state_dicts"), Mapping)


def load_checkpoint_file(path: str) -> Any:
    """``torch.load`` a checkpoint on the CPU with ``dill`` when it is installed (diffusion_policy
    saves with it) and ``weights_only=False`` where torch has that argument (see the trust model in
    the module docstring). A file that needs omegaconf or dill to unpickle gets a message saying so."""
    kwargs: Dict[str, Any] = {"map_location": "cpu"}
    if "weights_only" in inspect.signature(torch.load).parameters:
        kwargs["weights_only"] = False
    try:
        import dill  # noqa: F401  (lazy: only checkpoints need it)

        kwargs["pickle_module"] = dill
    except ImportError:
        pass
    try:
        return torch.load(path, **kwargs)
    except ModuleNotFoundError as e:
        debian = {"omegaconf": "python3-omegaconf", "dill": "python3-dill"}.get(str(e.name).split(".")[0])
        if debian:
            raise ExportError(f"{path} needs the Python package `{e.name}` to unpickle (Debian: apt install {debian})") from None
        raise ExportError(
            f"{path} pickles an object of module `{e.name}`, which is not installed; export from a workspace "
            "checkpoint (cfg + state_dicts), a state dict or a module whose code is importable"
        ) from None
    except OSError as e:
        if not os.path.isfile(path):
            raise ExportError(f"{path} does not exist or is not a file") from None
        raise ExportError(f"{path} is not a readable torch checkpoint (truncated or not a torch.save file: {e})") from None
    except Exception as e:  # unpickling reports bad files with many types (UnpicklingError, RuntimeError, EOFError…)
        first = (str(e).splitlines() or [""])[0]
        raise ExportError(f"{path} is not a readable torch checkpoint ({type(e).__name__}: {first})") from None


def register_eval_resolver() -> None:
    """Register OmegaConf's ``eval`` resolver as diffusion_policy's train.py does, unless one is."""
    omegaconf = _require("omegaconf", "python3-omegaconf")
    if not omegaconf.OmegaConf.has_resolver("eval"):
        omegaconf.OmegaConf.register_new_resolver("eval", eval)


def _resolved(cfg: Any, dotted: str, default: Any = None) -> Any:
    """Value at ``dotted`` in an OmegaConf config, interpolations resolved, as plain Python."""
    from omegaconf import OmegaConf

    try:
        node = OmegaConf.select(cfg, dotted, default=default, throw_on_missing=False)
        if OmegaConf.is_config(node):
            return OmegaConf.to_container(node, resolve=True)
        return node
    except Exception as e:  # omegaconf raises its own error types for bad interpolations
        raise ExportError(f"cfg.{dotted} cannot be resolved ({type(e).__name__}: {str(e).splitlines()[0]})") from None


def _class_name(target: Any) -> str:
    return str(target or "").rsplit(".", 1)[-1]


@dataclass
class WorkspacePolicy:
    """What the exporter takes from a workspace checkpoint."""

    model: nn.Module
    """The denoiser (our TransformerForDiffusion), eval mode."""
    metadata: Dict[str, Any]
    """``sampler``, ``obs_keys``, ``horizon``, ``n_obs_steps``, ``n_action_steps``, ``normalizer``."""
    weights: str
    """Which ``state_dicts`` entry was loaded (``ema_model`` or ``model``)."""
    policy_class: str


def _check_policy_kind(cfg: Any) -> str:
    """The policy class name; refuses image/hybrid, U-Net and inpainting policies with what is supported."""
    target = _class_name(_resolved(cfg, "policy._target_"))
    supported = (
        f"BAC exports {_SUPPORTED_POLICY} (low-dim observations as the transformer's condition, "
        "obs_as_cond: true)"
    )
    shape_meta = _resolved(cfg, "task.shape_meta") or _resolved(cfg, "policy.shape_meta")
    rgb = [k for k, v in ((shape_meta or {}).get("obs") or {}).items() if isinstance(v, Mapping) and v.get("type") == "rgb"]
    if "Image" in target or "Hybrid" in target or rgb:
        what = f" (image observations: {', '.join(rgb)})" if rgb else ""
        raise ExportError(
            f"cfg.policy is {target or 'an image policy'}{what}: image and hybrid policies encode observations "
            f"with a ResNet encoder that BAC does not export yet. {supported}; the denoiser alone cannot be "
            "fed camera observations"
        )
    if "Unet" in target or "UNet" in target:
        raise ExportError(f"cfg.policy is {target}: a U-Net has no transformer decoder blocks to cache. {supported}")
    model_target = _class_name(_resolved(cfg, "policy.model._target_"))
    if model_target and model_target != "TransformerForDiffusion":
        raise ExportError(f"cfg.policy.model is {model_target}, not TransformerForDiffusion. {supported}")
    if _resolved(cfg, "policy.model") is None:
        raise ExportError(f"cfg.policy has no `model` (TransformerForDiffusion kwargs). {supported}")
    if not _resolved(cfg, "policy.obs_as_cond", True):
        raise ExportError(
            "cfg.policy.obs_as_cond is false: this policy inpaints observations into the sample instead of "
            f"conditioning the transformer on them, which the BAC model contract (a `cond` input) does not cover. {supported}"
        )
    if _resolved(cfg, "policy.pred_action_steps_only", False):
        raise ExportError(
            "cfg.policy.pred_action_steps_only is true: the sample is n_action_steps long instead of the horizon, "
            f"which BAC does not support yet. {supported} with pred_action_steps_only: false"
        )
    return target or _SUPPORTED_POLICY


def sampler_from_cfg(scheduler: Mapping[str, Any], num_inference_steps: Optional[int], extra: Mapping[str, Any]) -> Dict[str, Any]:
    """``bac.sampler`` from ``cfg.policy.noise_scheduler`` (diffusers kwargs with ``_target_``).

    ``num_inference_steps`` is the policy's (diffusion_policy uses ``num_train_timesteps`` when it is
    None); ``extra`` holds the policy's other kwargs, passed to ``scheduler.step`` (``eta`` for DDIM).
    Refuses what the BAC samplers would compute differently (another variance type, trained betas,
    DDPM/DDIM thresholding).
    """
    cls = _class_name(scheduler.get("_target_"))
    kind = _SAMPLER_TYPES.get(cls)
    if kind is None:
        raise ExportError(
            f"cfg.policy.noise_scheduler is {cls or 'without _target_'}; BAC samples with "
            f"{', '.join(_SAMPLER_TYPES)} (diffusers' meaning)"
        )
    if scheduler.get("trained_betas") is not None:
        raise ExportError("cfg.policy.noise_scheduler.trained_betas is set; BAC samplers need a named beta_schedule")
    variance = scheduler.get("variance_type")
    if kind == "ddpm" and variance not in (None, "fixed_small"):
        raise ExportError(
            f"cfg.policy.noise_scheduler.variance_type is {variance!r}; BAC's DDPM sampler uses 'fixed_small' "
            "(diffusion_policy's setting)"
        )
    if kind == "dpmsolver++" and scheduler.get("algorithm_type", "dpmsolver++") != "dpmsolver++":
        raise ExportError(
            f"cfg.policy.noise_scheduler.algorithm_type is {scheduler['algorithm_type']!r}; BAC supports dpmsolver++"
        )
    if kind != "dpmsolver++" and scheduler.get("thresholding"):
        raise ExportError(f"cfg.policy.noise_scheduler.thresholding is on; BAC's {kind} sampler clips with clip_sample")
    out: Dict[str, Any] = {"type": kind}
    for key, default in _DIFFUSERS_DEFAULTS.items():
        out[key] = scheduler.get(key, default)
    if "prediction_type" not in scheduler and "predict_epsilon" in scheduler:  # diffusers < 0.7 spelling
        out["prediction_type"] = "epsilon" if scheduler["predict_epsilon"] else "sample"
    out["clip_sample"] = bool(scheduler.get("clip_sample", kind != "dpmsolver++"))
    out["num_inference_steps"] = int(num_inference_steps if num_inference_steps is not None else out["num_train_timesteps"])
    for key in _OPTIONAL_SAMPLER_KEYS[kind]:
        if scheduler.get(key) is not None:
            out[key] = scheduler[key]
    if kind == "ddim" and extra.get("eta") is not None:
        out["eta"] = float(extra["eta"])
    out["num_train_timesteps"] = int(out["num_train_timesteps"])
    out["beta_start"] = float(out["beta_start"])
    out["beta_end"] = float(out["beta_end"])
    return out


def normalizer_from_state(state: Mapping[str, torch.Tensor], where: str) -> Dict[str, Any]:
    """``{obs: {scale, offset}, action: {scale, offset}}`` from a lowdim policy's
    ``normalizer.params_dict.<obs|action>.<scale|offset>`` (diffusion_policy's LinearNormalizer:
    normalised = x · scale + offset)."""
    out: Dict[str, Any] = {}
    for part in ("obs", "action"):
        got = {}
        for field in ("scale", "offset"):
            key = f"normalizer.params_dict.{part}.{field}"
            if key not in state:
                present = sorted({k.split(".")[2] for k in state if k.startswith("normalizer.params_dict.")})
                raise ExportError(
                    f"{where} has no {key} (normaliser entries: {', '.join(present) or 'none'}); a "
                    f"{_SUPPORTED_POLICY} fitted on its dataset has obs and action entries"
                )
            got[field] = [float(v) for v in state[key].detach().double().reshape(-1).tolist()]
        out[part] = got
    return out


def _obs_keys(cfg: Any, obs_dim: int) -> List[str]:
    """Dataset keys concatenated into the observation: ``cfg.task.obs_keys`` (robomimic low-dim tasks),
    the low-dim keys of ``cfg.task.shape_meta.obs``, else the one key ``obs`` of ``obs_dim`` values."""
    keys = _resolved(cfg, "task.obs_keys")
    if isinstance(keys, Sequence) and not isinstance(keys, str) and keys:
        return [str(k) for k in keys]
    shape_meta = _resolved(cfg, "task.shape_meta")
    if isinstance(shape_meta, Mapping) and isinstance(shape_meta.get("obs"), Mapping) and shape_meta["obs"]:
        return [str(k) for k in shape_meta["obs"]]
    del obs_dim  # one key whatever the width: the lowdim datasets store a single `obs` array
    return ["obs"]


def _denoiser_kwargs(cfg: Any) -> Dict[str, Any]:
    from bac_models import TransformerForDiffusion

    kwargs = dict(_resolved(cfg, "policy.model"))
    kwargs.pop("_target_", None)
    accepted = set(inspect.signature(TransformerForDiffusion.__init__).parameters) - {"self"}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise ExportError(
            f"cfg.policy.model has arguments TransformerForDiffusion does not take: {', '.join(unknown)} "
            f"(it takes {', '.join(sorted(accepted))})"
        )
    if not kwargs.get("time_as_cond", True):
        raise ExportError(
            "cfg.policy.model.time_as_cond is false: the encoder-only (BERT-like) variant has no decoder blocks to cache"
        )
    if int(kwargs.get("cond_dim", 0)) <= 0:
        raise ExportError("cfg.policy.model.cond_dim is 0: BAC needs the observations as the transformer's condition")
    return kwargs


def policy_from_payload(payload: Mapping[str, Any], weights: Optional[str] = None, *, source: str = "checkpoint") -> WorkspacePolicy:
    """Rebuild the denoiser and the BAC metadata from a workspace checkpoint's payload.

    ``weights`` picks ``state_dicts[weights]``; default ``ema_model`` when present, else ``model``.
    Raises :class:`ExportError` naming what is missing or unsupported.
    """
    from bac_models import TransformerForDiffusion

    register_eval_resolver()
    cfg = payload["cfg"]
    policy_class = _check_policy_kind(cfg)
    dicts = payload["state_dicts"]
    available = [w for w in WEIGHTS if isinstance(dicts.get(w), Mapping)]
    if weights is None:
        if not available:
            raise ExportError(f"{source}: state_dicts has no policy weights (has {', '.join(map(str, dicts)) or 'nothing'})")
        weights = available[0]
    elif weights not in available:
        raise ExportError(
            f"{source}: state_dicts has no {weights!r} (has {', '.join(available) or 'no policy weights'}); "
            f"pick one of {', '.join(available)}"
        )
    state = dicts[weights]
    where = f"{source}: state_dicts.{weights}"

    kwargs = _denoiser_kwargs(cfg)
    model = TransformerForDiffusion(**kwargs)
    denoiser = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
    if not denoiser:
        raise ExportError(f"{where} has no model.* entries (the denoiser's weights)")
    result = model.load_state_dict(denoiser, strict=False)
    if result.missing_keys or result.unexpected_keys:
        parts = []
        if result.missing_keys:
            parts.append(f"missing {', '.join(result.missing_keys[:4])}{' …' if len(result.missing_keys) > 4 else ''}")
        if result.unexpected_keys:
            parts.append(
                f"unexpected {', '.join(result.unexpected_keys[:4])}{' …' if len(result.unexpected_keys) > 4 else ''}"
            )
        raise ExportError(f"{where}: the denoiser's weights do not fit cfg.policy.model ({'; '.join(parts)})")
    model.eval()

    horizon = int(_resolved(cfg, "policy.horizon", kwargs.get("horizon")))
    n_obs_steps = int(_resolved(cfg, "policy.n_obs_steps", kwargs.get("n_obs_steps")))
    n_action_steps = int(_resolved(cfg, "policy.n_action_steps"))
    if horizon != int(kwargs["horizon"]) or n_obs_steps != int(kwargs.get("n_obs_steps") or horizon):
        raise ExportError(
            f"cfg.policy.horizon/n_obs_steps ({horizon}/{n_obs_steps}) differ from cfg.policy.model's "
            f"({kwargs['horizon']}/{kwargs.get('n_obs_steps')})"
        )
    policy_cfg = _resolved(cfg, "policy")
    known = {"_target_", "model", "noise_scheduler", "horizon", "obs_dim", "action_dim", "n_action_steps", "n_obs_steps",
             "num_inference_steps", "obs_as_cond", "pred_action_steps_only"}
    extra = {k: v for k, v in policy_cfg.items() if k not in known}
    sampler = sampler_from_cfg(policy_cfg.get("noise_scheduler") or {}, policy_cfg.get("num_inference_steps"), extra)

    normalizer = normalizer_from_state(state, where)
    obs_dim, action_dim = int(kwargs["cond_dim"]), int(kwargs["input_dim"])
    for part, want in (("obs", obs_dim), ("action", action_dim)):
        have = len(normalizer[part]["scale"])
        if have != want:
            raise ExportError(f"{where}: normalizer.{part} has {have} values, cfg.policy.model expects {want}")
    metadata = {
        "sampler": sampler,
        "obs_keys": _obs_keys(cfg, obs_dim),
        "horizon": horizon,
        "n_obs_steps": n_obs_steps,
        "n_action_steps": n_action_steps,
        "normalizer": normalizer,
    }
    return WorkspacePolicy(model=model, metadata=metadata, weights=weights, policy_class=policy_class)

"""Build diffusion_policy workspace checkpoints in its exact layout, for tests and fixtures.

Layout (facts from real-stanford/diffusion_policy, ``workspace/base_workspace.py`` and the lowdim
transformer workspace/policy; no diffusion_policy code is used):

* ``torch.save({'cfg', 'state_dicts', 'pickles'}, f, pickle_module=dill)``;
* ``cfg``: the Hydra-composed OmegaConf config of ``train_diffusion_transformer_lowdim_workspace.yaml``
  (interpolations such as ``${eval:'…'}`` and ``${now:…}`` kept, or resolved as train.py does);
* ``state_dicts``: ``model`` and ``ema_model`` (``DiffusionTransformerLowdimPolicy.state_dict()``:
  ``_dummy_variable``, ``model.*``, ``mask_generator._dummy_variable``,
  ``normalizer.params_dict.<action|obs>.{scale, offset, input_stats.{max, mean, min, std}}``) and
  ``optimizer``;
* ``pickles``: ``global_step``, ``epoch``, ``_output_dir`` as dill bytes.
"""

from __future__ import annotations

import collections
from typing import Any, Dict, Mapping, Optional, Sequence

import dill
import torch
import torch.nn as nn
from omegaconf import OmegaConf

DDPM_CFG = {
    "_target_": "diffusers.schedulers.scheduling_ddpm.DDPMScheduler",
    "num_train_timesteps": 100,
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "squaredcos_cap_v2",
    "variance_type": "fixed_small",
    "clip_sample": True,
    "prediction_type": "epsilon",
}


def lowdim_cfg(
    *,
    obs_dim: int,
    action_dim: int,
    horizon: int,
    n_obs_steps: int,
    n_action_steps: int,
    n_layer: int = 8,
    n_head: int = 4,
    n_emb: int = 256,
    n_cond_layers: int = 0,
    p_drop_attn: float = 0.3,
    obs_keys: Optional[Sequence[str]] = None,
    noise_scheduler: Optional[Mapping[str, Any]] = None,
    num_inference_steps: Optional[int] = 100,
    use_ema: bool = True,
    resolved: bool = False,
) -> Any:
    """The lowdim transformer workspace config as Hydra composes it (task included)."""
    task: Dict[str, Any] = {
        "name": "test_lowdim",
        "obs_dim": obs_dim,
        "action_dim": action_dim,
        "keypoint_dim": 3,
        "dataset_type": "ph",
        "env_runner": {"max_steps": "${eval:'500 if \"${task.dataset_type}\" == \"mh\" else 400'}",
                       "n_obs_steps": "${n_obs_steps}"},
        "dataset": {"horizon": "${horizon}", "pad_before": "${eval:'${n_obs_steps}-1'}"},
    }
    if obs_keys is not None:
        task["obs_keys"] = list(obs_keys)
    cfg = {
        "name": "train_diffusion_transformer_lowdim",
        "_target_": "diffusion_policy.workspace.train_diffusion_transformer_lowdim_workspace.TrainDiffusionTransformerLowdimWorkspace",
        "obs_dim": "${task.obs_dim}",
        "action_dim": "${task.action_dim}",
        "task_name": "${task.name}",
        "exp_name": "default",
        "horizon": horizon,
        "n_obs_steps": n_obs_steps,
        "n_action_steps": n_action_steps,
        "n_latency_steps": 0,
        "past_action_visible": False,
        "keypoint_visible_rate": 1.0,
        "obs_as_cond": True,
        "pred_action_steps_only": False,
        "policy": {
            "_target_": "diffusion_policy.policy.diffusion_transformer_lowdim_policy.DiffusionTransformerLowdimPolicy",
            "model": {
                "_target_": "diffusion_policy.model.diffusion.transformer_for_diffusion.TransformerForDiffusion",
                "input_dim": "${eval:'${action_dim} if ${obs_as_cond} else ${obs_dim} + ${action_dim}'}",
                "output_dim": "${policy.model.input_dim}",
                "horizon": "${horizon}",
                "n_obs_steps": "${n_obs_steps}",
                "cond_dim": "${eval:'${obs_dim} if ${obs_as_cond} else 0'}",
                "n_layer": n_layer,
                "n_head": n_head,
                "n_emb": n_emb,
                "p_drop_emb": 0.0,
                "p_drop_attn": p_drop_attn,
                "causal_attn": True,
                "time_as_cond": True,
                "obs_as_cond": "${obs_as_cond}",
                "n_cond_layers": n_cond_layers,
            },
            "noise_scheduler": dict(noise_scheduler or DDPM_CFG),
            "horizon": "${horizon}",
            "obs_dim": "${obs_dim}",
            "action_dim": "${action_dim}",
            "n_action_steps": "${n_action_steps}",
            "n_obs_steps": "${n_obs_steps}",
            "num_inference_steps": num_inference_steps,
            "obs_as_cond": "${obs_as_cond}",
            "pred_action_steps_only": "${pred_action_steps_only}",
        },
        "ema": {"_target_": "diffusion_policy.model.diffusion.ema_model.EMAModel", "power": 0.75, "max_value": 0.9999},
        "optimizer": {"learning_rate": 1.0e-4, "weight_decay": 1.0e-3, "betas": [0.9, 0.95]},
        "training": {"device": "cuda:0", "seed": 42, "use_ema": use_ema, "num_epochs": 5000},
        # Hydra's `now` resolver is not registered in a reader: resolving the whole config would fail.
        "logging": {"project": "diffusion_policy_debug", "name": "${now:%Y.%m.%d-%H.%M.%S}_${name}_${task_name}"},
        "task": task,
    }
    conf = OmegaConf.create(cfg)
    if resolved:
        if not OmegaConf.has_resolver("eval"):
            OmegaConf.register_new_resolver("eval", eval)
        # train.py resolves with Hydra's `now` registered; stand in for its value
        conf.logging.name = "2023.01.01-00.00.00_train_diffusion_transformer_lowdim_test_lowdim"
        OmegaConf.resolve(conf)
    return conf


def normalizer_entries(scale_offset: Mapping[str, Mapping[str, Sequence[float]]]) -> "collections.OrderedDict[str, torch.Tensor]":
    """``normalizer.params_dict.*`` entries (float32, as LinearNormalizer fits them) from
    ``{action: {scale, offset}, obs: {scale, offset}}``; input_stats derived so that the limits map to ±1."""
    out: "collections.OrderedDict[str, torch.Tensor]" = collections.OrderedDict()
    for part in ("action", "obs"):
        scale = torch.as_tensor(scale_offset[part]["scale"], dtype=torch.float32).reshape(-1)
        offset = torch.as_tensor(scale_offset[part]["offset"], dtype=torch.float32).reshape(-1)
        lo, hi = (-1 - offset) / scale, (1 - offset) / scale
        p = f"normalizer.params_dict.{part}"
        out[f"{p}.scale"] = scale
        out[f"{p}.offset"] = offset
        out[f"{p}.input_stats.max"] = hi
        out[f"{p}.input_stats.mean"] = (lo + hi) / 2
        out[f"{p}.input_stats.min"] = lo
        out[f"{p}.input_stats.std"] = (hi - lo) / 4
    return out


def policy_state_dict(model: nn.Module, normalizer: Mapping[str, Mapping[str, Sequence[float]]]) -> "collections.OrderedDict[str, torch.Tensor]":
    """``DiffusionTransformerLowdimPolicy.state_dict()`` for a denoiser and a normaliser."""
    state: "collections.OrderedDict[str, torch.Tensor]" = collections.OrderedDict()
    state["_dummy_variable"] = torch.empty(0)
    for k, v in model.state_dict().items():
        state[f"model.{k}"] = v.detach().cpu().clone()
    state["mask_generator._dummy_variable"] = torch.empty(0)
    state.update(normalizer_entries(normalizer))
    return state


def save_workspace_checkpoint(
    path: str,
    cfg: Any,
    *,
    model_state: Mapping[str, torch.Tensor],
    ema_state: Optional[Mapping[str, torch.Tensor]] = None,
    optimizer_state: Optional[Mapping[str, Any]] = None,
) -> None:
    """Write what ``BaseWorkspace.save_checkpoint`` writes (``ema_model`` only when given)."""
    state_dicts: Dict[str, Any] = {"model": dict(model_state)}
    if ema_state is not None:
        state_dicts["ema_model"] = dict(ema_state)
    if optimizer_state is not None:
        state_dicts["optimizer"] = optimizer_state
    payload = {
        "cfg": cfg,
        "state_dicts": state_dicts,
        "pickles": {
            "global_step": dill.dumps(12000),
            "epoch": dill.dumps(300),
            "_output_dir": dill.dumps("data/outputs/2023.01.01/00.00.00_train_diffusion_transformer_lowdim_test"),
        },
    }
    with open(path, "wb") as f:
        torch.save(payload, f, pickle_module=dill)

"""A from-scratch replica of diffusion_policy's ``TransformerForDiffusion`` (DP-T).

Written from the *facts* of ``real-stanford/diffusion_policy``
(``diffusion_policy/model/diffusion/transformer_for_diffusion.py``), not copied. The goal is
structural and state-dict compatibility with the original, so that everything BAC Studio does
with this model (export, block hooks, profiling) behaves as it would on a user's DP-T:

* same constructor arguments and defaults;
* same attribute / parameter names (``input_emb``, ``pos_emb``, ``drop``, ``time_emb``,
  ``cond_obs_emb``, ``cond_pos_emb``, ``encoder``, ``decoder``, ``mask``, ``memory_mask``,
  ``ln_f``, ``head``, and the ``_dummy_variable`` of diffusion_policy's ``ModuleAttrMixin``), so a
  diffusion_policy checkpoint's state dict loads into it and vice versa;
* same masks (float 0 / -inf), same weight initialisation, same optimiser grouping.

The decoder is a plain ``nn.TransformerDecoder`` of pre-norm ``nn.TransformerDecoderLayer``; the
three residual branches of layer ``L`` are the outputs of ``decoder.layers[L].dropout1/2/3``
(self-attention, cross-attention, feed-forward) -- the blocks BAC caches.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn


class SinusoidalPosEmb(nn.Module):
    """Sinusoidal embedding of a (diffusion) timestep, as diffusion_policy's ``SinusoidalPosEmb``.

    For ``dim = 2h``: ``freq_i = exp(-i * ln(10000) / (h - 1))`` for ``i = 0..h-1`` and the embedding
    is ``[sin(t * freq), cos(t * freq)]`` (sines first). Input ``[B]`` (int or float), output
    ``[B, dim]`` float32.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half_dim = self.dim // 2
        scale = math.log(10000) / (half_dim - 1)
        freqs = torch.exp(torch.arange(half_dim, device=x.device) * -scale)
        args = x[:, None] * freqs[None, :]
        return torch.cat((args.sin(), args.cos()), dim=-1)


class TransformerForDiffusion(nn.Module):
    """DP-T denoiser ``eps(sample, timestep, cond)``.

    Condition path (``time_as_cond`` and ``obs_as_cond``): memory tokens are
    ``[time_emb(t), cond_obs_emb(cond_0), ..., cond_obs_emb(cond_{To-1})] + cond_pos_emb``, passed
    through ``encoder`` (an MLP ``Linear(n,4n) -> Mish -> Linear(4n,n)`` when ``n_cond_layers == 0``,
    else a pre-norm ``nn.TransformerEncoder``). Action path: ``input_emb(sample) + pos_emb``, then the
    decoder with the causal ``mask`` and ``memory_mask`` (action token ``t`` sees memory tokens
    ``s <= t + 1``), then ``ln_f`` and ``head``.

    Shapes: ``sample`` [B, horizon, input_dim]; ``timestep`` [B] or scalar; ``cond``
    [B, n_obs_steps, cond_dim]; output [B, horizon, output_dim].

    Like the original, ``obs_as_cond`` is *derived* from ``cond_dim > 0`` (the argument is accepted
    for config compatibility and ignored). The encoder-only (BERT) variant of the original
    (``time_as_cond=False``) is supported for fidelity, but it has no decoder and therefore no BAC
    blocks.
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        horizon: int,
        n_obs_steps: Optional[int] = None,
        cond_dim: int = 0,
        n_layer: int = 12,
        n_head: int = 12,
        n_emb: int = 768,
        p_drop_emb: float = 0.1,
        p_drop_attn: float = 0.1,
        causal_attn: bool = False,
        time_as_cond: bool = True,
        obs_as_cond: bool = False,
        n_cond_layers: int = 0,
    ) -> None:
        super().__init__()
        # diffusion_policy's ModuleAttrMixin adds this empty parameter (used to find device/dtype);
        # keeping it makes state dicts interchangeable with the original.
        self._dummy_variable = nn.Parameter()

        if n_obs_steps is None:
            n_obs_steps = horizon

        # Token counts: main trunk T, condition (memory) T_cond. Without time_as_cond the time
        # token joins the trunk instead of the memory.
        T = horizon
        T_cond = 1
        if not time_as_cond:
            T += 1
            T_cond -= 1
        obs_as_cond = cond_dim > 0  # the original overrides the argument the same way
        if obs_as_cond:
            assert time_as_cond, "obs_as_cond requires time_as_cond"
            T_cond += n_obs_steps

        self.input_emb = nn.Linear(input_dim, n_emb)
        self.pos_emb = nn.Parameter(torch.zeros(1, T, n_emb))
        self.drop = nn.Dropout(p_drop_emb)

        self.time_emb = SinusoidalPosEmb(n_emb)
        self.cond_obs_emb: Optional[nn.Linear] = None
        if obs_as_cond:
            self.cond_obs_emb = nn.Linear(cond_dim, n_emb)

        self.cond_pos_emb: Optional[nn.Parameter] = None
        self.encoder: Optional[nn.Module] = None
        self.decoder: Optional[nn.TransformerDecoder] = None
        encoder_only = False
        # Every attention layer: pre-norm (each branch output is added to the residual stream), GELU.
        layer_kwargs: Dict[str, Any] = dict(
            d_model=n_emb,
            nhead=n_head,
            dim_feedforward=4 * n_emb,
            dropout=p_drop_attn,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        if T_cond > 0:
            self.cond_pos_emb = nn.Parameter(torch.zeros(1, T_cond, n_emb))
            if n_cond_layers > 0:
                enc_layer = nn.TransformerEncoderLayer(**layer_kwargs)
                self.encoder = nn.TransformerEncoder(encoder_layer=enc_layer, num_layers=n_cond_layers)
            else:
                self.encoder = nn.Sequential(
                    nn.Linear(n_emb, 4 * n_emb),
                    nn.Mish(),
                    nn.Linear(4 * n_emb, n_emb),
                )
            dec_layer = nn.TransformerDecoderLayer(**layer_kwargs)
            # nn.TransformerDecoder deep-copies the layer n_layer times (no shared weights).
            self.decoder = nn.TransformerDecoder(decoder_layer=dec_layer, num_layers=n_layer)
        else:
            encoder_only = True
            enc_layer = nn.TransformerEncoderLayer(**layer_kwargs)
            self.encoder = nn.TransformerEncoder(encoder_layer=enc_layer, num_layers=n_layer)

        if causal_attn:
            # Additive float masks as torch.nn.Transformer expects: 0 where attention is allowed,
            # -inf elsewhere. Self-attention: token t sees tokens <= t (lower triangle incl. diag).
            sz = T
            allowed = (torch.triu(torch.ones(sz, sz)) == 1).transpose(0, 1)
            mask = allowed.float().masked_fill(allowed == 0, float("-inf")).masked_fill(allowed == 1, 0.0)
            self.register_buffer("mask", mask)
            if time_as_cond and obs_as_cond:
                # Memory token 0 is the time token, so action token t sees memory s with s - 1 <= t.
                S = T_cond
                t_idx, s_idx = torch.meshgrid(torch.arange(T), torch.arange(S), indexing="ij")
                mem_allowed = t_idx >= (s_idx - 1)
                mem_mask = (
                    mem_allowed.float()
                    .masked_fill(mem_allowed == 0, float("-inf"))
                    .masked_fill(mem_allowed == 1, 0.0)
                )
                self.register_buffer("memory_mask", mem_mask)
            else:
                self.memory_mask = None
        else:
            self.mask = None
            self.memory_mask = None

        self.ln_f = nn.LayerNorm(n_emb)
        self.head = nn.Linear(n_emb, output_dim)

        self.T = T
        self.T_cond = T_cond
        self.horizon = horizon
        self.time_as_cond = time_as_cond
        self.obs_as_cond = obs_as_cond
        self.encoder_only = encoder_only

        self.apply(self._init_weights)

    @property
    def device(self) -> torch.device:
        """Device of the parameters (as ModuleAttrMixin provides)."""
        return self._dummy_variable.device

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the parameters (as ModuleAttrMixin provides)."""
        return self._dummy_variable.dtype

    def _init_weights(self, module: nn.Module) -> None:
        """diffusion_policy's init: N(0, 0.02) for Linear/Embedding/MHA projection weights, zero
        biases, LayerNorm (1, 0), N(0, 0.02) positional embeddings. Unknown parameterised module
        types raise, as in the original, so a structural change cannot silently skip init."""
        no_param_types = (
            nn.Dropout,
            SinusoidalPosEmb,
            nn.TransformerEncoderLayer,
            nn.TransformerDecoderLayer,
            nn.TransformerEncoder,
            nn.TransformerDecoder,
            nn.ModuleList,
            nn.Mish,
            nn.Sequential,
        )
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.MultiheadAttention):
            for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
                w = getattr(module, name)
                if w is not None:
                    nn.init.normal_(w, mean=0.0, std=0.02)
            for name in ("in_proj_bias", "bias_k", "bias_v"):
                b = getattr(module, name)
                if b is not None:
                    nn.init.zeros_(b)
        elif isinstance(module, nn.LayerNorm):
            nn.init.zeros_(module.bias)
            nn.init.ones_(module.weight)
        elif isinstance(module, TransformerForDiffusion):
            nn.init.normal_(module.pos_emb, mean=0.0, std=0.02)
            if module.cond_obs_emb is not None:
                nn.init.normal_(module.cond_pos_emb, mean=0.0, std=0.02)
        elif isinstance(module, no_param_types):
            pass
        else:
            raise RuntimeError(f"Unaccounted module {module}")

    def get_optim_groups(self, weight_decay: float = 1e-3) -> List[Dict[str, object]]:
        """Split parameters into a weight-decayed group (weights of Linear / MultiheadAttention) and
        a non-decayed group (all biases, LayerNorm/Embedding weights, positional embeddings), as
        diffusion_policy does. Asserts every parameter lands in exactly one group."""
        decay: set = set()
        no_decay: set = set()
        decay_types = (nn.Linear, nn.MultiheadAttention)
        no_decay_types = (nn.LayerNorm, nn.Embedding)
        for mn, m in self.named_modules():
            for pn, _p in m.named_parameters():
                fpn = f"{mn}.{pn}" if mn else pn
                if pn.endswith("bias") or pn.startswith("bias"):
                    no_decay.add(fpn)
                elif pn.endswith("weight") and isinstance(m, decay_types):
                    decay.add(fpn)
                elif pn.endswith("weight") and isinstance(m, no_decay_types):
                    no_decay.add(fpn)
        no_decay.add("pos_emb")
        no_decay.add("_dummy_variable")
        if self.cond_pos_emb is not None:
            no_decay.add("cond_pos_emb")

        params = dict(self.named_parameters())
        both = decay & no_decay
        assert not both, f"parameters in both groups: {both}"
        missing = params.keys() - (decay | no_decay)
        assert not missing, f"parameters in no group: {missing}"
        return [
            {"params": [params[n] for n in sorted(decay)], "weight_decay": weight_decay},
            {"params": [params[n] for n in sorted(no_decay)], "weight_decay": 0.0},
        ]

    def configure_optimizers(
        self,
        learning_rate: float = 1e-4,
        weight_decay: float = 1e-3,
        betas: Tuple[float, float] = (0.9, 0.95),
    ) -> torch.optim.Optimizer:
        """AdamW over :meth:`get_optim_groups` (diffusion_policy's defaults)."""
        return torch.optim.AdamW(self.get_optim_groups(weight_decay), lr=learning_rate, betas=betas)

    def forward(
        self,
        sample: torch.Tensor,
        timestep: Union[torch.Tensor, float, int],
        cond: Optional[torch.Tensor] = None,
        **kwargs: object,
    ) -> torch.Tensor:
        """Predict the denoiser output for ``sample`` [B,T,Da] at ``timestep`` given ``cond``."""
        timesteps = timestep
        if not torch.is_tensor(timesteps):
            timesteps = torch.tensor([timesteps], dtype=torch.long, device=sample.device)
        elif timesteps.dim() == 0:
            timesteps = timesteps[None].to(sample.device)
        # expand (not repeat) so the export stays batch-dynamic
        timesteps = timesteps.expand(sample.shape[0])
        time_emb = self.time_emb(timesteps).unsqueeze(1)  # (B,1,n_emb)

        input_emb = self.input_emb(sample)

        if self.encoder_only:
            tokens = torch.cat([time_emb, input_emb], dim=1)
            t = tokens.shape[1]
            x = self.drop(tokens + self.pos_emb[:, :t, :])
            x = self.encoder(src=x, mask=self.mask)
            x = x[:, 1:, :]
        else:
            cond_emb = time_emb
            if self.obs_as_cond:
                cond_emb = torch.cat([cond_emb, self.cond_obs_emb(cond)], dim=1)
            tc = cond_emb.shape[1]
            memory = self.encoder(self.drop(cond_emb + self.cond_pos_emb[:, :tc, :]))

            t = input_emb.shape[1]
            x = self.drop(input_emb + self.pos_emb[:, :t, :])
            x = self.decoder(tgt=x, memory=memory, tgt_mask=self.mask, memory_mask=self.memory_mask)

        x = self.ln_f(x)
        return self.head(x)

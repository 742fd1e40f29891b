"""BAC Studio's PyTorch runtime: apply a ``.bacschedule`` to a diffusion_policy DP-T in one line.

    import bac_runtime
    handle = bac_runtime.apply(policy.model, bac_runtime.load_schedule("policy.bacschedule"))
    ...                      # policy.predict_action(obs) now reuses cached blocks
    handle.remove()          # back to the original model, bit for bit

Depends on torch and the standard library only. See python/README.md and docs/pytorch-runtime.md.
"""

from .runtime import USAGE, BACHandle, SamplingRunError, ScheduleMismatchError, apply, find_denoiser
from .schedule import (
    BLOCK_KINDS,
    MAX_ISSUES,
    SCHEDULE_FORMAT,
    SCHEDULE_VERSION,
    Cost,
    FileRef,
    SamplerInfo,
    Schedule,
    ScheduleBlock,
    ScheduleError,
    ScheduleIssue,
    SolverParams,
    block_ids,
    dumps_schedule,
    full_schedule,
    load_schedule,
    parse_schedule,
    schedule_from_steps,
    uniform_schedule,
    uniform_steps,
    validate_schedule,
)

__version__ = "0.1.0"

__all__ = [
    "USAGE",
    "BACHandle",
    "SamplingRunError",
    "ScheduleMismatchError",
    "apply",
    "find_denoiser",
    "BLOCK_KINDS",
    "MAX_ISSUES",
    "SCHEDULE_FORMAT",
    "SCHEDULE_VERSION",
    "Cost",
    "FileRef",
    "SamplerInfo",
    "Schedule",
    "ScheduleBlock",
    "ScheduleError",
    "ScheduleIssue",
    "SolverParams",
    "block_ids",
    "dumps_schedule",
    "full_schedule",
    "load_schedule",
    "parse_schedule",
    "schedule_from_steps",
    "uniform_schedule",
    "uniform_steps",
    "validate_schedule",
]

"""Episode loading, normalisation and training windows for the demo policy.

Reads the files written by ``fixtures/demo/scripts/write_episodes.py`` in either format
(robomimic HDF5 or diffusion_policy zarr replay buffer) into the same in-memory form, and cuts
training windows the way diffusion_policy's ``SequenceSampler`` does (edge padding of
``n_obs_steps - 1`` steps before and ``n_action_steps - 1`` after each episode).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Sequence

import numpy as np

#: Observation keys of the demo task, in the order the policy's ``cond`` concatenates them
#: (must match ``OBS_KEYS`` in ``src/sim/env.ts``).
OBS_KEYS: List[str] = ["robot_pos", "waypoint_rel", "goal_rel", "obstacle_rel", "stage"]


@dataclass
class Episodes:
    """Episodes as flat arrays: ``obs`` [N, Do] (``obs_keys`` order), ``action`` [N, Da] and
    ``episode_ends`` (cumulative, int64), like a replay buffer."""

    obs: np.ndarray
    action: np.ndarray
    episode_ends: np.ndarray
    obs_keys: List[str]

    def episode_slices(self) -> List[slice]:
        """One slice per episode into ``obs`` / ``action``."""
        starts = np.concatenate([[0], self.episode_ends[:-1]])
        return [slice(int(s), int(e)) for s, e in zip(starts, self.episode_ends)]


@contextmanager
def _zarr_root(path: str) -> Iterator[Any]:
    """The root group of a replay-buffer ``.zarr`` directory or ``.zarr.zip`` (closed on exit)."""
    import zarr

    store = zarr.ZipStore(path, mode="r") if path.endswith(".zip") else zarr.DirectoryStore(path)
    try:
        yield zarr.open_group(store, mode="r")
    finally:
        if path.endswith(".zip"):
            store.close()


def _is_hdf5(path: str) -> bool:
    return path.endswith((".hdf5", ".h5"))


def load_zarr(path: str, obs_keys: Sequence[str] = OBS_KEYS) -> Episodes:
    """Load a replay-buffer ``.zarr`` directory or ``.zarr.zip``."""
    with _zarr_root(path) as root:
        obs = np.concatenate([np.asarray(root["data"][k]) for k in obs_keys], axis=1)
        action = np.asarray(root["data"]["action"])
        ends = np.asarray(root["meta"]["episode_ends"]).astype(np.int64)
    return Episodes(obs, action, ends, list(obs_keys))


def load_hdf5(path: str, obs_keys: Sequence[str] = OBS_KEYS) -> Episodes:
    """Load a robomimic HDF5 file (demos in numeric order ``demo_0, demo_1, ...``)."""
    import h5py

    with h5py.File(path, "r") as f:
        names = sorted(f["data"].keys(), key=lambda n: int(n.split("_")[1]))
        obs, act, lens = [], [], []
        for n in names:
            g = f["data"][n]
            obs.append(np.concatenate([np.asarray(g["obs"][k]) for k in obs_keys], axis=1))
            act.append(np.asarray(g["actions"]))
            lens.append(int(g.attrs["num_samples"]))
    return Episodes(np.concatenate(obs), np.concatenate(act), np.cumsum(lens).astype(np.int64), list(obs_keys))


@dataclass
class Normalizer:
    """Per-dimension affine map ``normalized = raw * scale + offset`` (docs/method.md's ``bac.normalizer``).

    Observations: min-max to [-1, 1] (diffusion_policy's ``LinearNormalizer`` ``limits`` mode).
    Actions: *symmetric*, ``scale = 1 / max|a|`` and ``offset = 0``, so that "stand still" maps to 0
    rather than to wherever the min-max midpoint falls (a probe showed min-max made the robot drift
    past the goal).
    """

    obs_scale: np.ndarray
    obs_offset: np.ndarray
    action_scale: np.ndarray
    action_offset: np.ndarray

    @staticmethod
    def fit(ep: Episodes, eps: float = 1e-4) -> "Normalizer":
        """Fit on a training set. Constant dimensions get scale 1 (and are centred), as in
        diffusion_policy, instead of dividing by ~0."""
        lo, hi = ep.obs.min(0).astype(np.float64), ep.obs.max(0).astype(np.float64)
        rng = hi - lo
        const = rng < eps
        scale = np.where(const, 1.0, 2.0 / np.where(const, 1.0, rng))
        offset = np.where(const, -lo, -1.0 - lo * scale)
        amax = np.abs(ep.action).max(0).astype(np.float64)
        ascale = 1.0 / np.maximum(amax, eps)
        return Normalizer(
            scale.astype(np.float32),
            offset.astype(np.float32),
            ascale.astype(np.float32),
            np.zeros_like(ascale, dtype=np.float32),
        )

    def to_meta(self) -> Dict[str, Dict[str, List[float]]]:
        """The ``bac.normalizer`` JSON object (flat lists, obs in ``obs_keys`` order)."""
        return {
            "obs": {"scale": self.obs_scale.tolist(), "offset": self.obs_offset.tolist()},
            "action": {"scale": self.action_scale.tolist(), "offset": self.action_offset.tolist()},
        }

    @staticmethod
    def from_meta(meta: Dict[str, Dict[str, List[float]]]) -> "Normalizer":
        """Inverse of :meth:`to_meta`."""
        f = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
        return Normalizer(
            f(meta["obs"]["scale"]), f(meta["obs"]["offset"]), f(meta["action"]["scale"]), f(meta["action"]["offset"])
        )


def make_windows(ep: Episodes, horizon: int, n_obs_steps: int, n_action_steps: int) -> Dict[str, np.ndarray]:
    """All training windows: ``cond`` [M, To, Do] = obs of the window's first ``n_obs_steps`` steps
    and ``action`` [M, horizon, Da], with indices clamped to the episode (edge padding), starting
    from ``-(n_obs_steps - 1)`` up to ``len - horizon + n_action_steps - 1`` like diffusion_policy's
    ``SequenceSampler(pad_before=To-1, pad_after=Ta-1)``."""
    pad_before, pad_after = n_obs_steps - 1, n_action_steps - 1
    conds, acts = [], []
    for sl in ep.episode_slices():
        o, a = ep.obs[sl], ep.action[sl]
        n = len(a)
        for s in range(-pad_before, n - horizon + pad_after + 1):
            idx = np.clip(np.arange(s, s + horizon), 0, n - 1)
            conds.append(o[idx[:n_obs_steps]])
            acts.append(a[idx])
    return {"cond": np.stack(conds).astype(np.float32), "action": np.stack(acts).astype(np.float32)}


def load_episodes(path: str, obs_keys: Sequence[str] = OBS_KEYS) -> Episodes:
    """Load either format by extension: ``.hdf5`` / ``.h5`` (robomimic) or a replay-buffer ``.zarr``
    directory / ``.zarr.zip``. Both give identical arrays for the same episodes (tested)."""
    if _is_hdf5(path):
        return load_hdf5(path, obs_keys)
    return load_zarr(path, obs_keys)


def env_args_from_file(path: str) -> dict:
    """The ``env_args`` stored with the episodes (task config), for provenance in checkpoints: the
    ``data`` group's attribute in robomimic HDF5, the root's in a zarr replay buffer."""
    if _is_hdf5(path):
        import h5py

        with h5py.File(path, "r") as f:
            a = f["data"].attrs["env_args"]
    else:
        with _zarr_root(path) as root:
            a = root.attrs["env_args"]
    if isinstance(a, bytes):
        a = a.decode()
    return json.loads(a) if isinstance(a, str) else dict(a)

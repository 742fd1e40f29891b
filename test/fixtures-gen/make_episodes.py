#!/usr/bin/python3
"""Write the tiny, deterministic episode fixtures of ``test/unit/episodes.test.ts``.

The same 12 episodes are written in the three layouts users have, so the readers can be checked
against each other and against closed-form values:

* ``tiny.hdf5`` — robomimic: ``data/demo_<i>/obs/<key>``, ``data/demo_<i>/actions``, attribute
  ``num_samples``; 12 demos so that name order (demo_10 before demo_2) differs from numeric order;
  ``object`` stored as float64 as robomimic does for low-dim observations.
* ``tiny.zarr`` / ``tiny.zarr.zip`` — diffusion_policy replay buffer: ``data/<key>`` concatenated
  over episodes, ``data/action``, ``meta/episode_ends`` (int64). Chunks of 16 steps so reads cross
  chunk borders, and each codec python3-zarr 2.13 users meet: the default compressor (Blosc lz4 with
  byte shuffle), zlib, and none.

Values are exact in float32 so tests can compute them: step ``t`` of episode ``e`` has
``obs[col] = 1000·e + t + col/8`` (``col`` = column of the concatenated vector in OBS_KEYS order)
and ``action[d] = −(1000·e + t + d/8)``.

Malformed variants: ``truncated.hdf5`` (first half of ``tiny.hdf5``), ``not_hdf5.hdf5`` (text),
``missing_key.hdf5`` (demo_3 without ``object``), ``nonfinite.hdf5`` (a NaN in demo_1),
``empty.zarr`` (``meta/episode_ends`` of length 0) and ``no_ends.zarr`` (no ``meta`` group).

Usage: ``/usr/bin/python3 test/fixtures-gen/make_episodes.py [OUT_DIR]``. Every run rewrites the
same arrays; the HDF5 files and zarr directories are byte-identical (no timestamps); the zip's
member dates depend on the clock.
"""

from __future__ import annotations

import os
import shutil
import sys

import h5py
import numcodecs
import numpy as np
import zarr

OBS_KEYS = ["robot0_eef_pos", "robot0_gripper_qpos", "object"]
OBS_DIMS = {"robot0_eef_pos": 3, "robot0_gripper_qpos": 2, "object": 4}
ACTION_DIM = 3
N_EPISODES = 12


def episode_length(e: int) -> int:
    """Lengths 3 … 13, varied, so short episodes and padding are exercised."""
    return 3 + (e * 7) % 11


def episode(e: int) -> tuple[dict, np.ndarray]:
    """Observations per key and actions of episode ``e`` (closed form, see the module doc)."""
    n = episode_length(e)
    t = np.arange(n, dtype=np.float64)[:, None]
    obs, col = {}, 0
    for k in OBS_KEYS:
        cols = (col + np.arange(OBS_DIMS[k], dtype=np.float64))[None, :] / 8.0
        obs[k] = (1000.0 * e + t + cols).astype(np.float64 if k == "object" else np.float32)
        col += OBS_DIMS[k]
    act = (-(1000.0 * e + t + np.arange(ACTION_DIM)[None, :] / 8.0)).astype(np.float32)
    return obs, act


def write_hdf5(path: str, drop_key_in: int | None = None, nan_in: int | None = None, n: int = N_EPISODES) -> None:
    """robomimic layout; optionally drop ``object`` from one demo or put a NaN into one."""
    with h5py.File(path, "w") as f:
        data = f.create_group("data")
        total = 0
        for e in range(n):
            obs, act = episode(e)
            g = data.create_group(f"demo_{e}")
            for k in OBS_KEYS:
                if e == drop_key_in and k == "object":
                    continue
                v = obs[k].copy()
                if e == nan_in and k == "robot0_gripper_qpos":
                    v[1, 0] = np.nan
                g.create_dataset(f"obs/{k}", data=v, track_times=False)
            g.create_dataset("actions", data=act, track_times=False)
            g.attrs["num_samples"] = act.shape[0]
            total += act.shape[0]
        data.attrs["total"] = total
        data.attrs["env_args"] = '{"env_name": "tiny", "type": 1}'


COMPRESSORS = {
    "robot0_eef_pos": "default",  # Blosc(lz4, shuffle) — what zarr 2.13 writes when nothing is said
    "robot0_gripper_qpos": numcodecs.Zlib(level=3),
    "object": None,
    "action": "default",
}


def fill_zarr(root: zarr.Group, n: int = N_EPISODES, with_meta: bool = True) -> None:
    """diffusion_policy replay-buffer layout inside ``root``."""
    eps = [episode(e) for e in range(n)]
    data = root.create_group("data")
    for k in OBS_KEYS + ["action"]:
        if k == "action":
            v = np.concatenate([a for _, a in eps]) if eps else np.zeros((0, ACTION_DIM), np.float32)
        else:
            v = np.concatenate([o[k] for o, _ in eps]) if eps else np.zeros((0, OBS_DIMS[k]), np.float32)
        kw = {} if COMPRESSORS[k] == "default" else {"compressor": COMPRESSORS[k]}
        data.array(k, v, chunks=(16, v.shape[1]), **kw)
    if with_meta:
        ends = np.cumsum([len(a) for _, a in eps]).astype(np.int64)
        root.create_group("meta").array("episode_ends", ends, chunks=(16,))


def write_zarr_dir(path: str, **kw) -> None:
    if os.path.exists(path):
        shutil.rmtree(path)
    fill_zarr(zarr.open_group(zarr.DirectoryStore(path), mode="w"), **kw)


def write_zarr_zip(path: str) -> None:
    if os.path.exists(path):
        os.remove(path)
    store = zarr.ZipStore(path, mode="w")
    try:
        fill_zarr(zarr.group(store=store))
    finally:
        store.close()


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "episodes")
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)  # noqa: E731
    write_hdf5(p("tiny.hdf5"))
    write_zarr_dir(p("tiny.zarr"))
    write_zarr_zip(p("tiny.zarr.zip"))
    # malformed variants
    with open(p("tiny.hdf5"), "rb") as f:
        whole = f.read()
    with open(p("truncated.hdf5"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    with open(p("not_hdf5.hdf5"), "wb") as f:
        f.write(b"episode,t,x\n0,0,1.0\n")
    write_hdf5(p("missing_key.hdf5"), drop_key_in=3, n=5)
    write_hdf5(p("nonfinite.hdf5"), nan_in=1, n=3)
    write_zarr_dir(p("empty.zarr"), n=0)
    write_zarr_dir(p("no_ends.zarr"), n=3, with_meta=False)
    for name in sorted(os.listdir(out)):
        full = p(name)
        size = sum(os.path.getsize(os.path.join(d, x)) for d, _, xs in os.walk(full) for x in xs) if os.path.isdir(full) else os.path.getsize(full)
        print(f"{name}: {size} bytes")


if __name__ == "__main__":
    main()

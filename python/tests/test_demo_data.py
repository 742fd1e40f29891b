"""Demo episodes: the committed HDF5 / zarr files regenerate with identical arrays from the
simulator's expert, read back with h5py and zarr in the documented layouts, and agree with each
other; plus the demo data pipeline (normaliser, training windows)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import h5py
import numpy as np
import pytest
import zarr

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EPISODES = os.path.join(REPO, "fixtures", "demo", "episodes")
REGEN = os.path.join(REPO, "fixtures", "demo", "scripts", "regen_episodes.sh")

from bac_demo.data import OBS_KEYS, Normalizer, load_hdf5, load_zarr, make_windows

SETS = {"train": 200, "heldout": 50}  # minimum demo counts


def hdf5_arrays(path: str) -> dict:
    """Every dataset and attribute of a robomimic file, keyed by path."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = np.asarray(obj)
            for k, v in obj.attrs.items():
                out[f"{name}@{k}"] = np.asarray(v)

        f.visititems(visit)
        for k, v in f["data"].attrs.items():
            out[f"data@{k}"] = np.asarray(v)
    return out


def zarr_arrays(path: str) -> dict:
    """Every array of a replay-buffer zarr (directory or zip), keyed by path."""
    store = zarr.ZipStore(path, mode="r") if path.endswith(".zip") else zarr.DirectoryStore(path)
    try:
        root = zarr.open_group(store, mode="r")
        out = {}
        root.visititems(lambda n, o: out.__setitem__(n, np.asarray(o)) if isinstance(o, zarr.Array) else None)
        out["@env_args"] = json.dumps(dict(root.attrs)["env_args"], sort_keys=True)
        return out
    finally:
        if path.endswith(".zip"):
            store.close()


@pytest.mark.parametrize("name", list(SETS))
def test_hdf5_layout(name: str) -> None:
    with h5py.File(os.path.join(EPISODES, f"{name}.hdf5"), "r") as f:
        data = f["data"]
        demos = sorted(data.keys(), key=lambda n: int(n.split("_")[1]))
        assert len(demos) >= SETS[name]
        assert demos == [f"demo_{i}" for i in range(len(demos))]
        total = 0
        for d in demos:
            g = data[d]
            n = int(g.attrs["num_samples"])
            assert g["actions"].shape == (n, 2) and g["actions"].dtype == np.float32
            assert sorted(g["obs"].keys()) == sorted(OBS_KEYS)
            for k in OBS_KEYS:
                assert g["obs"][k].shape[0] == n
            total += n
        assert int(data.attrs["total"]) == total
        env_args = json.loads(data.attrs["env_args"])
        assert env_args["env_name"] == "waypoint_then_goal"
        assert env_args["env_kwargs"]["obs_keys"] == OBS_KEYS


@pytest.mark.parametrize("name", list(SETS))
def test_zarr_layout_matches_hdf5(name: str) -> None:
    h = load_hdf5(os.path.join(EPISODES, f"{name}.hdf5"))
    for suffix in (".zarr", ".zarr.zip"):
        z = load_zarr(os.path.join(EPISODES, name + suffix))
        assert z.episode_ends.dtype == np.int64
        assert np.all(np.diff(z.episode_ends) > 0)
        assert z.episode_ends[-1] == len(z.action)
        np.testing.assert_array_equal(z.episode_ends, h.episode_ends)
        np.testing.assert_array_equal(z.obs, h.obs)
        np.testing.assert_array_equal(z.action, h.action)
    root = zarr.open_group(zarr.DirectoryStore(os.path.join(EPISODES, name + ".zarr")), mode="r")
    assert set(root["data"].array_keys()) == set(OBS_KEYS) | {"action"}


def test_train_and_heldout_are_disjoint() -> None:
    seeds = {}
    for name in SETS:
        root = zarr.open_group(zarr.DirectoryStore(os.path.join(EPISODES, name + ".zarr")), mode="r")
        seeds[name] = set(np.asarray(root["meta"]["episode_seeds"]).tolist())
    assert not seeds["train"] & seeds["heldout"]


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs Node (npx tsx) to run the simulator")
def test_regenerates_identical_arrays(tmp_path) -> None:
    subprocess.run(["sh", REGEN, str(tmp_path)], check=True, cwd=REPO, capture_output=True)
    for name in SETS:
        a = hdf5_arrays(os.path.join(EPISODES, f"{name}.hdf5"))
        b = hdf5_arrays(str(tmp_path / f"{name}.hdf5"))
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name}.hdf5:{k}")
        for suffix in (".zarr", ".zarr.zip"):
            a = zarr_arrays(os.path.join(EPISODES, name + suffix))
            b = zarr_arrays(str(tmp_path / (name + suffix)))
            assert a.keys() == b.keys()
            for k in a:
                np.testing.assert_array_equal(a[k], b[k], err_msg=f"{name}{suffix}:{k}")


def test_normalizer_and_windows() -> None:
    ep = load_zarr(os.path.join(EPISODES, "heldout.zarr"))
    norm = Normalizer.fit(ep)
    # actions: symmetric, zero offset, max |a| maps to 1 -> "stand still" stays at 0
    assert np.all(norm.action_offset == 0)
    na = ep.action * norm.action_scale
    np.testing.assert_allclose(np.abs(na).max(0), 1.0, rtol=1e-6)
    # observations: min-max to [-1, 1]
    no = ep.obs * norm.obs_scale + norm.obs_offset
    np.testing.assert_allclose(no.min(0), -1.0, atol=1e-5)
    np.testing.assert_allclose(no.max(0), 1.0, atol=1e-5)
    assert Normalizer.from_meta(norm.to_meta()).to_meta() == norm.to_meta()

    w = make_windows(ep, horizon=10, n_obs_steps=2, n_action_steps=8)
    lens = np.diff(np.concatenate([[0], ep.episode_ends]))
    assert len(w["cond"]) == int(np.sum(lens - 1))  # starts -1 .. len-3 per episode
    assert w["cond"].shape[1:] == (2, ep.obs.shape[1]) and w["action"].shape[1:] == (10, 2)
    # first window of the first episode: edge padding repeats step 0 before the start
    np.testing.assert_array_equal(w["cond"][0, 0], ep.obs[0])
    np.testing.assert_array_equal(w["cond"][0, 1], ep.obs[0])
    np.testing.assert_array_equal(w["action"][0, 1:], ep.action[0:9])

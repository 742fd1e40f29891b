"""The demo policy's training script and its checkpoint plumbing: both episode formats load the
same arrays and task config, the portable ``.npz`` checkpoint round-trips exactly, a time-budgeted
run records the step count that replays it, ``--init-from`` takes every checkpoint kind, and the
larger training sets of the GPU phases extend the shipped one (see fixtures/demo/README.md)."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest
import torch

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EPISODES = os.path.join(REPO, "fixtures", "demo", "episodes")
REGEN = os.path.join(REPO, "fixtures", "demo", "scripts", "regen_episodes.sh")

from bac_demo import train
from bac_demo.data import env_args_from_file, load_episodes
from bac_demo.portable import load_checkpoint, load_portable, save_portable


@pytest.mark.parametrize("name", ["train", "heldout"])
def test_formats_load_the_same_episodes_and_task(name: str) -> None:
    paths = [os.path.join(EPISODES, name + s) for s in (".hdf5", ".zarr", ".zarr.zip")]
    eps = [load_episodes(p) for p in paths]
    for other in eps[1:]:
        np.testing.assert_array_equal(eps[0].obs, other.obs)
        np.testing.assert_array_equal(eps[0].action, other.action)
        np.testing.assert_array_equal(eps[0].episode_ends, other.episode_ends)
    args = [env_args_from_file(p) for p in paths]
    assert args[0] == args[1] == args[2]
    assert args[0]["env_kwargs"]  # the task config travels with the episodes


def test_portable_checkpoint_round_trips_exactly(tmp_path) -> None:
    g = torch.Generator().manual_seed(0)
    ckpt = {
        "ema_state_dict": {
            "w": torch.randn(3, 4, generator=g),
            "mask": torch.rand(5, 5, generator=g) > 0.5,
            "b": torch.randn(7, generator=g).double(),
        },
        "model_config": {"n_emb": 16, "causal_attn": True},
        "train_info": {"step": 12, "history": [{"step": 1, "loss": 0.5}], "final": True},
    }
    path = str(tmp_path / "c.npz")
    save_portable(ckpt, path)
    assert os.listdir(tmp_path) == ["c.npz"]  # the temporary file was renamed away
    back = load_portable(path)
    assert list(back["ema_state_dict"]) == list(ckpt["ema_state_dict"])
    for k, v in ckpt["ema_state_dict"].items():
        assert back["ema_state_dict"][k].dtype == v.dtype and torch.equal(back["ema_state_dict"][k], v)
    assert {k: v for k, v in back.items() if k != "ema_state_dict"} == {
        k: v for k, v in ckpt.items() if k != "ema_state_dict"
    }


def _train(out, *extra: str) -> None:
    train.main(
        [
            "--episodes", os.path.join(EPISODES, "heldout.hdf5"),
            "--out", str(out),
            "--n-emb", "16",
            "--batch", "8",
            "--warmup", "20",
            "--log-every", "2",
            "--save-every-s", "1e9",
            *extra,
        ]
    )  # fmt: skip


def test_time_budget_records_the_replayable_step_count_and_init_from_takes_npz(tmp_path) -> None:
    a = tmp_path / "a"
    _train(a, "--time-budget-s", "2", "--probe-steps", "8", "--portable-out", str(tmp_path / "a.npz"))
    pt = load_checkpoint(str(a / "policy_ema.pt"))
    npz = load_checkpoint(str(tmp_path / "a.npz"))
    info = pt["train_info"]
    # The schedule length was chosen after the probe and recorded as --steps; the run ran exactly it.
    assert info["args"]["steps"] == info["step"] > 8 and info["final"]
    assert info["args"]["device"] == "cpu"
    for k, v in pt["ema_state_dict"].items():
        assert torch.equal(npz["ema_state_dict"][k], v)
    assert pt["env_args"] == env_args_from_file(os.path.join(EPISODES, "heldout.hdf5"))

    b = tmp_path / "b"
    _train(b, "--init-from", str(tmp_path / "a.npz"), "--steps", "2", "--lr", "0")
    # lr 0: the live weights never move, so the EMA stays the checkpoint it started from.
    got = load_checkpoint(str(b / "policy_ema.pt"))["ema_state_dict"]
    for k, v in pt["ema_state_dict"].items():
        torch.testing.assert_close(got[k], v, rtol=0, atol=1e-6)


def test_probe_must_end_inside_the_warm_up(tmp_path) -> None:
    with pytest.raises(SystemExit):
        _train(tmp_path, "--time-budget-s", "2", "--probe-steps", "40")


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs Node (npx tsx) to run the simulator")
def test_larger_training_sets_extend_the_shipped_one(tmp_path) -> None:
    # Phases 3 and 4 train on 2000 and 5000 demonstrations generated with the same seeds; the
    # shipped training set must be exactly their first 400, so the README's claim holds.
    subprocess.run(
        ["sh", REGEN, str(tmp_path), "--train", "420", "--heldout", "1"], check=True, cwd=REPO, capture_output=True
    )
    shipped, more = load_episodes(os.path.join(EPISODES, "train.hdf5")), load_episodes(str(tmp_path / "train.hdf5"))
    n = int(shipped.episode_ends[-1])
    assert len(shipped.episode_ends) == 400 and len(more.episode_ends) == 420
    np.testing.assert_array_equal(more.episode_ends[:400], shipped.episode_ends)
    np.testing.assert_array_equal(more.obs[:n], shipped.obs)
    np.testing.assert_array_equal(more.action[:n], shipped.action)

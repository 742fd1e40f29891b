"""A torch-version-independent form of the EMA checkpoint, and one loader for every checkpoint kind.

``torch.save`` files are pickles whose readers are only promised to work forwards; a checkpoint
trained on a GPU machine with a newer PyTorch must still load under Debian's python3-torch here.
The portable form is a plain ``.npz`` (no pickled objects): one float array per EMA tensor under
``ema/<name>`` and everything else of the checkpoint (model config, ``bac`` metadata, training info,
env args) as one JSON string under ``__meta__``.

Usage: ``python -m bac_demo.portable IN.npz OUT.pt`` converts to the ``policy_ema.pt`` that
``bac_export.py`` and the PyTorch runtime load.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict

import numpy as np
import torch

_META = "__meta__"
_PREFIX = "ema/"


def atomic_save(obj: Any, path: str) -> None:
    """torch.save to ``path`` via a temporary file and rename, so a reader never sees half a file."""
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_portable(ckpt: Dict[str, Any], path: str) -> None:
    """Write ``ckpt`` (``{ema_state_dict, ...JSON-serialisable rest}``) to ``path`` (.npz),
    atomically (temporary file, then rename)."""
    arrays = {_PREFIX + k: v.detach().cpu().numpy() for k, v in ckpt["ema_state_dict"].items()}
    rest = {k: v for k, v in ckpt.items() if k != "ema_state_dict"}
    arrays[_META] = np.array(json.dumps(rest, sort_keys=True))
    tmp = path + ".tmp.npz"  # np.savez appends .npz to names without it
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_portable(path: str) -> Dict[str, Any]:
    """Inverse of :func:`save_portable`: the checkpoint dict with CPU tensors (key order kept)."""
    with np.load(path, allow_pickle=False) as z:
        ckpt: Dict[str, Any] = json.loads(str(z[_META]))
        ckpt["ema_state_dict"] = {
            k[len(_PREFIX) :]: torch.from_numpy(np.array(z[k])) for k in z.files if k.startswith(_PREFIX)
        }
    return ckpt


def load_checkpoint(path: str) -> Dict[str, Any]:
    """Load a ``.npz`` portable checkpoint or any ``torch.save`` checkpoint of ours onto the CPU."""
    if path.endswith(".npz"):
        return load_portable(path)
    # Our own files: the full unpickler (newer PyTorch defaults to weights_only=True, which rejects
    # nothing of ours today but would tie loading to its allow-list).
    return torch.load(path, map_location="cpu", weights_only=False)


def main(argv=None) -> None:
    """CLI: convert a portable ``.npz`` checkpoint into a ``policy_ema.pt``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.exit("usage: python -m bac_demo.portable IN.npz OUT.pt")
    ckpt = load_portable(args[0])
    atomic_save(ckpt, args[1])
    print(f"{args[0]} -> {args[1]} ({len(ckpt['ema_state_dict'])} tensors)")


if __name__ == "__main__":
    main()

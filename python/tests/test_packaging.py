"""``pip install -e python/`` works offline with Debian's setuptools (python/pyproject.toml), and the
installed ``bac_runtime`` needs torch only.

The install goes into a throw-away venv that sees the system's site-packages (Debian's torch), so
the system Python is never changed; ``--no-index`` proves nothing is downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv

import pytest

PY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_editable_install_imports_runtime_with_torch_only(tmp_path) -> None:
    env_dir = tmp_path / "venv"
    try:
        venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    except (subprocess.CalledProcessError, OSError) as e:  # e.g. Debian without python3-venv
        pytest.skip(f"cannot create a venv with pip here ({e}); install python3-venv")
    python = str(env_dir / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--no-deps", "-e", PY],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    # From a directory where python/ is not on sys.path: only the installed package can be found.
    probe = (
        "import sys, bac_runtime\n"
        "assert bac_runtime.__file__.startswith(sys.argv[1]), bac_runtime.__file__\n"
        "heavy = sorted(m for m in ('onnx', 'bac_models', 'bac_export', 'h5py', 'zarr') if m in sys.modules)\n"
        "assert not heavy, heavy\n"
        "import bac_export, bac_dp_checkpoint, bac_models, bac_demo\n"
        "print('ok')\n"
    )
    run = subprocess.run([python, "-c", probe, PY], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr

    cli = subprocess.run(
        [str(env_dir / "bin" / "bac-export"), "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert cli.returncode == 0 and "--checkpoint" in cli.stdout, cli.stdout + cli.stderr
    assert sys.prefix != str(env_dir)  # the test's own interpreter was not the one changed

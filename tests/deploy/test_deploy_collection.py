"""pytest works without the editable install, and the black-box suite's order does not rest on
file names (issue 10 item 6)."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig

from tests.deploy.deploy_files import ROOT


def _collect(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_pytest_collects_without_the_editable_install() -> None:
    # `python -S` skips site.py, so no .pth file runs: the editable install's finder is never
    # installed, as after a plain `pip install -r requirements.lock`. The installed packages
    # stay importable through PYTHONPATH.
    site_packages = sysconfig.get_paths()["purelib"]
    probe = _collect(
        "-S", "-c", "import sys; print([m for m in sys.meta_path if 'editable' in repr(m)])",
        PYTHONPATH=site_packages,
    )  # fmt: skip
    assert probe.stdout.strip() == "[]", probe.stderr
    result = _collect(
        "-S", "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests",
        PYTHONPATH=site_packages,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "tests/gateway/test_config.py::" in result.stdout


def test_disruptive_black_box_tests_run_last_whatever_the_file_order() -> None:
    # Files given in reverse: the collection hook still puts the outage and quota tests last.
    files = ["test_z_quota.py", "test_y_backend_fault.py", "test_a_surface.py"]
    result = _collect(
        "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", "e2e",
        *(f"tests/integration/{name}" for name in files),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    order = [line.split("::")[0] for line in result.stdout.splitlines() if "::" in line]
    assert order, result.stdout
    firsts = {name: order.index(f"tests/integration/{name}") for name in files}
    lasts = {
        name: len(order) - 1 - order[::-1].index(f"tests/integration/{name}") for name in files
    }
    assert lasts["test_a_surface.py"] < firsts["test_y_backend_fault.py"]
    assert lasts["test_y_backend_fault.py"] < firsts["test_z_quota.py"]

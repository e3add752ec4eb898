"""The benchmark script still runs end to end (tiny sizes; speed is not asserted here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runner_smoke():
    proc = subprocess.run(
        [
            sys.executable,
            "bench/runner_bench.py",
            "--levels",
            "1,4",
            "--seconds",
            "0.3",
            "--million",
            "2000",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [
        line
        for line in proc.stdout.splitlines()
        if line.startswith("| 1 |") or line.startswith("| 4 |")
    ]
    assert len(rows) == 2
    assert re.search(r"RSS over [\d,]+ calls at 64 connections: [\d.]+ MiB -> ", proc.stdout)
    assert "target RSS growth over 2,000 calls < 10 MiB" in proc.stdout

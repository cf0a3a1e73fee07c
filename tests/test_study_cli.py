"""The study CLI rejects bad input with one line, exit code 2, before Ray starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

VALID = """
name: cli_check
tasks:
  - name: digits
methods:
  basic: {}
  sema:
    momentum: {log10_range: [-4, -1]}
    switch_interval: [1]
"""

CASES = [
    ("unknown key", VALID + "colour: red\n", "colour: unknown key"),
    ("unknown task", VALID.replace("name: digits", "name: digitz"),
     "tasks[0].name: 'digitz' is not a known task; valid tasks: "),
    ("unknown method", VALID.replace("basic: {}", "bogus: {}"),
     "methods: 'bogus' is not a method; valid methods: basic, ema, sema, swa, lookahead"),
    ("momentum above one", VALID.replace("{log10_range: [-4, -1]}", "1.5"),
     "methods.sema.momentum: 1.5 is outside (0, 1)"),
    ("momentum of one", VALID.replace("{log10_range: [-4, -1]}", "[0.9, 1.0]"),
     "methods.sema.momentum: 1.0 is outside (0, 1)"),
]


def run_cli(tmp_path, text: str) -> subprocess.CompletedProcess:
    path = tmp_path / "study.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "sema_ray.study", str(path), "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("case", "text", "expected"), CASES, ids=[case[0] for case in CASES])
def test_cli_rejects_bad_study(tmp_path, case, text, expected):
    completed = run_cli(tmp_path, text)
    assert completed.returncode == 2
    assert expected in completed.stderr
    assert "Traceback" not in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1
    # Nothing started: no Ray session and no MLflow store were created.
    assert not (tmp_path / "out" / "mlflow.db").exists()


def test_cli_missing_file(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "sema_ray.study", str(tmp_path / "none.yaml")],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert "study file not found" in completed.stderr


def test_default_study_plan_from_any_directory(tmp_path):
    # The embedded quickstart study ships inside the package, not only in a checkout.
    completed = subprocess.run([sys.executable, "-m", "sema_ray.study", "--dry-run"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "study 'quickstart': 2 tasks, 3 methods" in completed.stdout
    assert "digits" in completed.stdout
    assert "moons" in completed.stdout
    assert not (tmp_path / "quickstart").exists()

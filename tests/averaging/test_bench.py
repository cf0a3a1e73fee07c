"""Smoke tests of python -m sema_ray.bench update / step at tiny sizes."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("timm")

from sema_ray.bench import __main__ as bench_cli
from sema_ray.bench.step import run_step_benchmark
from sema_ray.bench.update import FLOOR, format_results, run_update_benchmark


def test_update_benchmark_reports_every_case():
    payload = run_update_benchmark(models=["test_resnet"], device="cpu", rounds=2, repeat=1)
    cases = payload["results"]["test_resnet"]["cases"]
    assert FLOOR in cases
    assert "timm ModelEmaV3" in cases
    assert "sema_ray SwitchEMA, layout=foreach (default)" in cases
    assert cases[FLOOR]["ratio_to_floor"] == pytest.approx(1.0)
    assert all(len(case["samples_ms"]) == 2 for case in cases.values())
    assert payload["machine"]["torch"]
    assert "x floor" in format_results(payload)


def test_step_benchmark_reports_ratio():
    # One thread: on a busy machine, a second OpenMP thread slows tiny convolutions many times over.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        payload = run_step_benchmark(device="cpu", batch_size=2, steps=1, rounds=2)
    finally:
        torch.set_num_threads(threads)
    assert payload["ratio_of_medians"] > 0
    assert len(payload["with_sema"]["samples_ms"]) == 2


def test_cli_writes_json(tmp_path, capsys):
    output = tmp_path / "update.json"
    argv = [
        "update",
        "--models",
        "test_resnet",
        "--device",
        "cpu",
        "--rounds",
        "2",
        "--repeat",
        "1",
    ]
    assert bench_cli.main([*argv, "--output", str(output)]) == 0
    assert "floor" in capsys.readouterr().out
    assert json.loads(output.read_text())["benchmark"] == "update"


def test_cli_registry_lists_subcommands():
    assert {"update", "step"} <= set(bench_cli.SUBCOMMANDS)
    help_text = bench_cli.build_parser().format_help()
    assert "update" in help_text
    assert "step" in help_text

"""`python -m sema_ray.bench scaling`: its options, study file and scaling arithmetic.

The simulated cluster it starts is the one test_multinode.py runs a study on; a real
benchmark run takes minutes and is recorded in docs/benchmarks.md instead.
"""

from __future__ import annotations

import argparse

import pytest

from sema_ray.bench.__main__ import build_parser
from sema_ray.bench.scaling import (
    ScalingRun,
    format_rows,
    parse_nodes,
    scaling_rows,
    study_document,
)
from sema_ray.study.config import parse_study
from sema_ray.study.resources import TRIAL_DRIVER_CPUS


def bench_args(*options: str) -> argparse.Namespace:
    return build_parser().parse_args(["scaling", *options])


def test_scaling_subcommand_defaults():
    args = bench_args()
    assert parse_nodes(args.nodes) == [1, 2, 4]
    assert args.cpus_per_node == 2
    assert args.trials == 8


@pytest.mark.parametrize(("text", "expected"), [("1,2,4", [1, 2, 4]), ("4, 1,2,2", [1, 2, 4]),
                                                ("3", [3])])
def test_parse_nodes_valid(text, expected):
    assert parse_nodes(text) == expected


@pytest.mark.parametrize("text", ["", "0,1", "two", "1;2"])
def test_parse_nodes_invalid(text):
    with pytest.raises(ValueError, match="--nodes"):
        parse_nodes(text)


def test_study_document_fits_one_trial_per_node(tmp_path):
    args = bench_args("--trials", "6", "--cpus-per-node", "4")
    config = parse_study(study_document(2, args, tmp_path), "test")
    resources = config.resources
    assert resources.trials_at_once == 2
    assert config.methods["sema"].trials == 6
    # One trial's workers take half a node; a second trial and its driver would not fit.
    trial_cpus = resources.workers * resources.cpus_per_worker + TRIAL_DRIVER_CPUS
    assert trial_cpus <= args.cpus_per_node
    assert 2 * trial_cpus > args.cpus_per_node
    assert config.evaluation.seeds == 0
    assert config.tracking.uri == f"sqlite:///{tmp_path / 'mlflow.db'}"


def make_run(nodes: int, seconds: float, trials: int = 8) -> ScalingRun:
    return ScalingRun(nodes, trials, trials, seconds, 5.0, 3600.0 * trials / seconds)


def test_scaling_rows_against_linear():
    rows = scaling_rows([make_run(4, 160.0), make_run(1, 400.0), make_run(2, 250.0)])
    assert [row["nodes"] for row in rows] == [1, 2, 4]
    one_node = 3600.0 * 8 / 400.0
    assert [row["ideal_trials_per_hour"] for row in rows] == pytest.approx(
        [one_node, 2 * one_node, 4 * one_node])
    assert [row["speedup"] for row in rows] == pytest.approx([1.0, 400 / 250, 400 / 160])
    assert [row["efficiency"] for row in rows] == pytest.approx([1.0, 0.8, 0.625])


def test_format_rows_is_markdown_table():
    table = format_rows(scaling_rows([make_run(1, 400.0), make_run(2, 250.0)]))
    lines = table.splitlines()
    assert lines[0].startswith("| nodes |")
    assert len(lines) == 4
    assert "| 2 | 8 (8) | 250 | 115 | 144 | 1.60x | 80% |" == lines[3]

"""Figures across tasks: SEMA's gain over baselines and the regret of one shared setting."""

from __future__ import annotations

import math
import statistics
from dataclasses import replace

import pytest
from scipy import stats

from sema_ray.analysis.cross_task import plot_sema_gains, plot_shared_setting_regret
from sema_ray.analysis.robust import most_robust_setting

from .helpers import EVAL_SEEDS, INTERVALS, MOMENTA, SEARCH_SEEDS, grid_results, png_size, value

DPI = 100


def test_gain_size_grows_with_rows(tmp_path):
    path = tmp_path / "gain.png"
    drawn = plot_sema_gains(grid_results(), path)
    rows = sum(len(gains) for gains in drawn.values())
    assert rows == 4  # two tasks x (basic, ema)
    # 7 inches wide; 1.6 inches of margins plus 0.45 inches per row.
    assert png_size(path) == (7 * DPI, round((1.6 + 0.45 * rows) * DPI))


def test_gain_matches_paired_seeds(tmp_path):
    drawn = plot_sema_gains(grid_results(), tmp_path / "gain.png")
    for task in ("moons", "diabetes"):
        sign = 1 if task == "moons" else -1  # mae is minimised: a lower mae is a gain
        for gain in drawn[task]:
            momentum = 0.99 if gain.baseline == "ema" else None
            diffs = [sign * ((value(task, "sema", 0.99, 1.0, s) - 0.5)
                             - (value(task, gain.baseline, momentum, None, s) - 0.5)) for s in EVAL_SEEDS]
            mean = statistics.mean(diffs)
            half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
            assert gain.n == len(EVAL_SEEDS)
            assert gain.gain == pytest.approx(mean)
            assert gain.ci_low == pytest.approx(mean - half)
            assert gain.ci_high == pytest.approx(mean + half)
            assert gain.gain > 0  # SEMA is better in the synthetic rule


def test_gain_without_evaluation(tmp_path):
    path = tmp_path / "gain.png"
    assert plot_sema_gains(grid_results(with_evaluation=False), path) == {}
    assert png_size(path) == (7 * DPI, round((1.6 + 0.45) * DPI))


def test_regret_of_shared_setting(tmp_path):
    path = tmp_path / "regret.png"
    panel = plot_shared_setting_regret(grid_results(), path)
    assert png_size(path) == (5 * DPI, 4 * DPI)  # two tasks fit the minimum width
    assert panel.settings == {"momentum": 0.99, "switch_interval": 1.0}
    assert len(panel.candidates) == len(MOMENTA) * len(INTERVALS)
    for task, better in (("moons", max), ("diabetes", min)):
        means = {(m, t): statistics.mean(value(task, "sema", m, t, s) for s in SEARCH_SEEDS)
                 for m in MOMENTA for t in INTERVALS}
        best = better(means.values())
        # Regret in percent of the task's best value.
        assert panel.regret_by_task[task] == pytest.approx(100 * abs(best - means[(0.99, 1.0)]) / abs(best))
        worst = panel.candidates["momentum=0.9, switch_interval=2"][task]
        assert worst == pytest.approx(100 * abs(best - means[(0.9, 2.0)]) / abs(best))


def test_regret_needs_a_setting_on_every_task(tmp_path):
    # SEMA searched momentum 0.99 on moons and 0.9 on diabetes: no setting ran on both.
    results = [r for r in grid_results() if r.method != "sema" or r.phase != "search"
               or (r.task, r.momentum) in {("moons", 0.99), ("diabetes", 0.9)}]
    path = tmp_path / "regret.png"
    panel = plot_shared_setting_regret(results, path)
    assert panel.settings is None
    assert panel.regret_by_task == {}
    assert png_size(path) == (5 * DPI, 4 * DPI)


def test_robust_setting_needs_every_task():
    results = [replace(r, status="failed", val_metric=math.nan) if r.task == "diabetes" else r
               for r in grid_results()]
    assert most_robust_setting(results) is None
    assert most_robust_setting(grid_results()) is not None

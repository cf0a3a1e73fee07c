"""Convergence curves and Optuna parameter importances on synthetic results."""

from __future__ import annotations

import math
import statistics

import pytest

from sema_ray.analysis.convergence import needed_histories, plot_convergence
from sema_ray.analysis.importance import MOMENTUM_PARAM, plot_param_importances

from .helpers import (
    EPOCHS,
    EVAL_SEEDS,
    PANEL_PIXELS,
    grid_results,
    histories_for,
    png_size,
    sampled_results,
)


def test_convergence_uses_evaluation_runs(tmp_path):
    results = grid_results(tasks=("moons",))
    path = tmp_path / "convergence.png"
    drawn = plot_convergence(results, histories_for(results), path)
    assert png_size(path) == PANEL_PIXELS

    curves = {curve.label: curve for curve in drawn["moons"].curves}
    assert list(curves) == ["basic", "ema", "sema", "sema fast weights", "swa"]
    sema = curves["sema"]
    assert sema.phase == "evaluation"
    assert sema.settings == {"momentum": 0.99, "switch_interval": 1.0}
    assert sema.epochs == list(range(1, EPOCHS + 1))
    assert sema.n == [len(EVAL_SEEDS)] * EPOCHS
    finals = [r.val_metric for r in results if r.method == "sema" and r.phase == "evaluation"]
    assert sema.mean[-1] == pytest.approx(statistics.mean(finals))
    assert sema.mean[0] == pytest.approx(statistics.mean(finals) / EPOCHS)


def test_convergence_fast_weights_curve(tmp_path):
    results = grid_results(tasks=("moons",))
    drawn = plot_convergence(results, histories_for(results), tmp_path / "convergence.png")
    fast = next(c for c in drawn["moons"].curves if c.label == "sema fast weights")
    finals = [r.val_metric_fast for r in results if r.method == "sema" and r.phase == "evaluation"]
    assert fast.mean[-1] == pytest.approx(statistics.mean(finals))


def test_convergence_without_evaluation_phase(tmp_path):
    results = grid_results(tasks=("moons",), with_evaluation=False)
    drawn = plot_convergence(results, histories_for(results), tmp_path / "convergence.png")
    sema = next(c for c in drawn["moons"].curves if c.label == "sema")
    best = max((r for r in results if r.method == "sema"), key=lambda r: r.val_metric)
    assert sema.phase == "search"
    assert sema.trial_ids == [best.trial_id]
    assert sema.n == [1] * EPOCHS
    assert all(math.isnan(low) for low in sema.ci_low)


def test_convergence_reads_only_needed_histories():
    results = grid_results(tasks=("moons",))
    trial_ids, names = needed_histories(results)
    evaluation = {r.trial_id for r in results if r.phase == "evaluation"}
    assert evaluation <= trial_ids
    # The three evaluated methods use their re-runs; swa only ran its search.
    assert len(trial_ids - evaluation) == 1
    assert names == {"val_accuracy", "val_accuracy_fast"}


def test_convergence_without_histories(tmp_path):
    path = tmp_path / "convergence.png"
    assert plot_convergence(grid_results(tasks=("moons",)), {}, path) == {}
    assert png_size(path) == PANEL_PIXELS


def test_importances_rank_momentum_first(tmp_path):
    path = tmp_path / "importances.png"
    drawn = plot_param_importances(grid_results(), path)
    assert png_size(path) == (2 * PANEL_PIXELS[0], PANEL_PIXELS[1])
    panel = drawn["moons"]
    sema = panel.importances["sema"]
    assert set(sema) == {MOMENTUM_PARAM, "switch_interval"}
    assert sum(sema.values()) == pytest.approx(1.0)
    # The synthetic rule changes the metric by 3 per decade of momentum (two decades
    # searched) and by 2 per doubling of the interval (two doublings).
    assert sema[MOMENTUM_PARAM] > sema["switch_interval"]
    assert panel.importances["ema"] == {MOMENTUM_PARAM: pytest.approx(1.0)}
    assert panel.trials["sema"] == 18


def test_importances_skip_unsearched_methods(tmp_path):
    drawn = plot_param_importances(grid_results(), tmp_path / "importances.png")
    assert drawn["moons"].skipped == {"basic": "one setting searched", "swa": "one setting searched"}


def test_importances_on_sampled_trials(tmp_path):
    drawn = plot_param_importances(sampled_results(), tmp_path / "importances.png")
    assert sum(drawn["moons"].importances["sema"].values()) == pytest.approx(1.0)

"""Robustness plots on synthetic results: PNG size, and drawn data recomputed from the rules."""

from __future__ import annotations

import math
import statistics

import pytest
from scipy import stats

from sema_ray.analysis.plots import plot_metric_vs_momentum, plot_metric_vs_switch_interval
from sema_ray.analysis.surface import plot_momentum_interval_surface

from .helpers import (
    INTERVALS,
    MOMENTA,
    PANEL_PIXELS,
    SEARCH_SEEDS,
    grid_results,
    png_size,
    sampled_results,
    value,
)


def expected_mean_ci(values: list[float]) -> tuple[float, float, float]:
    mean = statistics.mean(values)
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def search_values(task, method, momentum, interval):
    return [value(task, method, momentum, interval, seed) for seed in SEARCH_SEEDS]


def test_momentum_plot_size_per_task(tmp_path):
    path = tmp_path / "momentum.png"
    drawn = plot_metric_vs_momentum(grid_results(), path)
    assert sorted(drawn) == ["diabetes", "moons"]
    assert png_size(path) == (2 * PANEL_PIXELS[0], PANEL_PIXELS[1])


def test_momentum_plot_ema_means_and_band(tmp_path):
    drawn = plot_metric_vs_momentum(grid_results(), tmp_path / "momentum.png")
    points = drawn["moons"].series["ema"]
    assert [p.momentum for p in points] == list(MOMENTA)
    for point in points:
        mean, low, high = expected_mean_ci(search_values("moons", "ema", point.momentum, None))
        assert point.n == len(SEARCH_SEEDS)
        assert point.mean == pytest.approx(mean)
        assert point.ci_low == pytest.approx(low)
        assert point.ci_high == pytest.approx(high)


def test_momentum_plot_sema_line_per_interval(tmp_path):
    drawn = plot_metric_vs_momentum(grid_results(), tmp_path / "momentum.png")
    panel = drawn["diabetes"]
    labels = [label for label in panel.series if label.startswith("sema")]
    assert labels == [f"sema, switch_interval={t:g}" for t in INTERVALS]
    for interval, label in zip(INTERVALS, labels):
        means = [p.mean for p in panel.series[label]]
        expected = [statistics.mean(search_values("diabetes", "sema", m, interval)) for m in MOMENTA]
        assert means == pytest.approx(expected)


def test_momentum_plot_baselines_are_references(tmp_path):
    drawn = plot_metric_vs_momentum(grid_results(), tmp_path / "momentum.png")
    references = drawn["moons"].references
    assert sorted(references) == ["basic", "swa"]
    assert references["basic"].mean == pytest.approx(statistics.mean(search_values("moons", "basic", None, None)))
    assert references["basic"].n == len(SEARCH_SEEDS)


def test_momentum_plot_sampled_sema_one_series(tmp_path):
    drawn = plot_metric_vs_momentum(sampled_results(), tmp_path / "momentum.png")
    panel = drawn["moons"]
    assert list(panel.series) == ["ema", "sema, every switch_interval"]
    sema = panel.series["sema, every switch_interval"]
    assert [p.momentum for p in sema] == sorted(p.momentum for p in sema)
    assert all(p.n == 1 and math.isnan(p.ci_low) for p in sema)


def test_interval_plot_at_best_momentum(tmp_path):
    path = tmp_path / "interval.png"
    drawn = plot_metric_vs_switch_interval(grid_results(), path)
    assert png_size(path) == (2 * PANEL_PIXELS[0], PANEL_PIXELS[1])
    for task, better in (("moons", max), ("diabetes", min)):
        means = {(m, t): statistics.mean(search_values(task, "sema", m, t)) for m in MOMENTA for t in INTERVALS}
        best_momentum = better(means, key=means.get)[0]
        (label, points), = drawn[task].series.items()
        assert label == f"sema, momentum={best_momentum:g}"
        assert [p.switch_interval for p in points] == list(INTERVALS)
        assert [p.mean for p in points] == pytest.approx([means[(best_momentum, t)] for t in INTERVALS])
        # EMA at the same momentum is the reference that isolates switching.
        assert drawn[task].references["ema"].momentum == best_momentum


def test_interval_plot_sampled_momentum_window(tmp_path):
    drawn = plot_metric_vs_switch_interval(sampled_results(), tmp_path / "interval.png")
    (label, points), = drawn["moons"].series.items()
    sema = [r for r in sampled_results() if r.method == "sema"]
    best = max(sema, key=lambda r: r.val_metric)
    window = sorted(r.switch_interval for r in sema
                     if abs(math.log10(1 - r.momentum) - math.log10(1 - best.momentum)) <= 0.25)
    assert [p.switch_interval for p in points] == window
    assert "within 0.25 decades" in label


def test_interval_plot_without_sema(tmp_path):
    results = [r for r in grid_results() if r.method != "sema"]
    path = tmp_path / "interval.png"
    assert plot_metric_vs_switch_interval(results, path) == {}
    assert png_size(path) == (2 * PANEL_PIXELS[0], PANEL_PIXELS[1])


def test_surface_heatmap_for_grid(tmp_path):
    path = tmp_path / "surface.png"
    drawn = plot_momentum_interval_surface(grid_results(tasks=("moons",)), path)
    panel = drawn["moons"]
    assert png_size(path) == PANEL_PIXELS
    assert panel.kind == "heatmap"
    assert panel.momenta == list(MOMENTA)
    assert panel.intervals == list(INTERVALS)
    for row, interval in enumerate(INTERVALS):
        for column, momentum in enumerate(MOMENTA):
            expected = statistics.mean(search_values("moons", "sema", momentum, interval))
            assert panel.values[row][column] == pytest.approx(expected)


def test_surface_scatter_for_sampled(tmp_path):
    drawn = plot_momentum_interval_surface(sampled_results(), tmp_path / "surface.png")
    panel = drawn["moons"]
    sema = [r for r in sampled_results() if r.method == "sema"]
    assert panel.kind == "scatter"
    assert sorted((p.momentum, p.switch_interval, p.mean) for p in panel.points) == sorted(
        (r.momentum, r.switch_interval, r.val_metric) for r in sema)
    assert all(p.horizon_ratio == pytest.approx(r.horizon_ratio) for p, r in
               zip(sorted(panel.points, key=lambda p: p.momentum), sorted(sema, key=lambda r: r.momentum)))


def test_interval_plot_single_interval_grid(tmp_path):
    # A grid over momenta at one interval: each momentum appears once, yet it was listed.
    results = [r for r in grid_results(tasks=("moons",)) if r.switch_interval in (None, 1.0)]
    drawn = plot_metric_vs_switch_interval(results, tmp_path / "interval.png")
    (label, points), = drawn["moons"].series.items()
    assert label == "sema, momentum=0.99"
    assert [p.switch_interval for p in points] == [1.0]

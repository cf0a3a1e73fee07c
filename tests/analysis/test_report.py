"""The figure set of a study and its markdown and self-contained HTML reports."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import pytest

import sema_ray.analysis.figures as figures_module
from sema_ray.analysis.figures import write_boundary_figure, write_study_figures, write_task_figures
from sema_ray.analysis.report import StudyReport, TrackingSummary, write_html_report, write_report
from sema_ray.analysis.robust import most_robust_setting
from sema_ray.analysis.stats import compare_paired, summarize
from sema_ray.study.results import TrialResult

from .helpers import PANEL_PIXELS, grid_results, histories_for, png_size

TASK_FIGURES = ["moons_metric_vs_momentum.png", "moons_metric_vs_switch_interval.png",
                "moons_momentum_interval_surface.png", "moons_convergence.png",
                "moons_param_importances.png"]


class PageParser(HTMLParser):
    """Collect what a self-contained page must not have: outside references."""

    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "img":
            self.images.append(attributes)
        for name in ("href", "src"):
            if name in attributes and tag != "img":
                self.links.append(attributes[name])


def make_report(results: list[TrialResult], figures) -> StudyReport:
    tracking = TrackingSummary("http://127.0.0.1:5000", "synthetic", "1", "abc123",
                               "http://127.0.0.1:5000/#/experiments/1")
    return StudyReport("synthetic", results, summarize(results), compare_paired(results),
                       most_robust_setting(results), figures, tracking, {"mlflow.source.git.commit": "f00"})


def test_task_figures_written(tmp_path):
    results = grid_results()
    figures = write_task_figures("moons", results, histories_for(results), tmp_path)
    assert [f.name for f in figures] == TASK_FIGURES
    for figure in figures:
        assert figure.task == "moons"
        assert figure.error == ""
        assert png_size(figure.path) == PANEL_PIXELS
        assert list(figure.data) == ["moons"]


def test_task_figures_skip_what_did_not_run(tmp_path):
    results = [r for r in grid_results() if r.method == "basic"]
    figures = write_task_figures("moons", results, {}, tmp_path)
    # basic alone: no momentum, no switch interval, no history, one setting: only importances,
    # which records why basic has no bars.
    assert [f.name for f in figures] == ["moons_param_importances.png"]
    assert figures[0].data["moons"].skipped == {"basic": "one setting searched"}


def test_study_figures_written(tmp_path):
    figures = write_study_figures(grid_results(), tmp_path)
    assert [f.name for f in figures] == ["metric_vs_momentum.png", "sema_gain.png",
                                         "shared_setting_regret.png"]
    assert all(f.task is None and f.path.is_file() for f in figures)


def test_failed_figure_is_reported(tmp_path, monkeypatch):
    def broken(*args):
        raise RuntimeError("no curves today")

    monkeypatch.setattr(figures_module, "plot_convergence", broken)
    results = grid_results()
    figures = write_task_figures("moons", results, histories_for(results), tmp_path)
    failed = [f for f in figures if f.path is None]
    assert [f.name for f in failed] == ["moons_convergence.png"]
    assert failed[0].error == "RuntimeError: no curves today"
    assert len(figures) - len(failed) == 4

    text = write_report(make_report(results, figures), tmp_path / "report.md").read_text()
    assert "Not drawn: RuntimeError: no curves today" in text
    assert "![moons: convergence" not in text


def test_markdown_report_links_figures(tmp_path):
    results = grid_results()
    figures = write_study_figures(results, tmp_path) + write_task_figures("moons", results,
                                                                          histories_for(results), tmp_path)
    text = write_report(make_report(results, figures), tmp_path / "report.md").read_text()
    for figure in figures:
        assert f"![{figure.title}]({figure.name})" in text
    assert "## SEMA against each baseline" in text
    assert "**momentum=0.99, switch_interval=1**" in text
    assert "| tracking URI | `http://127.0.0.1:5000` |" in text
    assert "| mlflow.source.git.commit | `f00` |" in text


def test_html_report_is_self_contained(tmp_path):
    results = grid_results()
    figures = write_study_figures(results, tmp_path) + write_task_figures("moons", results,
                                                                          histories_for(results), tmp_path)
    path = write_html_report(make_report(results, figures), tmp_path / "report.html")
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))

    assert parser.links == []
    assert "script" not in parser.tags
    assert "link" not in parser.tags
    assert len(parser.images) == len(figures)
    for image, figure in zip(parser.images, figures):
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        assert base64.b64decode(image["src"][len(prefix):]) == figure.path.read_bytes()
        assert image["alt"] == figure.title
    assert parser.tags.count("table") >= 5  # best settings, test metric, comparison, regret, MLflow


def test_html_escapes_text(tmp_path):
    results = grid_results(tasks=("moons",))
    failed = TrialResult(**{**vars(results[0]), "status": "failed", "error": "<b>boom</b> & more"})
    path = write_html_report(make_report(results + [failed], []), tmp_path / "report.html")
    text = path.read_text(encoding="utf-8")
    assert "&lt;b&gt;boom&lt;/b&gt; &amp; more" in text
    assert "<b>boom</b>" not in text


@pytest.mark.parametrize("task", ["moons", "digits"])
def test_boundary_figure_only_for_2d_tasks(tmp_path, task):
    results = [r for r in grid_results(tasks=("moons",)) if r.method in ("basic", "sema")]
    results = [TrialResult(**{**vars(r), "task": task}) for r in results]
    figures = write_boundary_figure(task, results, {"epochs": 2}, {}, 0, 1000, tmp_path)
    if task == "digits":
        assert figures == []
        return
    (figure,) = figures
    assert figure.error == ""
    assert figure.path.name == "moons_decision_boundary.png"
    assert png_size(figure.path)[0] > 0
    assert sorted(entry["method"] for entry in figure.data.values()) == ["basic", "sema"]
    sema = next(entry for entry in figure.data.values() if entry["method"] == "sema")
    assert sema["settings"] == {"momentum": 0.99, "switch_interval": 1.0}
    assert 0.0 <= sema["test"]["accuracy"] <= 100.0

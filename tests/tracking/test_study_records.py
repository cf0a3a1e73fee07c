"""A tiny grid study against a real `mlflow server`: runs, params, histories, figures, reports, UI.

The `study` fixture (conftest.py) starts `mlflow server` on 127.0.0.1 with a temporary
sqlite store and artifact root, runs the study once through the CLI on the shared
local Ray, and these tests read everything back through `MlflowClient`. The last test
opens the MLflow UI in headless Chromium.
"""

from __future__ import annotations

import statistics
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO_ROOT

import sema_ray.study.runner as runner_module
from sema_ray.analysis.importance import MOMENTUM_PARAM
from sema_ray.study.config import parse_study
from sema_ray.tracking.provenance import GIT_COMMIT_TAG, git_state, package_versions
from sema_ray.tracking.study import StudyTracker

from .browser import Browser, find_chromium
from .helpers import EPOCHS, STUDY

TASK_FIGURES = {  # file name -> (width, height) in pixels
    "moons_metric_vs_momentum.png": (500, 400),  # one 5 x 4 inch panel at 100 dpi
    "moons_metric_vs_switch_interval.png": (500, 400),
    "moons_momentum_interval_surface.png": (500, 400),
    "moons_convergence.png": (500, 400),
    "moons_param_importances.png": (500, 400),
    "moons_decision_boundary.png": (1080, 504),  # two 4.5 x 4.2 inch panels at 120 dpi
}
STUDY_FIGURES = {
    "metric_vs_momentum.png": (500, 400),
    "sema_gain.png": (700, 205),  # 7 inches wide, 1.6 + 0.45 inches for one row, 100 dpi
}


def trial_runs(study, method: str | None = None, phase: str | None = None) -> list:
    return [run for run in study["levels"]["trial"]
            if method in (None, run.data.params["method"]) and phase in (None, run.data.params["phase"])]


def last_value(study, run, metric: str) -> float:
    return study["client"].get_metric_history(run.info.run_id, metric)[-1].value


def is_ancestor(older: str, newer: str) -> bool:
    """Return True when commit `older` is `newer` or one of its ancestors."""
    return subprocess.run(["git", "-C", str(REPO_ROOT), "merge-base", "--is-ancestor", older, newer],
                          check=False).returncode == 0


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_cli_exit_code_and_locations(study):
    assert study["exit_code"] == 0
    printed = study["printed"]
    output = study["output"].resolve()
    assert f"report:  {output / 'report.md'}" in printed
    assert f"{output / 'report.html'} (self-contained, with every figure)" in printed
    experiment_id = study["experiment"].experiment_id
    assert (f"MLflow:  {study['server']}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
            in printed)


def test_run_tree_nests_without_duplicates(study):
    levels = study["levels"]
    (study_run,), (task_run,) = levels["study"], levels["task"]
    assert study_run.info.run_name == "records_check"
    assert task_run.info.run_name == "moons"
    assert task_run.data.tags["mlflow.parentRunId"] == study_run.info.run_id
    # Search: basic once, sema at two momenta; evaluation: both methods at two seeds.
    assert len(trial_runs(study, phase="search")) == 3
    assert len(trial_runs(study, phase="evaluation")) == 4
    assert len(levels["trial"]) == len(study["outcome"].results) == 7
    keys = [run.data.tags["sema_ray.trial_key"] for run in levels["trial"]]
    assert len(set(keys)) == len(keys)
    for run in levels["trial"]:
        assert run.data.tags["mlflow.parentRunId"] == task_run.info.run_id
        assert run.info.status == "FINISHED"


def test_trial_params_and_tags(study):
    versions = package_versions()
    study_commit = study["levels"]["study"][0].data.tags[GIT_COMMIT_TAG]
    checkout = git_state()[0] != "unknown"
    for run in trial_runs(study):
        params, tags = run.data.params, run.data.tags
        assert params["task"] == "moons"
        assert params["world_size"] == "2"
        assert params["recipe.epochs"] == str(EPOCHS)
        assert int(params["seed"]) in ((0,) if params["phase"] == "search" else (1000, 1001))
        if params["method"] == "sema":
            assert float(params["momentum"]) in (0.9, 0.99)
            assert float(params["switch_interval"]) == 1.0
            steps = int(params["steps_per_epoch"])
            assert params["switch_every_steps"] == str(steps)
            assert float(params["horizon_ratio"]) == pytest.approx(steps * (1 - float(params["momentum"])))
        else:
            assert params["momentum"] == "None"
        if checkout:
            # Commits can land while the study runs: each run records the commit of its start.
            assert is_ancestor(study_commit, tags[GIT_COMMIT_TAG])
            assert is_ancestor(tags[GIT_COMMIT_TAG], "HEAD")
        else:
            assert tags[GIT_COMMIT_TAG] == study_commit == "unknown"
        assert tags["sema_ray.version.torch"] == versions["torch"]
        assert tags["sema_ray.version.mlflow"] == versions["mlflow"]
        assert tags["sema_ray.device"].startswith(("cpu: ", "cuda: "))


def test_trial_metric_histories(study):
    client = study["client"]
    for run in trial_runs(study):
        for metric in ("val_accuracy", "val_accuracy_fast", "train_loss", "samples_per_second"):
            history = client.get_metric_history(run.info.run_id, metric)
            assert [point.step for point in history] == list(range(1, EPOCHS + 1)), metric
        assert [p.step for p in client.get_metric_history(run.info.run_id, "test_accuracy")] == [EPOCHS]


def test_figures_logged_as_pngs(study, tmp_path):
    client = study["client"]
    (study_run,), (task_run,) = study["levels"]["study"], study["levels"]["task"]
    for run, figures in ((task_run, TASK_FIGURES), (study_run, STUDY_FIGURES)):
        logged = {item.path for item in client.list_artifacts(run.info.run_id)}
        assert set(figures) <= logged
        for name, size in figures.items():
            local = client.download_artifacts(run.info.run_id, name, str(tmp_path))
            data = Path(local).read_bytes()
            assert png_size(data) == size, name
            assert data == (study["output"] / name).read_bytes()
    assert set(study["outcome"].plotted) == set(TASK_FIGURES) | set(STUDY_FIGURES)


def test_reports_logged_on_study_run(study, tmp_path):
    client = study["client"]
    study_run = study["levels"]["study"][0]
    logged = {item.path for item in client.list_artifacts(study_run.info.run_id)}
    assert {"report.md", "report.html", "results.csv"} <= logged
    html = Path(client.download_artifacts(study_run.info.run_id, "report.html", str(tmp_path))).read_bytes()
    assert html == (study["output"] / "report.html").read_bytes()
    text = html.decode("utf-8")
    assert text.count('src="data:image/png;base64,') == len(TASK_FIGURES) + len(STUDY_FIGURES)
    assert 'src="http' not in text
    assert study_run.info.run_id in (study["output"] / "report.md").read_text()


def test_momentum_and_surface_data(study):
    plotted = study["outcome"].plotted
    searched = {float(run.data.params["momentum"]): last_value(study, run, "val_accuracy")
                for run in trial_runs(study, "sema", "search")}
    points = plotted["moons_metric_vs_momentum.png"]["moons"].series["sema, switch_interval=1"]
    assert [p.momentum for p in points] == [0.9, 0.99]
    assert [p.mean for p in points] == pytest.approx([searched[0.9], searched[0.99]])
    (basic,) = trial_runs(study, "basic", "search")
    references = plotted["moons_metric_vs_momentum.png"]["moons"].references
    assert references["basic"].mean == pytest.approx(last_value(study, basic, "val_accuracy"))

    surface = plotted["moons_momentum_interval_surface.png"]["moons"]
    assert surface.kind == "heatmap"
    assert surface.values == [pytest.approx([searched[0.9], searched[0.99]])]

    best = max(searched, key=searched.get)  # ties resolve to the first momentum, as in the plot
    (label, interval_points), = plotted["moons_metric_vs_switch_interval.png"]["moons"].series.items()
    assert label == f"sema, momentum={best:g}"
    assert [p.mean for p in interval_points] == pytest.approx([searched[best]])


def test_convergence_data(study):
    client = study["client"]
    curves = {c.label: c for c in study["outcome"].plotted["moons_convergence.png"]["moons"].curves}
    assert list(curves) == ["basic", "sema", "sema fast weights"]
    for label, method, metric in (("basic", "basic", "val_accuracy"), ("sema", "sema", "val_accuracy"),
                                  ("sema fast weights", "sema", "val_accuracy_fast")):
        runs = trial_runs(study, method, "evaluation")
        per_epoch = [[client.get_metric_history(run.info.run_id, metric)[epoch].value for run in runs]
                     for epoch in range(EPOCHS)]
        assert curves[label].epochs == list(range(1, EPOCHS + 1))
        assert curves[label].n == [2] * EPOCHS
        assert curves[label].mean == pytest.approx([statistics.mean(values) for values in per_epoch])


def test_importance_and_gain_data(study):
    plotted = study["outcome"].plotted
    panel = plotted["moons_param_importances.png"]["moons"]
    values = {last_value(study, run, "val_accuracy") for run in trial_runs(study, "sema", "search")}
    if len(values) == 2:
        assert panel.importances["sema"] == {MOMENTUM_PARAM: pytest.approx(1.0)}
    else:
        assert panel.skipped["sema"] == "every trial reached the same metric"
    assert panel.skipped["basic"] == "one setting searched"

    def test_by_seed(method):
        return {int(run.data.params["seed"]): last_value(study, run, "test_accuracy")
                for run in trial_runs(study, method, "evaluation")}

    sema, basic = test_by_seed("sema"), test_by_seed("basic")
    (gain,) = plotted["sema_gain.png"]["moons"]
    assert gain.baseline == "basic"
    assert gain.n == 2
    assert gain.gain == pytest.approx(statistics.mean(sema[seed] - basic[seed] for seed in (1000, 1001)))


def test_boundary_data(study):
    drawn = study["outcome"].plotted["moons_decision_boundary.png"]
    best_sema = max(trial_runs(study, "sema", "search"), key=lambda run: last_value(study, run, "val_accuracy"))
    entries = {entry["method"]: entry for entry in drawn.values()}
    assert sorted(entries) == ["basic", "sema"]
    assert entries["sema"]["settings"]["momentum"] == float(best_sema.data.params["momentum"])
    assert entries["sema"]["seed"] == 1000


def test_finish_again_adds_no_runs(study):
    # What a resumed study does on the driver: reopen the runs by key and finish again.
    config = parse_study(STUDY, "records_check.yaml")
    output = study["output"].resolve()
    tracker = StudyTracker(study["server"], "records_check", "records_check", output)
    assert tracker.study_run_id == study["levels"]["study"][0].info.run_id
    runner_module.finish_study(config, study["outcome"].results, output, tracker, 0.0)
    runs = study["client"].search_runs([study["experiment"].experiment_id])
    assert len(runs) == sum(len(level) for level in study["levels"].values())
    task_run = study["levels"]["task"][0]
    logged = {item.path for item in study["client"].list_artifacts(task_run.info.run_id)}
    assert logged == set(TASK_FIGURES)


def test_ui_shows_trials_and_plot(study, tmp_path):
    executable = find_chromium()
    if executable is None:
        pytest.skip("Chromium is not installed; .ci/run installs it from the system packages")
    experiment_id = study["experiment"].experiment_id
    (study_run,), (task_run,) = study["levels"]["study"], study["levels"]["task"]
    trial_names = sorted(run.info.run_name for run in study["levels"]["trial"])
    # MLflow 3 opens the GenAI view unless the URL requests the model-training one.
    query = urllib.parse.urlencode({"workflowType": "machine_learning",
                                    "searchFilter": "tags.`sema_ray.level` = 'trial'"})
    runs_url = f"{study['server']}/#/experiments/{experiment_id}/runs?{query}"
    plot_url = (f"{study['server']}/#/experiments/{experiment_id}/runs/{study_run.info.run_id}"
                "/artifactPath/sema_gain.png?workflowType=machine_learning")
    expander = f'[role=row][row-id="{task_run.info.run_id}"] [col-id*="Run Name"] button'
    names_shown = " && ".join(f"document.body.innerText.includes({name!r})" for name in trial_names)
    plot_shown = ("Array.from(document.images).filter(i => i.complete && i.src.startsWith('blob:'))"
                  ".map(i => [i.naturalWidth, i.naturalHeight])[0]")

    async def scenario(page):
        await page.navigate(runs_url)
        await page.wait_for(f"!!document.querySelector({expander!r})", 120, "the task run in the runs table")
        await page.evaluate(f"document.querySelector({expander!r}).click()")
        await page.wait_for(names_shown, 60, f"the trial runs {trial_names}")
        runs_shot = await page.screenshot(tmp_path / "mlflow_trial_runs.png")
        await page.navigate(plot_url)
        size = await page.wait_for(plot_shown, 120, "the sema_gain.png artifact")
        plot_shot = await page.screenshot(tmp_path / "mlflow_plot_artifact.png")
        viewport = await page.evaluate("[window.innerWidth, window.innerHeight]")
        return size, runs_shot, plot_shot, viewport

    profile = tmp_path / "chromium_profile"
    profile.mkdir()
    browser = Browser(executable, profile)
    try:
        size, runs_shot, plot_shot, viewport = browser.run(scenario)
    finally:
        browser.close()
    # The artifact view shows the logged PNG at its own size.
    assert tuple(size) == STUDY_FIGURES["sema_gain.png"]
    assert png_size(runs_shot.read_bytes()) == tuple(viewport)
    assert png_size(plot_shot.read_bytes()) == tuple(viewport)

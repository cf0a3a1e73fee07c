"""A search with ASHA early stopping through real Ray Tune and Ray Train finishes.

ASHA stops a trial while its Ray Train run is still going. Tune cannot reuse the
process of such a trial, and the study must still run every trial.
"""

from __future__ import annotations

import pytest

from sema_ray.study.config import parse_study

ASHA_STUDY = {
    "name": "asha_check",
    "tasks": [{"name": "moons", "recipe": {"epochs": 4}}],
    # Momentum 0.9999 keeps the averaged weights near their start, so its trials fall
    # behind at the first rung and ASHA stops them.
    "methods": {"sema": {"momentum": [0.9, 0.9999], "switch_interval": [1, 2]}},
    "search": {"sampler": "grid", "seeds": [0], "asha": {"grace_period": 1, "reduction_factor": 2}},
    "evaluation": {"seeds": 0},
}


@pytest.fixture(scope="module")
def asha_outcome(ray_local, tmp_path_factory):
    from sema_ray.study.runner import run_study

    config = parse_study(ASHA_STUDY, "asha_check.yaml")
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        return run_study(config, tmp_path_factory.mktemp("asha"))


def test_asha_study_runs_every_trial(asha_outcome):
    assert not asha_outcome.missing
    assert len(asha_outcome.results) == 4


def test_asha_stops_a_trial_early(asha_outcome):
    statuses = sorted(result.status for result in asha_outcome.results)
    assert "stopped" in statuses, statuses
    for result in asha_outcome.results:
        if result.status == "stopped":
            assert 1 <= result.epochs < 4
        else:
            assert result.status == "ok"
            assert result.epochs == 4

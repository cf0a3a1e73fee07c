"""Fixtures for the tracking tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient


@pytest.fixture(scope="session")
def store_template(tmp_path_factory) -> Path:
    """Return an empty, migrated MLflow sqlite database; creating one takes seconds, copying it none."""
    path = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path

"""Trial checkpoints: everything needed to continue a trial as if it never stopped."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINT_FILE = "trial.pt"


def capture_rng() -> dict[str, Any]:
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }


def restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def save_state(directory: Path, state: dict[str, Any]) -> Path:
    path = directory / CHECKPOINT_FILE
    torch.save(state, path)
    return path


def load_state(checkpoint) -> dict[str, Any]:
    """Load the state saved in a `ray.train.Checkpoint`."""
    with checkpoint.as_directory() as directory:
        # weights_only=False: the state contains RNG states and optimizer dicts we wrote.
        return torch.load(Path(directory) / CHECKPOINT_FILE, weights_only=False)


def new_checkpoint_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="sema_ray_ckpt_")

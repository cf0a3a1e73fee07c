"""`noisy_quadratic`: SGD on the noisy quadratic model, and the variance of its iterates.

The loss of one draw is L(x) = 0.5 (x - c)^T A (x - c) with c ~ N(0, Sigma), so the
optimum is x = 0. A and Sigma are diagonal: the curvatures are log-spaced from
`max_curvature` down to `max_curvature / condition`, and Sigma = `noise_scale` * A, the
gradient noise of Zhang et al., "Which Algorithmic Choices Matter at Which Batch
Sizes?" (2019). SGD with learning rate eta and batch size B then has iterates whose
covariance converges to

    V_SGD = eta A (2 I - eta A)^-1 Sigma / B,

and the SEMA paper (Li et al., "Switch EMA", proposition 1) shows that EMA and SEMA
iterates have a smaller one. To measure it, the model contains `replicas` independent
copies of x, each trained on its own noise. `evaluate` reports the variance of the
weights it is given, summed over the coordinates and averaged over the copies, next
to the closed-form V_SGD. The averaged weights of `ema` and `sema` trials can so be
compared with it. The copies start from N(0, V_SGD), so plain SGD is at its steady
state from the first step.

The closed form holds for plain SGD at a constant learning rate without weight decay:
the default recipe (timm's `momentum` optimizer with `optimizer_momentum=0`). No data
is read; the noise is drawn from `data_seed`, fresh for every pass over the training
split.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from sema_ray.tasks.base import Recipe, Splits, Task

logger = logging.getLogger(__name__)

# Noise streams of the three splits, so they never share a draw.
TRAIN_STREAM, VAL_STREAM, TEST_STREAM = 0, 1, 2
# Draws in the validation and test splits, each a fresh N(0, Sigma) for every copy.
EVAL_SIZE = 64


class NoiseDraws(Dataset):
    """Standard normal draws of shape (replicas, dim); the model scales them by sqrt(Sigma).

    With `fresh=True` the k-th access to an index returns its k-th draw, so every pass
    over the split gets new noise. A DistributedSampler gives each index to one rank
    per epoch, so ranks never share a draw. Targets are a placeholder, because the
    loss needs only the model's output.

    NOTE: a DataLoader with `num_workers > 0` counts visits in its worker processes'
    copies of this object, so without `persistent_workers=True` every epoch repeats the
    first epoch's noise.
    """

    def __init__(self, size: int, replicas: int, dim: int, seed: int, stream: int, fresh: bool):
        self.shape = (replicas, dim)
        self.seed, self.stream, self.fresh = seed, stream, fresh
        self.visits = np.zeros(size, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.visits)

    def __getitem__(self, index: int):
        visit = int(self.visits[index])
        if self.fresh:
            self.visits[index] += 1
        # NOTE: the visit counts are not checkpointed, so a resumed trial draws the noise
        # of its first epochs again; the variance it measures is unaffected.
        key = np.random.SeedSequence([self.seed, self.stream, index, visit]).generate_state(1)[0]
        generator = torch.Generator().manual_seed(int(key))
        return torch.randn(self.shape, generator=generator), torch.zeros(())


class NoisyQuadratic(nn.Module):
    """`replicas` independent copies of x; the forward pass returns sqrt(A) (x - c)."""

    def __init__(self, curvature: torch.Tensor, noise_variance: torch.Tensor, replicas: int,
                 lr: float, batch_size: int):
        super().__init__()
        # Non-persistent: constants of the problem, so averagers and checkpoints skip them.
        self.register_buffer("curvature", curvature, persistent=False)
        self.register_buffer("noise_variance", noise_variance, persistent=False)
        self.lr, self.batch_size = lr, batch_size
        self.x = nn.Parameter(torch.randn(replicas, len(curvature)) * self.sgd_variance().sqrt())

    def sgd_variance(self) -> torch.Tensor:
        """Return the steady-state variance of each coordinate under SGD, eta a s / ((2 - eta a) B)."""
        step = self.lr * self.curvature
        return step * self.noise_variance / ((2.0 - step) * self.batch_size)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """Map standard normal draws (batch, replicas, dim) to sqrt(A) (x - c), c ~ N(0, Sigma)."""
        c = noise * self.noise_variance.sqrt()
        return self.curvature.sqrt() * (self.x - c)


def quadratic_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """0.5 (x - c)^T A (x - c), summed over the copies and averaged over the batch.

    Summing over the copies keeps each copy's gradient that of its own problem.
    """
    return 0.5 * output.square().sum(dim=(1, 2)).mean()


def load_splits(data_seed: int, options: dict) -> Splits:
    replicas, dim = options["replicas"], options["dim"]
    return Splits(
        NoiseDraws(options["train_size"], replicas, dim, data_seed, TRAIN_STREAM, fresh=True),
        NoiseDraws(EVAL_SIZE, replicas, dim, data_seed, VAL_STREAM, fresh=False),
        NoiseDraws(EVAL_SIZE, replicas, dim, data_seed, TEST_STREAM, fresh=False),
    )


def build_model(recipe: Recipe, options: dict) -> nn.Module:
    curvature = options["max_curvature"] * torch.logspace(0, -np.log10(options["condition"]), options["dim"])
    step = recipe.lr * float(curvature.max())
    if step >= 2.0:
        raise ValueError(f"recipe.lr={recipe.lr} times the largest curvature "
                         f"{options['max_curvature']} is {step:.3g} >= 2, so SGD diverges; "
                         f"use lr < {2.0 / options['max_curvature']:.3g}")
    plain_sgd = (recipe.optimizer == "momentum" and recipe.optimizer_momentum == 0.0
                 and recipe.weight_decay == 0.0 and recipe.scheduler == "constant"
                 and recipe.warmup_epochs == 0)
    if not plain_sgd:
        logger.warning("noisy_quadratic: the closed-form SGD variance assumes plain SGD at a constant "
                       "learning rate without weight decay; this recipe (%s, momentum %s, weight decay %s, "
                       "%s schedule, %d warmup epochs) differs, so compare methods with each other only",
                       recipe.optimizer, recipe.optimizer_momentum, recipe.weight_decay,
                       recipe.scheduler, recipe.warmup_epochs)
    return NoisyQuadratic(curvature, options["noise_scale"] * curvature, options["replicas"],
                          recipe.lr, recipe.batch_size)


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    """Return the variance of the weights about the optimum next to the closed-form SGD one."""
    x = model.x.double()
    curvature = model.curvature.double()
    # The optimum is 0, so the mean square over the copies is the variance of each coordinate.
    variance = x.square().mean(dim=0)
    sgd_variance = model.sgd_variance().double()

    loss_sum, draws = 0.0, 0
    for noise, targets in loader:
        loss_sum += quadratic_loss(model(noise.to(device)), targets).item() * len(noise)
        draws += len(noise)

    return {
        "variance": variance.sum().item(),
        "sgd_variance": sgd_variance.sum().item(),
        "variance_ratio": (variance.sum() / sgd_variance.sum()).item(),
        # The part of the expected loss that the iterates add above the noise floor.
        "excess_loss": 0.5 * (curvature * variance).sum().item(),
        "loss": loss_sum / draws / x.shape[0],  # per copy, on this split's draws
    }


def check_options(options: dict) -> None:
    for name in ("dim", "replicas", "train_size"):
        if options[name] < 1:
            raise ValueError(f"option {name!r} must be at least 1, got {options[name]}")
    for name in ("max_curvature", "noise_scale"):
        if options[name] <= 0:
            raise ValueError(f"option {name!r} must be positive, got {options[name]}")
    if options["condition"] < 1:
        raise ValueError(f"option 'condition' must be at least 1, got {options['condition']}")


TASK = Task(
    name="noisy_quadratic",
    description="noisy quadratic model, plain SGD, variance of the iterates vs the closed form",
    metric="variance",
    mode="min",
    # timm's "momentum" is torch SGD without Nesterov, the only form that allows momentum 0.
    recipe=Recipe(optimizer="momentum", lr=0.5, optimizer_momentum=0.0, weight_decay=0.0,
                  scheduler="constant", epochs=20, batch_size=8),
    load_splits=load_splits,
    build_model=build_model,
    loss_fn=quadratic_loss,
    evaluate=evaluate,
    seconds_per_epoch=0.5,  # estimate: 64 steps of about 1 ms, plus drawing the noise
    option_defaults={
        "dim": 16,  # coordinates of x
        "replicas": 512,  # independent copies of x; more copies estimate the variance better
        "max_curvature": 1.0,  # largest diagonal entry of A
        "condition": 100.0,  # largest over smallest entry of A
        "noise_scale": 1.0,  # Sigma = noise_scale * A
        "train_size": 512,  # noise draws per epoch: steps per epoch = train_size / batch_size
    },
    check_options=check_options,
)

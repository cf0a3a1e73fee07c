"""`circles`: two concentric circles with 50 labeled points, a 2-layer MLP, SGD.

The companion of `moons` in the SEMA paper's decision-boundary experiment (Li et al.,
"Switch EMA: A Free Lunch for Better Flatness and Sharpness", figure 3): the same MLP
and SGD at a fixed learning rate of 0.01, on scikit-learn's `make_circles`. It reports
accuracy and the expected calibration error (`ece`, percent);
`python -m sema_ray.tasks.compare circles --plot boundary.png` draws the decision
boundaries of basic, EMA and SEMA side by side.
"""

from __future__ import annotations

from sklearn.datasets import make_circles
from torch import nn

from sema_ray.tasks import moons
from sema_ray.tasks.base import Splits, Task
from sema_ray.tasks.classification import evaluate_calibration, split_arrays

# The inner circle has half the radius of the outer one.
N_SAMPLES, NOISE, FACTOR = 1000, 0.1, 0.5
# 50 labeled training points; the remaining 950 are cut into validation and test.
TRAIN_SIZE, VAL_SIZE = 50, 475


def load_splits(data_seed: int, options: dict) -> Splits:
    points, labels = make_circles(n_samples=N_SAMPLES, noise=NOISE, factor=FACTOR,
                                  random_state=data_seed)
    return split_arrays(points, labels, (TRAIN_SIZE, VAL_SIZE), data_seed)


TASK = Task(
    name="circles",
    description="two circles, 50 labeled points, 2-layer MLP, SGD lr 0.01, accuracy (%) and ECE",
    metric="accuracy",
    mode="max",
    # The same MLP and recipe as moons, so the two toy tasks differ only in their data.
    recipe=moons.TASK.recipe,
    load_splits=load_splits,
    build_model=moons.build_model,
    loss_fn=nn.functional.cross_entropy,
    evaluate=evaluate_calibration,
)

"""Weight averaging for any PyTorch training loop: SEMA, EMA, SWA and Lookahead.

Importing this package needs only torch. Typical use::

    from sema_ray.averaging import SwitchEMA

    averager = SwitchEMA(model, momentum=0.999, switch_every="epoch", optimizer=optimizer)
    for epoch in range(epochs):
        for inputs, targets in loader:
            loss_fn(model(inputs), targets).backward()
            optimizer.step()
            optimizer.zero_grad()
            averager.update()
        with averager.averaged():       # evaluate the averaged weights
            evaluate(model)
        averager.end_epoch()            # then switch them into the model
        save_checkpoint(model.state_dict(), averager.state_dict())

``build_averager(method, model, optimizer, **params)`` builds any of ``METHODS``
behind the same interface.
"""

from .base import Averager, NoAveraging
from .batchnorm import recompute_bn_stats
from .ema import EMA
from .factory import METHODS, build_averager, method_parameters
from .fused import LAYOUTS
from .lookahead import Lookahead
from .modules import unwrap_model
from .policies import (
    BN_POLICIES,
    OPTIMIZER_POLICIES,
    horizon_ratio,
    rescale_momentum,
    reset_optimizer_state,
    resolve_switch_every,
)
from .sema import SwitchEMA
from .swa import SWA

__all__ = [
    "BN_POLICIES",
    "EMA",
    "LAYOUTS",
    "METHODS",
    "OPTIMIZER_POLICIES",
    "SWA",
    "Averager",
    "Lookahead",
    "NoAveraging",
    "SwitchEMA",
    "build_averager",
    "horizon_ratio",
    "method_parameters",
    "recompute_bn_stats",
    "rescale_momentum",
    "reset_optimizer_state",
    "resolve_switch_every",
    "unwrap_model",
]

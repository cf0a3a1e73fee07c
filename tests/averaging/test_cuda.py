"""CUDA-only checks: no host synchronization in update(), and mixed-precision arithmetic."""

from __future__ import annotations

import pytest
import torch

from sema_ray.averaging import EMA, SwitchEMA

from .helpers import floating_state, make_bn_net

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("layout", ["foreach", "flat"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_update_does_not_synchronize(layout, dtype):
    model = make_bn_net().to("cuda", dtype)
    averager = SwitchEMA(model, momentum=0.9, switch_every=2, layout=layout)
    averager.update()  # first call outside the check: lazy CUDA initialization may sync
    torch.cuda.synchronize()

    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(4):
            averager.update()
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("layout", ["foreach", "flat"])
def test_bf16_cuda_matches_float64(layout):
    model = make_bn_net().to("cuda", torch.bfloat16)
    averager = EMA(model, momentum=0.99, layout=layout)
    reference = {name: value.double() for name, value in floating_state(model).items()}
    generator = torch.Generator(device="cuda").manual_seed(0)

    for _ in range(200):
        with torch.no_grad():
            for param in model.parameters():
                param.add_(
                    torch.randn(param.shape, device="cuda", generator=generator).to(param.dtype)
                    * 0.1
                )
        averager.update()
        for name, value in floating_state(model).items():
            reference[name] = 0.99 * reference[name] + 0.01 * value.double()

    shadow = averager.state_dict()["shadow"]
    for name, expected in reference.items():
        assert shadow[name].dtype == torch.float32
        torch.testing.assert_close(shadow[name].double(), expected, rtol=1e-5, atol=1e-5)

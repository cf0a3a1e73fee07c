"""Image models from timm by name, adapted to small images, for the image tasks."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import timm
from timm.models import model_entrypoint
from torch import nn

from sema_ray.tasks.base import Recipe

# At or below this image size a ResNet gets the CIFAR stem and a ViT 4x4 patches.
SMALL_IMAGE_SIZE = 64
# timm modules whose models take `img_size` and `patch_size` arguments.
VIT_MODULES = ("timm.models.vision_transformer", "timm.models.deit")


def check_model_name(recipe: Recipe) -> None:
    """Raise ValueError unless `recipe.model` names a timm model, suggesting close names."""
    if recipe.model is None or timm.is_model(recipe.model):
        return
    close = difflib.get_close_matches(recipe.model, timm.list_models(), n=3)
    hint = f"; close timm names: {', '.join(close)}" if close else ""
    raise ValueError(f"recipe.model={recipe.model!r} is not a timm model{hint} "
                     "(timm.list_models() lists them all)")


def build_timm_model(name: str, num_classes: int, image_size: int,
                     model_kwargs: Mapping[str, Any]) -> nn.Module:
    """Create timm model `name` with random weights for `num_classes` classes.

    For images of at most 64 pixels a side, a ResNet-family model gets the CIFAR stem:
    one 3x3 convolution with stride 1 and no max-pool, so a 32x32 input keeps its
    resolution into the first stage. A ViT gets `img_size=image_size` and, unless
    `model_kwargs` sets it, `patch_size=4`. `model_kwargs` go to `timm.create_model`.
    """
    check_model_name(Recipe(model=name))
    module = model_entrypoint(name).__module__
    kwargs = dict(model_kwargs)
    if module in VIT_MODULES:
        kwargs.setdefault("img_size", image_size)
        if image_size <= SMALL_IMAGE_SIZE:
            kwargs.setdefault("patch_size", 4)

    # pretrained=False: studies train from scratch, and workers may have no internet.
    model = timm.create_model(name, pretrained=False, num_classes=num_classes, **kwargs)
    if module == "timm.models.resnet" and image_size <= SMALL_IMAGE_SIZE:
        use_cifar_stem(model, kwargs.get("in_chans", 3))
    return model


def use_cifar_stem(model: nn.Module, in_channels: int = 3) -> None:
    """Replace a timm ResNet's 7x7/stride-2 stem and max-pool with one 3x3/stride-1 conv."""
    # `bn1` follows the stem in every timm ResNet, also the deep-stem variants (resnet*d)
    # whose `conv1` is a Sequential, so its width is the width the stem must output.
    width = model.bn1.num_features
    model.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()

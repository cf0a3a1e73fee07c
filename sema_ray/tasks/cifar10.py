"""`cifar10`: CIFAR-10 read from torchvision's files; see `sema_ray.tasks.cifar`."""

from sema_ray.tasks.cifar import CIFAR10, make_task

TASK = make_task("cifar10", CIFAR10)

"""`cifar100`: CIFAR-100 (fine labels) read from torchvision's files; see `sema_ray.tasks.cifar`."""

from sema_ray.tasks.cifar import CIFAR100, make_task

TASK = make_task("cifar100", CIFAR100)

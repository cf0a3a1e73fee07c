"""SEMA under 2-process DDP (gloo): ranks agree with each other and with one process."""

from __future__ import annotations

import socket

import torch
import torch.multiprocessing as mp

from . import ddp_worker
from .helpers import make_mlp


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ddp_ranks_match_each_other_and_single_process(tmp_path):
    mp.spawn(ddp_worker.run_rank, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(2)]

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = ddp_worker.train(make_mlp(), ddp_worker.global_batches())
    finally:
        torch.set_num_threads(threads)

    for wrapping in ("ddp", "ddp_flat", "compile_then_ddp", "ddp_then_compile"):
        rank0, rank1 = ranks[0][wrapping], ranks[1][wrapping]
        assert rank0["switched"] == rank1["switched"] == single["switched"], wrapping
        assert single["switched"] == [False, False, True, False, False, True, False]
        for name, value in rank0["averaged"].items():
            assert torch.equal(value, rank1["averaged"][name]), (wrapping, name)
            torch.testing.assert_close(value, single["averaged"][name], rtol=1e-5, atol=1e-6)
        for name, value in rank0["fast"].items():
            torch.testing.assert_close(value, single["fast"][name], rtol=1e-5, atol=1e-6)

    for rank in ranks:
        assert rank["compile_then_ddp"]["unwrapped_is_base"]
        assert rank["ddp_then_compile"]["unwrapped_is_base"]

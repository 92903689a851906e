"""Stage 1 over several processes: each reads its share of the training rows, and sums are reduced.

When FairIF runs in every process of a :mod:`torch.distributed` job (launched by
``torchrun`` or ``accelerate launch``; a skorch ``AccelerateMixin`` net's
Accelerator starts the process group), each process computes the curvature
products and influence scores of a contiguous block of the rows, and an
all-reduce sums the blocks. Every process then holds the same products and
scores as one process would (up to the order of floating-point sums), and takes
the same steps after them. Without a process group this is one process holding
every row.
"""

from __future__ import annotations

import numpy as np
import torch


def world() -> tuple[int, int]:
    """``(rank, number of processes)`` of the running torch.distributed job, ``(0, 1)`` outside one."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def summed(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` summed over the processes, in place (itself in one process)."""
    if world()[1] > 1:
        torch.distributed.all_reduce(tensor)
    return tensor


def same_seed(seed: int) -> int:
    """Process 0's ``seed`` in every process, so that all draw the same subsamples and initialisations."""
    if world()[1] == 1:
        return seed
    # NCCL (GPUs) communicates CUDA tensors only; gloo (CPUs) CPU tensors
    device = f"cuda:{torch.cuda.current_device()}" if torch.distributed.get_backend() == "nccl" else "cpu"
    value = torch.tensor([seed], dtype=torch.int64, device=device)
    torch.distributed.broadcast(value, src=0)
    return int(value.item())


def my_rows(rows: np.ndarray) -> np.ndarray:
    """This process's contiguous block of ``rows`` (all of them in one process)."""
    rank, size = world()
    return rows[rank * len(rows) // size : (rank + 1) * len(rows) // size]

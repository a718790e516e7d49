"""Data-parallel training with one code path: a plain process, or several under ``torchrun``.

>>> with distributed_setup() as info:                      # reads torchrun's RANK, WORLD_SIZE, ...
...     model = wrap_model(Net().to(info.device), info)    # DistributedDataParallel when world_size > 1
...     def step_loss(rng):
...         idx = rank_slice(rng.integers(0, n, 256), info)  # the same global batch on every rank
...         return loss_fn(model(x[idx]), y[idx])          # a mean over the rank's part of the batch
...     fit(model, step_loss, steps=1000, seed=0)
...     if info.is_main:
...         torch.save(unwrap_model(model).state_dict(), "net.pt")

Run as ``python train.py`` (one process, on ``resolve_device("auto")``) or as
``torchrun --nproc_per_node=4 train.py`` (one process per GPU, NCCL; gloo on CPUs).

**Why every rank draws the whole batch.** :func:`sbir_lib.train.fit` hands ``step_loss`` a generator
seeded with the same ``seed`` on every rank, so every rank draws the same global batch and keeps its
contiguous part (:func:`rank_slice`). DistributedDataParallel averages the ranks' gradients, and the
mean of ``W`` means over ``B / W`` items each is the mean over all ``B``: ``W`` ranks take the same
step as one process with the whole batch (up to float rounding), for any number of GPUs.

Run ``python -m sbir_lib.distributed --steps 20 --out params.npz`` (or under ``torchrun``) for a
small demonstration that trains a seeded MLP on synthetic data through this code path.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "TORCHRUN_ENV",
    "gloo_unavailable_reason",
    "DistributedInfo",
    "distributed_setup",
    "wrap_model",
    "unwrap_model",
    "rank_slice",
    "rank_split",
    "all_gather_array",
    "is_main",
    "main_print",
    "barrier",
    "main",
]

#: The environment variables ``torchrun`` sets for each process (cleared to run a plain process).
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
                "TORCHELASTIC_RUN_ID")


def gloo_unavailable_reason() -> str | None:
    """Why CPU processes cannot train together here (no ``torch.distributed``, no gloo backend), or None."""
    import torch.distributed as dist

    if not dist.is_available():
        return "this torch build has no torch.distributed"
    if not dist.is_gloo_available():
        return "this torch build has no gloo backend"
    return None


@dataclass(frozen=True)
class DistributedInfo:
    """Where this process stands: ``rank`` of ``world_size`` processes, ``local_rank`` on its machine
    (the GPU it drives), the ``device`` its tensors live on, and the process group's ``backend``
    (None in a single process)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that writes files and prints."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not an integer") from None


@contextmanager
def distributed_setup(backend: str | None = None, device: str = "auto") -> Iterator[DistributedInfo]:
    """Join the process group that ``torchrun`` describes in the environment, and leave it on exit.

    With ``WORLD_SIZE > 1`` (``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT`` set by
    torchrun) this calls ``torch.distributed.init_process_group`` with ``backend`` (default ``"nccl"``
    when CUDA is available, else ``"gloo"``) and, on a GPU, makes ``cuda:LOCAL_RANK`` the current
    device; the group is destroyed on exit (unless it already existed on entry). Without torchrun's
    environment (or ``WORLD_SIZE=1``) nothing is initialised: rank 0 of 1 on
    ``sbir_lib.runtime.resolve_device(device)``.

    device: ``"auto"`` (one GPU per local rank when CUDA is available, else the CPU) or ``"cpu"``;
    in a single process any name :func:`~sbir_lib.runtime.resolve_device` accepts.
    """
    from .runtime import resolve_device

    world_size = _env_int("WORLD_SIZE", 1)
    if world_size < 1:
        raise ValueError(f"WORLD_SIZE must be >= 1, got {world_size}")
    if world_size == 1:
        yield DistributedInfo(device=resolve_device(device))
        return

    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    rank, local_rank = _env_int("RANK", -1), _env_int("LOCAL_RANK", 0)
    if not 0 <= rank < world_size:
        raise ValueError(f"RANK={rank} is not in [0, WORLD_SIZE={world_size}); launch with torchrun")
    missing = [name for name in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(name)]
    if missing:
        raise ValueError(f"WORLD_SIZE={world_size} but {', '.join(missing)} unset; launch with torchrun")
    if device == "auto":
        use_cuda = torch.cuda.is_available()
    elif device == "cpu":
        use_cuda = False
    else:
        raise ValueError(f"device must be 'auto' or 'cpu' under torchrun, got {device!r}")
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} GPUs are visible; "
                               "start at most one process per GPU (--nproc_per_node)")
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
    else:
        dev = torch.device("cpu")
    if backend is None:
        backend = "nccl" if use_cuda else "gloo"
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world_size)
    else:
        backend = dist.get_backend()
    try:
        yield DistributedInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=dev, backend=backend)
    finally:
        if owns and dist.is_initialized():
            dist.destroy_process_group()


def wrap_model(model: torch.nn.Module, info: DistributedInfo, **ddp_kwargs) -> torch.nn.Module:
    """``model`` moved to ``info.device``, wrapped in ``DistributedDataParallel`` when
    ``world_size > 1`` (``ddp_kwargs`` passed on, e.g. ``find_unused_parameters=True``), else itself.

    DDP copies rank 0's parameters to every rank here and averages the gradients in ``backward()``
    -- but only of losses computed through the wrapper's ``forward`` (``wrapped(x)``), not through
    ``unwrap_model(wrapped).some_method(x)``.
    """
    model = model.to(info.device)
    if info.world_size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if info.device.type == "cuda":
        ddp_kwargs.setdefault("device_ids", [info.device.index])
        ddp_kwargs.setdefault("output_device", info.device.index)
    return DistributedDataParallel(model, **ddp_kwargs)


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a ``DistributedDataParallel`` (its ``state_dict`` has no ``module.`` prefix);
    any other module unchanged."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def rank_slice(global_batch, info: DistributedInfo):
    """This rank's contiguous part of a global batch: ``global_batch[r * B/W : (r + 1) * B/W]``.

    ``global_batch``: anything sliceable with a length (indices array, tensor, list), drawn
    identically on every rank. ``B`` must be divisible by ``world_size`` so that every rank's mean
    loss weighs its items as the full-batch mean does (raises ``ValueError`` otherwise).
    """
    n, w = len(global_batch), info.world_size
    if n % w:
        raise ValueError(f"the global batch of {n} items is not divisible by world_size={w}; "
                         f"use a batch size that is a multiple of {w}")
    part = n // w
    return global_batch[info.rank * part:(info.rank + 1) * part]


def rank_split(n: int, info: DistributedInfo) -> np.ndarray:
    """Indices ``0 .. n-1`` of this rank's contiguous share of ``n`` items (shares differ by at most
    one; ``np.array_split`` order), e.g. to embed a gallery in parallel: gathering the ranks' results
    with :func:`all_gather_array` restores the order ``0 .. n-1``."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return np.array_split(np.arange(int(n)), info.world_size)[info.rank]


def all_gather_array(array, info: DistributedInfo) -> np.ndarray:
    """Concatenate every rank's ``array`` along axis 0, in rank order (the input itself in a single
    process). Ranks may hold different numbers of rows; the other dimensions and the dtype must agree
    (``ValueError`` otherwise). A collective: every rank must call it."""
    arr = np.asarray(array)
    if info.world_size == 1:
        return arr
    import torch.distributed as dist

    if arr.dtype == object:
        raise ValueError("all_gather_array cannot send object arrays")
    arr = np.ascontiguousarray(np.atleast_1d(arr))
    metas: list = [None] * info.world_size
    dist.all_gather_object(metas, (arr.shape, arr.dtype.str))
    if len({(tuple(shape[1:]), dtype) for shape, dtype in metas}) > 1:
        raise ValueError(f"all_gather_array: ranks hold arrays of different row shapes or dtypes: {metas}")
    rows = [shape[0] for shape, _ in metas]
    row_bytes = arr.itemsize * int(np.prod(arr.shape[1:], dtype=np.int64))
    # sent as raw bytes (any dtype, either backend), padded to the longest rank's rows
    flat = np.zeros((max(rows), row_bytes), np.uint8)
    flat[:len(arr)] = np.frombuffer(arr.tobytes(), np.uint8).reshape(len(arr), row_bytes)
    local = torch.from_numpy(flat).to(info.device)
    gathered = [torch.empty_like(local) for _ in range(info.world_size)]
    dist.all_gather(gathered, local)
    data = b"".join(g[:r].cpu().numpy().tobytes() for g, r in zip(gathered, rows))
    out = np.frombuffer(data, arr.dtype).copy()
    return out.reshape((sum(rows),) + arr.shape[1:])


def is_main(info: DistributedInfo | None = None) -> bool:
    """True on the process that writes files and prints: rank 0, or any process without ``info``."""
    return info is None or info.is_main


def main_print(info: DistributedInfo | None, *args, **kwargs) -> None:
    """``print`` on the main rank only."""
    if is_main(info):
        print(*args, **kwargs)


def barrier(info: DistributedInfo) -> None:
    """Wait until every rank gets here (e.g. until rank 0 has written a file); no-op in one process."""
    if info.world_size > 1:
        import torch.distributed as dist

        dist.barrier()


# --------------------------------------------------------------------------- demonstration


def main(argv=None) -> int:
    """Train a seeded MLP on synthetic regression data with :func:`sbir_lib.train.fit` through this
    module's code path; rank 0 writes the final parameters, ``world_size`` and the predictions on
    all items (computed in parallel, gathered), the per-rank batch size and the mean squared error on
    all items before and after training to ``--out`` (.npz)."""
    from .train import fit

    parser = argparse.ArgumentParser(prog="python -m sbir_lib.distributed", description=main.__doc__)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", required=True, help="output .npz file (written by rank 0)")
    parser.add_argument("--batch", type=int, default=64, help="global batch size (a multiple of the world size)")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default=None, help="process-group backend (default: nccl on GPUs, else gloo)")
    parser.add_argument("--device", default="auto", help="'auto' or 'cpu'")
    args = parser.parse_args(argv)

    data_rng = np.random.default_rng(1234)  # the same data on every rank
    n_items, dim = 251, 8
    x_all = data_rng.standard_normal((n_items, dim)).astype(np.float32)
    w_true = data_rng.standard_normal((dim, 1)).astype(np.float32)
    y_all = (np.tanh(x_all @ w_true) + 0.1 * data_rng.standard_normal((n_items, 1))).astype(np.float32)

    with distributed_setup(args.backend, args.device) as info:
        x, y = torch.from_numpy(x_all).to(info.device), torch.from_numpy(y_all).to(info.device)
        torch.manual_seed(args.seed)
        net = torch.nn.Sequential(torch.nn.Linear(dim, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        model = wrap_model(net, info)

        def full_mse() -> float:  # on every item, by the plain module (no collective)
            with torch.no_grad():
                return float(torch.nn.functional.mse_loss(unwrap_model(model)(x), y))

        mse_initial = full_mse()

        def step_loss(rng):
            idx = torch.from_numpy(rank_slice(rng.integers(0, n_items, args.batch), info)).to(info.device)
            return torch.nn.functional.mse_loss(model(x[idx]), y[idx])

        fit(model, step_loss, steps=args.steps, lr=args.lr, optimizer="sgd", seed=args.seed,
            desc=f"rank {info.rank}", progress=False)
        with torch.no_grad():
            mine = rank_split(n_items, info)
            pred = unwrap_model(model)(x[torch.from_numpy(mine).to(info.device)]).cpu().numpy()  # no collective
        pred = all_gather_array(pred, info)
        if info.is_main:
            params = {name: p.detach().cpu().numpy() for name, p in unwrap_model(model).named_parameters()}
            np.savez(args.out, world_size=info.world_size, local_batch=len(rank_slice(np.arange(args.batch), info)),
                     mse_initial=mse_initial, mse=full_mse(), predictions=pred, **params)
        main_print(info, f"world_size={info.world_size} backend={info.backend} device={info.device} -> {args.out}")
        barrier(info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

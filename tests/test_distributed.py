"""Data-parallel training: rank slicing, gathering, and 2 gloo processes under torchrun taking the same
steps as one process with the whole batch."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from sbir_lib.distributed import (TORCHRUN_ENV, DistributedInfo, all_gather_array, distributed_setup,
                                  gloo_unavailable_reason, is_main, rank_slice, rank_split, unwrap_model, wrap_model)


def test_rank_slice_splits_the_global_batch_in_rank_order():
    batch = np.arange(12) * 10
    parts = [rank_slice(batch, DistributedInfo(rank=r, world_size=3)) for r in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), batch)
    assert [p.tolist() for p in parts][1] == [40, 50, 60, 70]
    np.testing.assert_array_equal(rank_slice(batch, DistributedInfo()), batch)
    assert rank_slice(torch.arange(4), DistributedInfo(rank=1, world_size=2)).tolist() == [2, 3]
    with pytest.raises(ValueError, match="global batch of 10 items is not divisible by world_size=4"):
        rank_slice(np.arange(10), DistributedInfo(rank=0, world_size=4))


def test_rank_split_covers_every_item_once():
    parts = [rank_split(11, DistributedInfo(rank=r, world_size=3)) for r in range(3)]
    assert [len(p) for p in parts] == [4, 4, 3]
    np.testing.assert_array_equal(np.concatenate(parts), np.arange(11))


def test_single_process_setup_and_helpers(monkeypatch):
    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    with distributed_setup(device="cpu") as info:
        assert (info.rank, info.world_size, info.local_rank, info.backend) == (0, 1, 0, None)
        assert info.device == torch.device("cpu") and info.is_main and is_main(info) and not info.is_distributed
        net = torch.nn.Linear(3, 2)
        assert wrap_model(net, info) is net and unwrap_model(net) is net
        arr = np.arange(6, dtype=np.float32).reshape(3, 2)
        assert all_gather_array(arr, info) is arr
    assert not is_main(DistributedInfo(rank=1, world_size=2)) and is_main(None)


def test_setup_without_torchrun_rendezvous_says_so(monkeypatch):
    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(ValueError, match="MASTER_ADDR, MASTER_PORT unset; launch with torchrun"):
        with distributed_setup():
            pass


def test_two_gloo_processes_match_one_process(tmp_path, repo_root):
    reason = gloo_unavailable_reason()
    if reason:
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(filter(None, [str(repo_root), env.get("PYTHONPATH")])))
    demo = ["-m", "sbir_lib.distributed", "--steps", "25", "--batch", "64", "--seed", "3", "--device", "cpu"]
    runs = {
        1: [sys.executable, *demo, "--out", str(tmp_path / "one.npz")],
        2: [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *demo,
            "--out", str(tmp_path / "two.npz")],
    }
    results = {}
    for world, cmd in runs.items():
        done = subprocess.run(cmd, cwd=repo_root, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        with np.load(tmp_path / ("one.npz" if world == 1 else "two.npz")) as f:
            results[world] = {k: f[k] for k in f.files}
    one, two = results[1], results[2]
    assert int(one["world_size"]) == 1 and int(two["world_size"]) == 2
    assert int(one["local_batch"]) == 64 and int(two["local_batch"]) == 32  # each rank had half the batch
    assert float(one["mse"]) < 0.8 * float(one["mse_initial"])  # it trained
    assert set(one) == set(two)
    for key in one:
        if key not in ("world_size", "local_batch"):
            np.testing.assert_allclose(two[key], one[key], rtol=0, atol=1e-5, err_msg=key)

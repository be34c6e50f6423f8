"""Two processes with the gloo backend on the CPU: each trains on its own shard, and after every epoch
the parameters are bit-identical on both ranks (DDP averaged the gradients)."""
from __future__ import annotations

import dataclasses
import os
import socket
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.multiprocessing as mp

from avsbench_robust.models.configs import model_config, train_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, root: str, out: str, dump: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    from avsbench_robust.train import train

    mcfg = dataclasses.replace(model_config("tpavi", "resnet50", "ms3", "small", cgsl=True), image_size=64)
    tcfg = train_config(mcfg, epochs=2, batch_clips=1, neg_ratio=0.5, val_every=0, limit_clips=2)

    def dump_params(net, epoch: int) -> None:
        torch.save({k: v.detach().clone() for k, v in net.state_dict().items()}, Path(dump) / f"rank{rank}_epoch{epoch}.pt")

    try:
        train(mcfg, tcfg, root=Path(root), out=Path(out), device="cpu", progress=False, log=lambda s: None,
              on_epoch_end=dump_params)
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_gloo_two_processes_stay_in_sync(synth_root: Path, tmp_path: Path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(synth_root), str(tmp_path / "run"), str(dump)), nprocs=2, join=True)
    for epoch in (1, 2):
        a = torch.load(dump / f"rank0_epoch{epoch}.pt", weights_only=True)
        b = torch.load(dump / f"rank1_epoch{epoch}.pt", weights_only=True)
        params = [k for k in a if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
        assert all(torch.equal(a[k], b[k]) for k in params)
    start = torch.load(dump / "rank0_epoch1.pt", weights_only=True)
    end = torch.load(dump / "rank0_epoch2.pt", weights_only=True)
    assert any(not torch.equal(start[k], end[k]) for k in params)  # it did train
    assert (tmp_path / "run" / "checkpoint.json").is_file()

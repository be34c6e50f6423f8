"""Two processes with the gloo backend on the CPU: each trains on its own shard, and after every epoch
the parameters are bit-identical on both ranks (DDP averaged the gradients)."""
from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
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


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
           "-m", "avsbench_robust.cli", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_torchrun_cli_with_validation_and_resume(tmp_path: Path) -> None:
    """The CLI's own path under torchrun: validation on (every rank scores its share, Scorer syncs), resume,
    rank 0 alone writes and reports; the recorded validation equals a one-process validation of the model."""
    from avsbench_robust.data.synthetic import generate
    from avsbench_robust.models.inputs import FeatureSource, clips_from_index
    from avsbench_robust.train import _summary, load_checkpoint, validate

    root = tmp_path / "tiny"
    generate(root, "ms3", 2, 0)  # 4 train, 2 val clips: one val clip per rank
    common = ["--model", "tpavi", "--backbone", "resnet50", "--config", "small", "--subset", "ms3", "--root",
              str(root), "--out", "run", "--device", "cpu", "--batch-size", "1", "--no-progress"]
    first = _torchrun([*common, "--epochs", "1"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.count("trained") == 1 and "trained 1 epoch(s) this run, 1 of 1 done" in first.stdout
    assert "epoch 1/1: loss" in first.stderr and "validation: positive miou" in first.stderr
    second = _torchrun([*common, "--epochs", "2"], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "trained 1 epoch(s) this run, 2 of 2 done" in second.stdout and "resuming" in second.stderr

    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.json", "model.pt", "optimizer.pt"]
    meta, state = load_checkpoint(run)
    assert meta["world_size"] == 2 and meta["epochs_done"] == 2
    from avsbench_robust.provenance import machine_paths

    assert meta["root"] == "tiny" and not list(machine_paths(meta))
    assert [h["epoch"] for h in meta["history"]] == [1, 2] and all("validation" in h for h in meta["history"])

    from avsbench_robust.data.avsbench import load_index
    from avsbench_robust.models import build_model
    from avsbench_robust.models.configs import ModelConfig

    mcfg = ModelConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["model_config"].items()})
    net = build_model(mcfg, None, log=lambda s: None)
    net.load_state_dict(state, strict=True)
    clips = [c for c in clips_from_index(load_index(root, "ms3")) if c.split == "val"]
    alone = _summary(validate(net, clips, FeatureSource(mcfg.subset, clips, None), mcfg, torch.device("cpu")))
    assert alone.keys() == meta["validation"].keys()
    assert all(abs(alone[k] - meta["validation"][k]) < 1e-5 for k in alone), (alone, meta["validation"])

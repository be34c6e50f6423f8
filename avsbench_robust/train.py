"""Train a reference model (TPAVI / AVSegFormer, optionally +CGSL) with negative audio pairs.

Run directory (`--out RUN`):
  RUN/model.pt        plain {name: tensor} state dict of the AVSNet (torch.save of tensors only)
  RUN/optimizer.pt    optimizer state (tensors and numbers only; loaded with weights_only=True)
  RUN/checkpoint.json model/train config, seed, git revision, epoch done, per-epoch losses and validation
  RUN/model_best.pt   with --keep-best: the weights of the epoch with the best validation score
                      (checkpoint.json "best": epoch, metric, value); `predict --checkpoint RUN/model_best.pt`
Re-running the same command resumes after the last finished epoch; a different config is refused.
Works under `torchrun` (DDP: gloo on CPU, nccl on CUDA); bf16 autocast on CUDA.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ._version import __version__
from .errors import InputFileError, ValidationError
from .io_utils import atomic_path, atomic_write_text
from .models import AVSNet, build_model
from .models.configs import ModelConfig, TrainConfig, to_dict
from .models.inputs import Clip, FeatureSource, clip_arrays, clips_from_index
from .models.losses import total_loss
from .provenance import PATH_BASE, portable_path
from .types import Condition, Split, Subset

CHECKPOINT_JSON = "checkpoint.json"
MODEL_FILE = "model.pt"
BEST_FILE = "model_best.pt"
KEEP_BEST = ("none", "positive_miou", "g_miou")
CGSL_PAIRS = ("given", "batch")
MODEL_NPZ = "model.npz"  # pickle-free export of a run's weights (reference models; see models/export.py)
OPTIM_FILE = "optimizer.pt"


# ---------------------------------------------------------------- pure planning
NEG_DRAW_SEED = 42  # the authors' dataset draws its negatives once, with random.seed(42), whatever the run seed
NEG_SAMPLING = ("ours", "authors")


def fixed_negatives(n_clips: int, neg_ratio: float, neg_conditions: tuple[str, ...],
                    seed: int = NEG_DRAW_SEED) -> list[tuple[int, str]]:
    """The authors' negatives: drawn once, so that they are `neg_ratio` of all training items when added to
    one positive per clip (their S4: 10%, half off-screen, half silence). Conditions taken in turn."""
    if not neg_conditions or neg_ratio <= 0:
        return []
    n_neg = round(neg_ratio * n_clips / (1.0 - neg_ratio))
    rng = np.random.default_rng([seed, 0xA07])
    picks = rng.choice(n_clips, n_neg, replace=n_neg > n_clips)
    return [(int(i), neg_conditions[j % len(neg_conditions)]) for j, i in enumerate(picks)]


def epoch_plan(n_clips: int, neg_ratio: float, neg_conditions: tuple[str, ...], seed: int, epoch: int,
               sampling: str = "ours") -> list[tuple[int, str]]:
    """(clip index, condition) for one epoch, shuffled. Deterministic in (seed, epoch).

    "ours": round(neg_ratio * n) clips get a negative audio this epoch (conditions in turn, e.g.
    silence/noise/offscreen), the rest keep their own audio. "authors": every clip with its own audio plus
    the same `fixed_negatives` every epoch (their dataset: 2N items, 90% positives oversampled 1.8x, 10%
    negatives; here N positives + N/9 negatives: the same proportion at half their epoch length).
    """
    if not 0.0 <= neg_ratio < 1.0:
        raise ValidationError("training", [f"--neg-ratio must be in [0, 1), got {neg_ratio}"])
    if sampling not in NEG_SAMPLING:
        raise ValidationError("training", [f"negative sampling must be one of {', '.join(NEG_SAMPLING)}, got {sampling!r}"])
    rng = np.random.default_rng([seed, epoch, 0x5EED])
    if sampling == "authors":
        items = [(i, Condition.POSITIVE.value) for i in range(n_clips)] + fixed_negatives(n_clips, neg_ratio, neg_conditions)
        return [items[int(k)] for k in rng.permutation(len(items))]
    n_neg = round(neg_ratio * n_clips) if neg_conditions else 0
    negs = rng.permutation(n_clips)[:n_neg]
    conds = [Condition.POSITIVE.value] * n_clips
    for j, i in enumerate(negs):
        conds[int(i)] = neg_conditions[j % len(neg_conditions)]
    order = rng.permutation(n_clips)
    return [(int(i), conds[int(i)]) for i in order]


def shard(plan: list, rank: int, world: int, batch: int) -> list[list]:
    """This rank's batches; every rank gets the same number (the plan wraps around), so DDP never waits."""
    per_rank = -(-len(plan) // world)
    per_rank = -(-per_rank // batch) * batch
    total = per_rank * world
    full = [plan[i % len(plan)] for i in range(total)]
    mine = full[rank::world]
    return [mine[i:i + batch] for i in range(0, len(mine), batch)]


def collate(items: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Clips -> one [B*T, ...] batch (the layout both originals feed their models)."""
    return {k: torch.from_numpy(np.concatenate([it[k] for it in items])) for k in items[0]}


# ---------------------------------------------------------------- environment
@dataclasses.dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str | None = None) -> tuple[Dist, torch.device]:
    """DDP from torchrun's env (gloo on CPU, nccl on CUDA); a single process otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local)
        torch.cuda.set_device(dev)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    rank = torch.distributed.get_rank() if world > 1 else 0
    return Dist(rank, world, local), dev


def git_revision() -> str:
    """The checkout's commit (read-only git), or 'unknown'."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=10, check=False)
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _save_tensors(path: Path, obj) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(run: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(checkpoint.json content, model state dict) of a run folder (model.pt or model.npz) or of its weights file."""
    run = Path(run)
    folder = run.parent if run.is_file() else run
    meta_path = folder / CHECKPOINT_JSON
    if not meta_path.is_file():
        raise InputFileError(meta_path, "not a training run (checkpoint.json missing)")
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(meta_path, f"not valid JSON ({exc})") from None
    model_path = model_file(run)
    if not model_path.is_file():
        raise InputFileError(model_path, f"model weights missing ({MODEL_FILE} or {MODEL_NPZ})")
    from .models.pretrained import read_state_dict

    return meta, read_state_dict(model_path)


def model_file(run: str | Path) -> Path:
    """The weights file of a run folder: model.pt (training) or else model.npz (exported); a file stays itself."""
    run = Path(run)
    if run.is_file():
        return run
    return run / MODEL_NPZ if not (run / MODEL_FILE).is_file() and (run / MODEL_NPZ).is_file() else run / MODEL_FILE


# ---------------------------------------------------------------- validation
@torch.no_grad()
def validate(net: AVSNet, clips: list[Clip], features: FeatureSource, mcfg: ModelConfig, device: torch.device,
             conditions=(Condition.POSITIVE, Condition.SILENCE), batch: int = 4) -> dict:
    """Canonical metrics (the project's Scorer) on a few conditions of the validation split (global metrics
    only when a negative condition is among them)."""
    from .scorer import Scorer

    net.eval()
    scorer = Scorer(mcfg.subset)
    conds = [Condition.parse(c) for c in conditions]
    for cond in conds:
        for i in range(0, len(clips), batch):
            chunk = clips[i:i + batch]
            items = [clip_arrays(c, cond, features, mcfg.frames, mcfg.image_size, original_gt=True) for c in chunk]
            b = collate(items)
            with _autocast(device):
                out = net(b["frames"].to(device), b["audio"].to(device), b["frame_mask"].to(device) if mcfg.semantic else None)
            logits = out.logits.float().cpu()
            for j, c in enumerate(chunk):
                sl = slice(j * mcfg.frames, j * mcfg.frames + len(c.frame_paths))
                keep = b["valid"][sl] > 0
                if not keep.any():
                    continue
                if mcfg.semantic:
                    scorer.update(cond, logits[sl].argmax(1)[keep], b["gt"][sl][keep], video=c.video)
                else:
                    scorer.update(cond, torch.sigmoid(logits[sl, 0])[keep], b["gt"][sl, 0][keep], video=c.video)
    res = scorer.compute(require_global=any(c.is_negative for c in conds)).to_dict()
    net.train()
    return res


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


# ---------------------------------------------------------------- training
def _broadcast_buffers(net: AVSNet) -> None:
    """Rank 0's BatchNorm statistics on every rank, so validation scores the model rank 0 saves."""
    for buf in net.buffers():
        torch.distributed.broadcast(buf, src=0)


def _unused_official_params(net: AVSNet) -> list[str]:
    """Parameters the originals carry but never run (B2_ResNet branch 2, TPAVI path4.resConfUnit1)."""
    names = []
    for n, _ in net.named_parameters():
        if n.startswith(("model.resnet.layer3_2.", "model.resnet.layer4_2.", "model.path4.resConfUnit1.")):
            names.append(n)
    return names


def make_optimizer(net: AVSNet, tcfg: TrainConfig) -> tuple[torch.optim.Optimizer, list[torch.nn.Parameter]]:
    """The original's optimizer over every trainable parameter (the never-run official ones frozen),
    and the backbone parameters that a warm-up epoch keeps fixed."""
    unused = set(_unused_official_params(net))
    for n, p in net.named_parameters():
        if n in unused:
            p.requires_grad_(False)
    backbone_params = [p for p in net.backbone().parameters() if p.requires_grad]
    params = [p for p in net.parameters() if p.requires_grad]
    opt_cls = torch.optim.AdamW if tcfg.optimizer == "adamw" else torch.optim.Adam
    return opt_cls(params, lr=tcfg.lr, weight_decay=tcfg.weight_decay), backbone_params


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: dict[str, torch.Tensor], mcfg: ModelConfig,
               tcfg: TrainConfig, device: torch.device, frozen: Sequence[torch.nn.Parameter] = ()) -> dict[str, float]:
    """One optimisation step on a collated batch; returns the loss parts. `frozen` parameters keep their
    values (AVSegFormer's backbone warm-up: gradients dropped before the step, which keeps DDP in sync)."""
    b = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    fmask = b["frame_mask"] if mcfg.semantic else None
    with _autocast(device):
        outp = model(b["frames"], b["audio"], fmask)
    loss, parts = total_loss(mcfg, tcfg, outp, b["gt"], b["valid"] * b["frame_mask"], b["positive"], fmask,
                             b.get("source"))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    for p in frozen:
        p.grad = None
    opt.step()
    return parts


def train(mcfg: ModelConfig, tcfg: TrainConfig, *, root: Path | None = None, build_out: Path | None = None,
          weights_dir: Path | None = None, out: Path, device: str | None = None,
          progress: bool = True, log: Callable[[str], None] = print,
          on_epoch_end: Callable[[AVSNet, int], None] | None = None) -> dict:
    """Train (or resume) into `out`; returns the final checkpoint.json content.

    `on_epoch_end(net, epoch)` runs on every rank after each epoch (tests check DDP sync with it).
    """
    from .data.avsbench import load_index
    from .data.default import resolve_root

    check_train_config(mcfg, tcfg)
    dist, dev = init_distributed(device)
    out = Path(out)
    root = resolve_root(root, announce=dist.main)
    subset = Subset.parse(mcfg.subset)
    clips = clips_from_index(load_index(root, subset))
    train_clips = [c for c in clips if c.split == Split.TRAIN.value]
    val_clips = [c for c in clips if c.split == Split.VAL.value]
    if tcfg.limit_clips:
        train_clips, val_clips = train_clips[:tcfg.limit_clips], val_clips[:tcfg.limit_clips]
    if not train_clips:
        raise ValidationError(f"AVSBench root {root}", [f"{subset.value.upper()} has no training clips"])
    features = FeatureSource(subset, clips, build_out)
    sources = source_ids(train_clips) if tcfg.cgsl_pairs == "batch" else None

    torch.manual_seed(tcfg.seed)
    net = build_model(mcfg, weights_dir, log=log if dist.main else (lambda s: None)).to(dev)
    opt, backbone_params = make_optimizer(net, tcfg)

    meta = {"format": "avsb-robust-run/1", "toolkit_version": __version__, "model_config": to_dict(mcfg),
            "train_config": to_dict(tcfg), "seed": tcfg.seed, "git_revision": git_revision(),
            "root": portable_path(root), "build_out": portable_path(build_out),
            "weights_dir": portable_path(weights_dir), "path_base": PATH_BASE, "world_size": dist.world,
            "epochs_done": 0, "history": []}
    start = 0
    meta_path = out / CHECKPOINT_JSON
    if meta_path.is_file():
        prev, state = load_checkpoint(out)
        if _comparable(prev.get("model_config"), defaults=ModelConfig()) != _comparable(meta["model_config"]) or \
                _comparable(prev.get("train_config"), "epochs", defaults=TrainConfig()) != \
                _comparable(meta["train_config"], "epochs"):
            raise ValidationError(f"run folder {out}", ["holds a run with a different configuration; use another --out"])
        net.load_state_dict(state, strict=True)
        opt_path = out / OPTIM_FILE
        if opt_path.is_file():
            opt.load_state_dict(torch.load(opt_path, map_location=dev, weights_only=True))
        start = int(prev.get("epochs_done", 0))
        meta["history"] = prev.get("history", [])
        meta["epochs_done"] = start
        if prev.get("best"):
            meta["best"] = prev["best"]
        if dist.main:
            log(f"resuming {out} after epoch {start}")

    model = net
    if dist.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[dev.index] if dev.type == "cuda" else None, find_unused_parameters=True)

    from tqdm import tqdm

    for epoch in range(start, tcfg.epochs):
        # AVSegFormer's warm-up: backbone kept fixed by dropping its gradients before the step
        # (toggling requires_grad would desynchronise DDP's reducer).
        freeze = epoch < tcfg.freeze_backbone_epochs
        net.train()
        plan = epoch_plan(len(train_clips), tcfg.neg_ratio, tcfg.neg_conditions, tcfg.seed, epoch, tcfg.neg_sampling)
        batches = shard(plan, dist.rank, dist.world, tcfg.batch_clips)
        sums: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{tcfg.epochs}", disable=not (progress and dist.main), leave=False)
        for batch in bar:
            b = collate([clip_arrays(train_clips[i], cond, features, mcfg.frames, mcfg.image_size) for i, cond in batch])
            if sources is not None:
                b["source"] = torch.tensor([sources[i] for i, _ in batch for _ in range(mcfg.frames)])
            parts = train_step(model, opt, b, mcfg, tcfg, dev, backbone_params if freeze else ())
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.set_postfix(loss=f"{parts['total']:.4f}")
        n = max(len(batches), 1)
        entry = {"epoch": epoch + 1, "loss": {k: v / n for k, v in sums.items()},
                 "seconds": round(time.perf_counter() - t0, 3)}
        if val_clips and tcfg.val_every and ((epoch + 1) % tcfg.val_every == 0 or epoch + 1 == tcfg.epochs):
            # Every rank scores its share and Scorer.compute() all-reduces, so all ranks take this path
            # together (rank 0 alone would wait in the all-reduce while the others wait in the barrier).
            if dist.world > 1:
                _broadcast_buffers(net)
            entry["validation"] = _summary(validate(net, val_clips[dist.rank::dist.world], features, mcfg, dev,
                                                    tcfg.val_conditions))
        if dist.main:
            meta["history"].append(entry)
            meta["epochs_done"] = epoch + 1
            meta["validation"] = entry.get("validation", meta.get("validation"))
            weights = {k: v.detach().cpu() for k, v in net.state_dict().items()}
            if improves(entry, meta.get("best"), tcfg.keep_best):
                _save_tensors(out / BEST_FILE, weights)
                meta["best"] = {"epoch": epoch + 1, "metric": tcfg.keep_best,
                                "value": entry["validation"][tcfg.keep_best]}
            _save_tensors(out / MODEL_FILE, weights)
            _save_tensors(out / OPTIM_FILE, opt.state_dict())
            atomic_write_text(meta_path, json.dumps(meta, indent=1, sort_keys=True) + "\n")
            log(epoch_line(entry, tcfg.epochs))
        if on_epoch_end is not None:
            on_epoch_end(net, epoch + 1)
        if dist.world > 1:
            torch.distributed.barrier()
    return meta


def check_train_config(mcfg: ModelConfig, tcfg: TrainConfig) -> None:
    """Refuse option combinations that cannot mean what they say, before any work is done."""
    subset = Subset.parse(mcfg.subset)
    problems = []
    if tcfg.keep_best not in KEEP_BEST:
        problems.append(f"--keep-best must be one of {', '.join(KEEP_BEST)}, got {tcfg.keep_best!r}")
    if tcfg.keep_best != "none" and not tcfg.val_every:
        problems.append("--keep-best needs validation after every epoch")
    if tcfg.keep_best == "g_miou" and not any(Condition.parse(c).is_negative for c in tcfg.val_conditions):
        problems.append("--keep-best g_miou needs a negative condition among --val-conditions")
    if tcfg.cgsl_pairs not in CGSL_PAIRS:
        problems.append(f"--cgsl-pairs must be one of {', '.join(CGSL_PAIRS)}, got {tcfg.cgsl_pairs!r}")
    if tcfg.cgsl_pairs == "batch" and not mcfg.cgsl:
        problems.append("--cgsl-pairs batch needs --cgsl")
    if tcfg.cgsl_pairs == "batch" and subset is not Subset.S4:
        problems.append(f"--cgsl-pairs batch needs one known sounding category per clip (S4); "
                        f"{subset.value.upper()} metadata names none, and guessed sources would mislabel pairs")
    if problems:
        raise ValidationError("training", problems)


def source_ids(clips: Sequence[Clip]) -> list[int]:
    """Each clip's sounding-source id (its S4 category, numbered in sorted order) for in-batch CGSL pairs."""
    names = sorted({c.category for c in clips})
    return [names.index(c.category) for c in clips]


def improves(entry: dict, best: dict | None, metric: str) -> bool:
    """Whether this epoch's validation beats the best so far on `metric` (ties keep the earlier epoch)."""
    if metric == "none" or metric not in (entry.get("validation") or {}):
        return False
    return best is None or entry["validation"][metric] > best["value"]


def epoch_line(entry: dict, epochs: int) -> str:
    """One readable log line per epoch: losses, time, and the validation headline numbers."""
    losses = entry["loss"]
    parts = [f"loss {losses.get('total', float('nan')):.4f}"]
    parts += [f"{k} {v:.4f}" for k, v in sorted(losses.items()) if k != "total"]
    line = f"epoch {entry['epoch']}/{epochs}: " + ", ".join(parts) + f" ({entry['seconds']:.1f} s)"
    val = entry.get("validation")
    if val:
        line += "; validation: " + ", ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in val.items())
    return line


def _comparable(cfg: dict | None, *ignore: str, defaults=None) -> dict:
    """A config as it reads back from JSON (tuples -> lists), minus keys allowed to change on resume; a field
    that did not exist when the run was written counts as its dataclass default (`defaults`)."""
    full = {**(to_dict(defaults) if defaults is not None else {}), **(cfg or {})}
    return {k: v for k, v in json.loads(json.dumps(full)).items() if k not in ignore}


def _summary(results: dict) -> dict:
    """A few headline numbers from Results.to_dict() for the checkpoint and the log."""
    out: dict = {}
    conds = results.get("conditions", {})
    for cond, vals in conds.items():
        for key in ("miou", "f_score", "fpr"):
            if isinstance(vals, dict) and key in vals and isinstance(vals[key], (int, float)):
                out[f"{cond}_{key}"] = round(float(vals[key]), 6)
    for key, val in (results.get("global") or {}).items():
        if isinstance(val, (int, float)):
            out[key] = round(float(val), 6)
    return out

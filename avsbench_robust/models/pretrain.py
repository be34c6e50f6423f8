"""Pre-trained encoders for the synthetic setting: the analog of ImageNet (visual backbone) and AudioSet
(VGGish) pre-training, which the originals start from and which cannot be had here.

The visual backbone (PVT-v2 / ResNet-50, full or narrow) learns to name the class of a synthetic frame
holding one object of that class; VGGish learns to name the class of that object's sound. Both read the
pixels and sounds of the project's own generator (`data.synthetic.render_clip`), drawn from a seed
namespace of their own (`PRETRAIN_TAG`): no pre-training clip is any clip of an evaluation set.

The files written carry the names and keys of the released ones, so `train --weights-dir` loads them by
exactly the same rules (`models.pretrained`): `pvt_v2_b5.pth` (backbone keys + `head.*` [1000, C4]),
`resnet50-19c8e357.pth` (torchvision names: `layer3.*`/`layer4.*`, + `fc.*` [1000, C4], no BN counters),
`vggish-10086976.pth` (identity, no classifier). Plain state dicts of tensors, written atomically, plus
`PRETRAIN.json` with the settings and the measured class separability before and after.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..io_utils import atomic_path, atomic_write_text
from .backbones import build_backbone
from .inputs import IMAGENET_MEAN, IMAGENET_STD
from .pretrained import BACKBONE_FILES, VGGISH_FILE
from .vggish import vggish

PRETRAIN_TAG = "pretrain"  # seed namespace of the pre-training clips (evaluation sets use "s4"/"ms3"/"avss")
HEAD_CLASSES = 1000  # the released classifier width (ImageNet); synthetic labels use indices 1..70
MANIFEST = "PRETRAIN.json"


@dataclass(frozen=True)
class PretrainConfig:
    size: str = "small"  # "small" (narrow networks) or "full"
    backbones: tuple[str, ...] = ("pvt_v2_b5", "resnet50")
    image_size: int = 112
    per_class: int = 8  # training clips per class (one frame and ~2 s of sound each)
    classes: int = 70  # AVSS classes 1..classes (all 70 by default; fewer for quick checks)
    epochs: int = 8
    batch: int = 32
    lr: float = 1e-3
    seed: int = 0
    audio_seconds: float = 2.0


# ---------------------------------------------------------------- data (pure: seed -> arrays)
def pretrain_clips(seed: int, per_class: int, classes: Sequence[int] | None = None):
    """One-object clips, `per_class` of every class, from the pre-training seed namespace."""
    from ..data.classes import AVSS_CLASSES
    from ..data.synthetic import FRAME_SIZE, SynthClip, SynthObject, _clip_seed
    from ..types import Split, Subset

    classes = list(range(1, len(AVSS_CLASSES))) if classes is None else list(classes)
    rng = np.random.default_rng(_clip_seed(seed, PRETRAIN_TAG, "plan"))
    out = []
    for cls in classes:
        for i in range(per_class):
            name = f"{PRETRAIN_TAG}-{seed}-{cls}-{i}"
            obj = SynthObject(cls=int(cls), sounding=True, center=(float(rng.uniform(0.3, 0.7)), float(rng.uniform(0.3, 0.7))),
                              velocity=(0.0, 0.0), radius=float(rng.uniform(0.12, 0.26)))
            out.append(SynthClip(Subset.S4, Split.TRAIN, name, name, "", "", (obj,), 1, FRAME_SIZE, 2.0,
                                 _clip_seed(seed, PRETRAIN_TAG, name)))
    return out


def render_sets(clips, image_size: int, audio_seconds: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frames [N,3,S,S] normalised as training inputs, frame labels [N], log-mel [M,1,96,64], audio labels [M])."""
    from dataclasses import replace

    from ..audio.vggish import waveform_to_examples
    from ..data.synthetic import SAMPLE_RATE, render_clip

    frames, flabels, mels, alabels = [], [], [], []
    for clip in clips:
        r = render_clip(replace(clip, seconds=audio_seconds))
        rgb = cv2.resize(r.frames[0], (image_size, image_size), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
        frames.append(((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1))
        cls = clip.objects[0].cls
        flabels.append(cls)
        ex = waveform_to_examples(r.audio, SAMPLE_RATE)
        mels.append(ex)
        alabels += [cls] * len(ex)
    return (np.stack(frames).astype(np.float32), np.array(flabels, np.int64),
            np.concatenate(mels).astype(np.float32), np.array(alabels, np.int64))


# ---------------------------------------------------------------- measurement (pure)
def separability(features, labels, groups=None) -> float:
    """Leave-one-out nearest-neighbour class accuracy under cosine similarity (chance ~ 1 / #classes).

    The question CGSL needs answered: does the pooled feature tell the classes apart at all? `groups`
    (e.g. the clip of each frame) keeps a sample from being matched with its own group's members.
    """
    f = F.normalize(torch.as_tensor(np.asarray(features), dtype=torch.float64).flatten(1), dim=1)
    y = torch.as_tensor(np.unique(np.asarray(labels), return_inverse=True)[1].reshape(-1))
    sim = f @ f.t()
    sim.fill_diagonal_(-float("inf"))
    if groups is not None:
        g = np.unique(np.asarray(groups), return_inverse=True)[1].reshape(-1)
        sim[torch.from_numpy(g[:, None] == g[None, :])] = -float("inf")
    return float((y[sim.argmax(1)] == y).double().mean())


@torch.no_grad()
def pooled_stage4(backbone: nn.Module, frames: np.ndarray, batch: int = 64) -> np.ndarray:
    """Global-average-pooled stage-4 maps [N, C4]: the visual feature CGSL compares with the audio."""
    backbone.eval()
    out = [backbone(torch.from_numpy(frames[i:i + batch]))[-1].mean((-2, -1)) for i in range(0, len(frames), batch)]
    return torch.cat(out).numpy()


@torch.no_grad()
def embeddings(net: nn.Module, mels: np.ndarray, batch: int = 128) -> np.ndarray:
    net.eval()
    return torch.cat([net(torch.from_numpy(mels[i:i + batch])) for i in range(0, len(mels), batch)]).numpy()


# ---------------------------------------------------------------- training
def _fit(encoder: Callable[[torch.Tensor], torch.Tensor], head: nn.Linear, params, x: np.ndarray, y: np.ndarray,
         cfg: PretrainConfig, desc: str, progress: bool) -> list[float]:
    from tqdm import tqdm

    opt = torch.optim.AdamW(params, lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    losses = []
    for epoch in tqdm(range(cfg.epochs), desc=desc, disable=not progress, leave=False):
        order = torch.randperm(len(x), generator=gen)
        total = 0.0
        for i in range(0, len(x), cfg.batch):
            idx = order[i:i + cfg.batch].numpy()
            xb, yb = torch.from_numpy(x[idx]), torch.from_numpy(y[idx])
            if xb.ndim == 4 and xb.shape[1] == 3 and epoch % 2:  # frames: horizontal flip every other epoch
                xb = xb.flip(-1)
            loss = F.cross_entropy(head(encoder(xb)), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        losses.append(total / len(x))
    return losses


def pretrain_backbone(name: str, cfg: PretrainConfig, frames: np.ndarray, labels: np.ndarray,
                      progress: bool = False) -> tuple[nn.Module, nn.Linear, list[float]]:
    """Backbone + a 1000-way linear head on the pooled stage-4 map, trained with cross-entropy."""
    torch.manual_seed(cfg.seed)
    net = build_backbone(name, narrow=cfg.size == "small")
    head = nn.Linear(net.out_channels[-1], HEAD_CLASSES)
    net.train()
    losses = _fit(lambda x: net(x)[-1].mean((-2, -1)), head, [*net.parameters(), *head.parameters()],
                  frames, labels, cfg, f"pretrain {name}", progress)
    return net.eval(), head, losses


def pretrain_vggish(cfg: PretrainConfig, mels: np.ndarray, labels: np.ndarray,
                    progress: bool = False) -> tuple[nn.Module, list[float]]:
    """VGGish + a temporary classifier on its 128-d embedding (not saved: the released file has none)."""
    torch.manual_seed(cfg.seed)
    net = vggish(small=cfg.size == "small")
    head = nn.Linear(net.embed_dim, HEAD_CLASSES)
    net.train()
    losses = _fit(net, head, [*net.parameters(), *head.parameters()], mels, labels, cfg, "pretrain vggish", progress)
    return net.eval(), losses


# ---------------------------------------------------------------- released-file layout
def backbone_file_state(name: str, net: nn.Module, head: nn.Linear) -> dict[str, torch.Tensor]:
    """The backbone's weights under the released file's names (inverse of `models.pretrained` rules)."""
    out: dict[str, torch.Tensor] = {}
    for k, v in net.state_dict().items():
        if name == "resnet50":
            if k.startswith(("layer3_2.", "layer4_2.")) or k.endswith("num_batches_tracked"):
                continue  # torchvision has one branch and no BN counters; the loader fills both branches
            k = k.replace("layer3_1.", "layer3.").replace("layer4_1.", "layer4.")
        out[k] = v
    prefix = "fc" if name == "resnet50" else "head"
    out[f"{prefix}.weight"], out[f"{prefix}.bias"] = head.weight, head.bias
    return {k: v.detach().clone().contiguous() for k, v in out.items()}


def _save(path, state: dict[str, torch.Tensor]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def pretrain(out, cfg: PretrainConfig = PretrainConfig(), *, progress: bool = True,
             log: Callable[[str], None] = print) -> dict:
    """Train and write the three files (+ PRETRAIN.json) into `out`; returns the manifest."""
    from pathlib import Path

    out = Path(out)
    for b in cfg.backbones:
        if b not in BACKBONE_FILES:
            raise ValueError(f"unknown backbone {b!r} (expected one of: {', '.join(BACKBONE_FILES)})")
    log(f"pretrain: rendering {cfg.per_class} clips per class (+ a held-out set) at {cfg.image_size} px")
    classes = range(1, cfg.classes + 1)
    train = render_sets(pretrain_clips(cfg.seed, cfg.per_class, classes), cfg.image_size, cfg.audio_seconds)
    held = render_sets(pretrain_clips(cfg.seed + 1_000_003, 2, classes), cfg.image_size, cfg.audio_seconds)
    manifest: dict = {"format": "avsb-robust-pretrain/1", "config": asdict(cfg), "files": {},
                      "held_out": {"frames": int(len(held[0])), "audio_examples": int(len(held[2])),
                                   "classes": int(len(set(held[1].tolist())))}}
    for name in cfg.backbones:
        torch.manual_seed(cfg.seed)
        before = separability(pooled_stage4(build_backbone(name, narrow=cfg.size == "small"), held[0]), held[1])
        net, head, losses = pretrain_backbone(name, cfg, train[0], train[1], progress)
        after = separability(pooled_stage4(net, held[0]), held[1])
        fname = BACKBONE_FILES[name]
        _save(out / fname, backbone_file_state(name, net, head))
        manifest["files"][fname] = {"loss": [round(x, 5) for x in losses],
                                    "separability_random_init": round(before, 4), "separability": round(after, 4)}
        log(f"pretrain: {fname}: held-out 1-NN class accuracy {before:.3f} (random init) -> {after:.3f}")
    torch.manual_seed(cfg.seed)
    before = separability(embeddings(vggish(small=cfg.size == "small"), held[2]), held[3])
    vnet, losses = pretrain_vggish(cfg, train[2], train[3], progress)
    after = separability(embeddings(vnet, held[2]), held[3])
    _save(out / VGGISH_FILE, {k: v.detach().clone().contiguous() for k, v in vnet.state_dict().items()})
    manifest["files"][VGGISH_FILE] = {"loss": [round(x, 5) for x in losses],
                                      "separability_random_init": round(before, 4), "separability": round(after, 4)}
    log(f"pretrain: {VGGISH_FILE}: held-out 1-NN class accuracy {before:.3f} (random init) -> {after:.3f}")
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest

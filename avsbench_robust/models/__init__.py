"""Reference AVS models in plain PyTorch (TPAVI, AVSegFormer) with optional CGSL.

`build_model(cfg)` returns an `AVSNet`: frames [BT,3,H,W] + audio log-mel [BT,1,96,64]
(+ frame_mask [BT] for AVSS padding) -> `AVSOutput` (logits [BT,K,H,W], similarity [BT] with CGSL).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .backbones import BACKBONES, build_backbone
from .cgsl import CGSL, apply_gate, cgsl_loss, gate_open
from .configs import ModelConfig, TrainConfig, model_config, train_config
from .tpavi import TPAVI, AVSOutput, TPAVIBlock, tpavi_official
from .vggish import VGGish, vggish


class AVSNet(nn.Module):
    """One trainable system: the audio network plus the segmentation model.

    TPAVI keeps VGGish outside its checkpoint (official layout), so here it is `audio_extractor`
    next to `model`; `net.model.state_dict()` is an official-format TPAVI checkpoint (+ `cgsl.*`).
    AVSegFormer carries VGGish inside (`model.vggish.*`) and takes log-mel directly.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        if cfg.model == "tpavi":
            self.audio_extractor = vggish(small=cfg.narrow)
            self.model = TPAVI(cfg.backbone, num_classes=cfg.num_classes, channel=cfg.channel,
                               align_bias=not cfg.semantic, window=cfg.window, narrow=cfg.narrow,
                               cgsl=cfg.cgsl, head_widths=tuple(cfg.head_widths), cgsl_audio=cfg.cgsl_audio)
        elif cfg.model == "avsegformer":
            from . import avsegformer  # built by the AVSegFormer module (CONTRACTS.md "Models API")

            self.audio_extractor = None
            self.model = avsegformer.build_avsegformer(cfg)
        else:
            raise ValueError(f"unknown model {cfg.model!r}")

    def backbone(self) -> nn.Module:
        return self.model.backbone

    def audio_network(self) -> nn.Module:
        return self.audio_extractor if self.audio_extractor is not None else self.model.vggish

    def forward(self, frames: torch.Tensor, audio: torch.Tensor, frame_mask: torch.Tensor | None = None) -> AVSOutput:
        if self.audio_extractor is not None:
            audio = self.audio_extractor(audio)
        return self.model(frames, audio, frame_mask)


def build_model(cfg: ModelConfig, weights_dir: str | Path | None = None, log=print) -> AVSNet:
    """Build the system; with `weights_dir`, load the pretrained backbone/VGGish files found there.

    A loaded VGGish is frozen (as in both originals); without its weights it trains with the rest.
    The small config loads files of its own size (`avsb-robust pretrain --config small`); full-size files
    (the released ones) do not fit a narrow network and are skipped with a note.
    """
    from .pretrained import ShapeMismatchError, find_weights, load_backbone, load_vggish

    net = AVSNet(cfg)
    found = find_weights(weights_dir)

    def load(what: str, fn) -> bool:
        try:
            fn()
        except ShapeMismatchError as exc:
            if not cfg.narrow:
                raise
            log(f"note: small config: {found[what]} is for another network size and is not used ({exc})")
            return False
        return True

    if cfg.backbone in found and load(cfg.backbone, lambda: load_backbone(net.backbone(), cfg.backbone, found[cfg.backbone])):
        log(f"loaded {cfg.backbone} weights from {found[cfg.backbone]}")
    if "vggish" in found and load("vggish", lambda: load_vggish(net.audio_network(), found["vggish"])):
        net.audio_network().requires_grad_(False)
        log(f"loaded VGGish weights from {found['vggish']} (frozen)")
    return net


__all__ = [
    "BACKBONES",
    "CGSL",
    "TPAVI",
    "AVSNet",
    "AVSOutput",
    "ModelConfig",
    "TPAVIBlock",
    "TrainConfig",
    "VGGish",
    "apply_gate",
    "build_backbone",
    "build_model",
    "cgsl_loss",
    "gate_open",
    "model_config",
    "tpavi_official",
    "train_config",
    "vggish",
]

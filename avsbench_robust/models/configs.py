"""Model and training configurations: `full` (the published architectures) and `small` (CPU-sized).

A config is plain data (a frozen dataclass, JSON round-trippable) so a checkpoint carries exactly
what rebuilds its model. `train_config` gives, per model x subset, the defaults of the original training
scripts and configs (each value with its source file and line in docs/models.md); the negative mix and
the CGSL weight are ours (the paper does not print lambda_1/lambda_2), and `small` is a CPU-sized variant.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..types import Condition, Subset

MODELS = ("tpavi", "avsegformer")
SIZES = ("full", "small")


@dataclass(frozen=True)
class ModelConfig:
    model: str = "tpavi"
    backbone: str = "pvt_v2_b5"
    subset: str = "s4"
    size: str = "full"
    cgsl: bool = False
    # CGSL audio input: "head" (authors' coupling) | "vggish" (earlier decoupled variant; the dataclass
    # default only so that checkpoints written before the field existed rebuild as they were trained)
    cgsl_audio: str = "vggish"
    num_classes: int = 1
    channel: int = 256  # decoder / TPAVI width (256 in the originals)
    image_size: int = 224
    frames: int = 5  # frames per clip (10 for AVSS, padded for v1s/v1m)
    window: int = 5  # TPAVI attention window (hard-coded 5 in the original)
    audio_dim: int = 128
    head_widths: tuple[int, int] = (128, 32)  # TPAVI output_conv hidden widths

    @property
    def narrow(self) -> bool:
        return self.size == "small"

    @property
    def semantic(self) -> bool:
        return self.subset == Subset.AVSS.value


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_clips: int = 4
    lr: float = 1e-4
    weight_decay: float = 0.0  # AVSegFormer: 0.01, torch's AdamW default that its original relies on
    optimizer: str = "adam"
    neg_ratio: float = 0.1
    neg_conditions: tuple[str, ...] = (Condition.SILENCE.value, Condition.OFFSCREEN.value)
    # "ours": negatives redrawn every epoch among the clips (a negative replaces that clip's positive);
    # "authors": drawn once with a fixed seed, on top of every clip's positive (train.fixed_negatives)
    neg_sampling: str = "ours"
    lambda_cgsl: float = 1.0  # lambda_1 in the paper's Eq. 9
    lambda_avm: float = 0.0  # TPAVI's L_AVM weight (original lambda_1: MS3 and AVSS 0.5, S4 off)
    avm_stages: tuple[int, ...] = (0, 1, 2, 3)
    avm_normalise: bool = False  # the originals' --norm_fea_flag (never set by their train.sh)
    gate_tau: float = 0.5  # inference gate threshold on sigmoid(similarity) (gated variant only)
    freeze_backbone_epochs: int = 0  # AVSegFormer: s4 5, ms3 10, avss 0
    mix_weight: float = 0.1  # AVSegFormer mix-loss weight (its configs' weight_dict.mix_loss)
    # CGSL pairs: "given" (the authors': each frame with its own audio) | "batch" (ours: also every other
    # clip's audio in the batch, labelled by shared sounding source; S4 only, see models/cgsl.cross_pair_loss)
    cgsl_pairs: str = "given"
    # model selection as both originals (the epoch with the best validation score): "none" | "positive_miou"
    # | "g_miou"; the best epoch's weights go to model_best.pt beside model.pt
    keep_best: str = "none"
    val_conditions: tuple[str, ...] = (Condition.POSITIVE.value, Condition.SILENCE.value)
    seed: int = 0
    num_workers: int = 0
    val_every: int = 1  # 0 = no validation
    limit_clips: int | None = None  # use only the first N training clips (smoke runs, tests)
    extra: dict = field(default_factory=dict)


def model_config(model: str, backbone: str, subset: Subset | str, size: str = "full", cgsl: bool = False) -> ModelConfig:
    """The config for one (model, backbone, subset, size); raises ValueError on unknown names."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r} (expected one of: {', '.join(MODELS)})")
    if size not in SIZES:
        raise ValueError(f"unknown config {size!r} (expected one of: {', '.join(SIZES)})")
    if backbone not in ("resnet50", "pvt_v2_b5"):
        raise ValueError(f"unknown backbone {backbone!r} (expected one of: resnet50, pvt_v2_b5)")
    sub = Subset.parse(subset)
    small = size == "small"
    return ModelConfig(
        model=model, backbone=backbone, subset=sub.value, size=size, cgsl=cgsl, cgsl_audio="head",
        num_classes=71 if sub is Subset.AVSS else 1,
        channel=32 if small else 256,
        image_size=112 if small else 224,
        frames=10 if sub is Subset.AVSS else 5,
        head_widths=(16, 16) if small else (128, 32),
    )


def train_config(model: ModelConfig, **overrides) -> TrainConfig:
    """Original-script defaults for the model/subset, then the caller's overrides (None = keep)."""
    sub = Subset.parse(model.subset)
    base: dict = {}
    if model.model == "tpavi":  # avs_scripts/<task>/train.sh + train.py argparse defaults
        base.update(lr=1e-4, batch_clips=4, optimizer="adam", weight_decay=0.0,
                    epochs={Subset.S4: 15, Subset.MS3: 30, Subset.AVSS: 60}[sub],
                    lambda_avm=0.0 if sub is Subset.S4 else 0.5)
    else:  # config/<task>/AVSegFormer_*.py
        base.update(lr=2e-5, optimizer="adamw", weight_decay=0.01,
                    batch_clips=4 if sub is Subset.AVSS else 2,
                    epochs=60 if sub is Subset.MS3 else 30,
                    freeze_backbone_epochs={Subset.S4: 5, Subset.MS3: 10, Subset.AVSS: 0}[sub])
    if model.size == "small":
        base.update(lr=1e-3, batch_clips=4, epochs=20, freeze_backbone_epochs=0)
    base.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("neg_conditions", "val_conditions"):
        if key in base:
            base[key] = tuple(Condition.parse(c).value for c in base[key])
    return TrainConfig(**base)


def to_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(cls, data: dict):
    """Rebuild a config from JSON, ignoring unknown keys (forward compatible) and restoring tuples."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in data.items():
        if k in names:
            kwargs[k] = tuple(v) if isinstance(v, list) else v
    return cls(**kwargs)

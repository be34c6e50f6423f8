"""Reference-model commands: `train` and `predict` (thin: parse options, call train()/predict())."""
from __future__ import annotations

from pathlib import Path

import click

from ..types import Condition, Split, Subset

SUBSET_CHOICE = click.Choice([s.value for s in Subset], case_sensitive=False)
NEG_CHOICES = [c.value for c in Condition if c.is_negative]


def _require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise click.ClickException("train/predict need PyTorch: pip install 'avsbench-robust[torch]'") from None


@click.command("train")
@click.option("--model", type=click.Choice(["tpavi", "avsegformer"]), required=True)
@click.option("--backbone", type=click.Choice(["resnet50", "pvt_v2_b5"]), required=True)
@click.option("--config", "size", type=click.Choice(["small", "full"]), default="full", show_default=True,
              help="full: the published architecture; small: narrow networks at 112 px for CPU runs.")
@click.option("--cgsl/--no-cgsl", default=False, show_default=True, help="Add classifier-guided similarity learning.")
@click.option("--neg-ratio", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.1, show_default=True,
              help="Fraction of training pairs given a negative audio (empty GT).")
@click.option("--neg-conditions", default="silence,offscreen", show_default=True,
              help=f"Comma list of negative conditions used in turn ({', '.join(NEG_CHOICES)}).")
@click.option("--neg-sampling", type=click.Choice(["ours", "authors"]), default="ours", show_default=True,
              help="ours: negatives redrawn each epoch, replacing positives; authors: drawn once (seed 42), "
                   "added to every clip's positive.")
@click.option("--subset", type=SUBSET_CHOICE, required=True)
@click.option("--root", type=click.Path(path_type=Path), default=None,
              help="AVSBench root. Default: the embedded synthetic dataset.")
@click.option("--build", "build_out", type=click.Path(path_type=Path), default=None,
              help="Build output (avsb-robust build) with every condition's features; default: computed on the fly.")
@click.option("--weights-dir", type=click.Path(path_type=Path), default=None,
              help="Folder with resnet50-19c8e357.pth / pvt_v2_b5.pth / vggish-10086976.pth (released files for "
                   "the full config, or `avsb-robust pretrain` output of the same config).")
@click.option("--image-size", type=click.IntRange(min=32), default=None, help="Input size (default 224 full, 112 small).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Run folder (re-run to resume).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Default: the original script's.")
@click.option("--batch-clips", type=click.IntRange(min=1), default=None, help="Clips per batch and process.")
@click.option("--lr", type=click.FloatRange(min=0.0, min_open=True), default=None)
@click.option("--optimizer", type=click.Choice(["adam", "adamw"]), default=None, help="Default: the original script's.")
@click.option("--weight-decay", type=click.FloatRange(min=0.0), default=None)
@click.option("--freeze-backbone-epochs", type=click.IntRange(min=0), default=None,
              help="First epochs with the visual backbone fixed (AVSegFormer: S4 5, MS3 10).")
@click.option("--lambda-cgsl", type=click.FloatRange(min=0.0), default=None, help="lambda_1 (default 1.0).")
@click.option("--lambda-avm", type=click.FloatRange(min=0.0), default=None, help="lambda_2 (TPAVI MS3 default 0.5).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default=None, help="cpu / cuda (default: cuda when available).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train_command(model, backbone, size, cgsl, neg_ratio, neg_conditions, neg_sampling, subset, root, build_out,
                  weights_dir, image_size, out, epochs, batch_clips, lr, optimizer, weight_decay, freeze_backbone_epochs,
                  lambda_cgsl, lambda_avm, seed, device, no_progress) -> None:
    """Train TPAVI / AVSegFormer (optionally +CGSL) with negative audio pairs; works under torchrun."""
    _require_torch()
    from ..errors import ValidationError
    from ..models.configs import model_config, train_config
    from ..train import train

    try:
        negs = tuple(Condition.parse(c.strip()).value for c in neg_conditions.split(",") if c.strip())
    except ValueError as exc:
        raise ValidationError("--neg-conditions", [str(exc)]) from None
    if any(not Condition(c).is_negative for c in negs):
        raise ValidationError("--neg-conditions", [f"only negative conditions ({', '.join(NEG_CHOICES)}) are allowed"])
    mcfg = model_config(model, backbone, subset, size, cgsl)
    if image_size is not None:
        import dataclasses

        mcfg = dataclasses.replace(mcfg, image_size=image_size)
    tcfg = train_config(mcfg, epochs=epochs, batch_clips=batch_clips, lr=lr, lambda_cgsl=lambda_cgsl,
                        lambda_avm=lambda_avm, seed=seed, neg_ratio=neg_ratio, neg_conditions=negs,
                        neg_sampling=neg_sampling, optimizer=optimizer, weight_decay=weight_decay,
                        freeze_backbone_epochs=freeze_backbone_epochs)
    meta = train(mcfg, tcfg, root=root, build_out=build_out, weights_dir=weights_dir, out=out, device=device,
                 progress=not no_progress, log=lambda s: click.echo(s, err=True))
    click.echo(f"trained {meta['epochs_done']} epoch(s) -> {out}")


@click.command("predict")
@click.option("--checkpoint", type=click.Path(path_type=Path), required=True, help="Run folder of `train` (or its model.pt).")
@click.option("--subset", type=SUBSET_CHOICE, default=None, help="Checked against the checkpoint.")
@click.option("--root", type=click.Path(path_type=Path), default=None,
              help="AVSBench root. Default: the embedded synthetic dataset.")
@click.option("--build", "build_out", type=click.Path(path_type=Path), default=None,
              help="Build output with the conditions' features; default: computed on the fly.")
@click.option("--conditions", default="all", show_default=True,
              help="'all' (positive, silence, noise, offscreen) or a comma list (fused allowed).")
@click.option("--split", type=click.Choice([s.value for s in Split]), default="test", show_default=True)
@click.option("--gate", "gate_tau", type=float, default=None,
              help="CGSL inference gate: empty the mask when sigmoid(similarity) < TAU (its own variant).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Prediction folder PRED.")
@click.option("--batch-clips", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--device", default=None)
@click.option("--overwrite", is_flag=True, help="Replace an earlier prediction folder.")
@click.option("--no-progress", is_flag=True)
def predict_command(checkpoint, subset, root, build_out, conditions, split, gate_tau, out, batch_clips, device,
                    overwrite, no_progress) -> None:
    """Write 8-bit probability PNGs (class PNGs for AVSS) per condition, ready for `avsb-robust score`."""
    _require_torch()
    from ..predict import predict

    predict(checkpoint, out, subset=subset, root=root, build_out=build_out, conditions=conditions, split=split,
            gate_tau=gate_tau, batch_clips=batch_clips, device=device, overwrite=overwrite,
            progress=not no_progress, log=lambda s: click.echo(s, err=True))


@click.command("pretrain")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the weight files (a --weights-dir).")
@click.option("--config", "size", type=click.Choice(["small", "full"]), default="small", show_default=True,
              help="Network size, as `train --config`.")
@click.option("--backbones", default="pvt_v2_b5,resnet50", show_default=True, help="Comma list of visual backbones.")
@click.option("--image-size", type=click.IntRange(min=32), default=112, show_default=True)
@click.option("--per-class", type=click.IntRange(min=1), default=8, show_default=True,
              help="Synthetic training clips per class (one frame + 2 s of sound each).")
@click.option("--classes", type=click.IntRange(1, 70), default=70, show_default=True,
              help="Use synthetic classes 1..N (all 70 by default; fewer for quick checks).")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0.0, min_open=True), default=2e-3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def pretrain_command(out, size, backbones, image_size, per_class, classes, epochs, lr, seed, no_progress) -> None:
    """Pre-train the visual backbones and VGGish on synthetic frames/sounds with class labels; writes
    pvt_v2_b5.pth / resnet50-19c8e357.pth / vggish-10086976.pth for `train --weights-dir`."""
    _require_torch()
    from ..errors import ValidationError
    from ..models.pretrain import PretrainConfig, pretrain

    names = tuple(b.strip() for b in backbones.split(",") if b.strip())
    bad = [b for b in names if b not in ("pvt_v2_b5", "resnet50")]
    if bad:
        raise ValidationError("--backbones", [f"unknown backbone(s) {', '.join(bad)} (expected pvt_v2_b5, resnet50)"])
    cfg = PretrainConfig(size=size, backbones=names, image_size=image_size, per_class=per_class, classes=classes,
                         epochs=epochs, lr=lr, seed=seed)
    manifest = pretrain(out, cfg, progress=not no_progress, log=lambda s: click.echo(s, err=True))
    click.echo(f"wrote {', '.join(manifest['files'])} -> {out}")


COMMANDS = [train_command, predict_command, pretrain_command]

"""Reference-model commands: `train`, `predict` and `pretrain` (thin: parse options, call the Python API)."""
from __future__ import annotations

import os
from pathlib import Path

import click

from ..types import Condition, Split
from .options import (
    SUBSET_CHOICE,
    batch_size_option,
    device_option,
    progress_option,
    require_torch,
    resolve_progress,
    root_option,
)

NEG_CHOICES = [c.value for c in Condition if c.is_negative]


@click.command("train")
@click.option("--model", type=click.Choice(["tpavi", "avsegformer"]), required=True, help="Reference architecture.")
@click.option("--backbone", type=click.Choice(["resnet50", "pvt_v2_b5"]), required=True, help="Visual backbone.")
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
@click.option("--subset", type=SUBSET_CHOICE, required=True, help="Which AVSBench subset to train on.")
@root_option()
@click.option("--build", "build_out", type=click.Path(path_type=Path), default=None,
              help="Build output (avsb-robust build) with every condition's features. Default: computed on the fly.")
@click.option("--weights-dir", type=click.Path(path_type=Path), default=None,
              help="Folder with resnet50-19c8e357.pth / pvt_v2_b5.pth / vggish-10086976.pth (released files for "
                   "the full config, or `avsb-robust pretrain` output of the same config). Default: random "
                   "initialisation.")
@click.option("--image-size", type=click.IntRange(min=32), default=None,
              help="Input frame size. Default: 224 (full), 112 (small).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Run folder (re-run to resume).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Total epochs of the run (a resume trains the rest). Default: the original script's for this "
                   "model and subset (docs/models.md).")
@batch_size_option("Clips per batch and process. Default: the original script's.", aliases=("--batch-clips",))
@click.option("--lr", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Learning rate. Default: the original script's.")
@click.option("--optimizer", type=click.Choice(["adam", "adamw"]), default=None,
              help="Optimizer. Default: the original script's.")
@click.option("--weight-decay", type=click.FloatRange(min=0.0), default=None, help="Weight decay. Default: 0.")
@click.option("--freeze-backbone-epochs", type=click.IntRange(min=0), default=None,
              help="First epochs with the visual backbone fixed. Default: the original's (AVSegFormer S4 5, MS3 10; "
                   "0 for TPAVI and the small config).")
@click.option("--lambda-cgsl", type=click.FloatRange(min=0.0), default=None, help="lambda_1. Default: 1.0.")
@click.option("--lambda-avm", type=click.FloatRange(min=0.0), default=None,
              help="TPAVI L_AVM weight. Default: the original's (TPAVI MS3 and AVSS 0.5, S4 0).")
@click.option("--cgsl-pairs", type=click.Choice(["given", "batch"]), default="given", show_default=True,
              help="given: the authors' CGSL pairs (each frame with its own audio); batch: also every other clip's "
                   "audio in the batch, labelled by shared sounding category (ours; S4 only).")
@click.option("--keep-best", type=click.Choice(["none", "positive_miou", "g_miou"]), default="none",
              show_default=True,
              help="Also keep the weights of the epoch with the best validation score in RUN/model_best.pt (the "
                   "originals keep the best val mIoU epoch).")
@click.option("--val-conditions", default="positive,silence", show_default=True,
              help="Comma list of conditions scored on the val split after each epoch.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds initialisation and the negative-pair plan.")
@device_option("cuda when available, else cpu")
@progress_option()
def train_command(model, backbone, size, cgsl, neg_ratio, neg_conditions, neg_sampling, subset, root, build_out,
                  weights_dir, image_size, out, epochs, batch_size, lr, optimizer, weight_decay, freeze_backbone_epochs,
                  lambda_cgsl, lambda_avm, cgsl_pairs, keep_best, val_conditions, seed, device, progress) -> None:
    """Train TPAVI / AVSegFormer (optionally +CGSL) with negative audio pairs; works under torchrun."""
    require_torch("train")
    from ..errors import ValidationError
    from ..models.configs import model_config, train_config
    from ..train import train

    try:
        negs = tuple(Condition.parse(c.strip()).value for c in neg_conditions.split(",") if c.strip())
    except ValueError as exc:
        raise ValidationError("--neg-conditions", [str(exc)]) from None
    if any(not Condition(c).is_negative for c in negs):
        raise ValidationError("--neg-conditions", [f"only negative conditions ({', '.join(NEG_CHOICES)}) are allowed"])
    try:
        vals = tuple(Condition.parse(c.strip()).value for c in val_conditions.split(",") if c.strip())
    except ValueError as exc:
        raise ValidationError("--val-conditions", [str(exc)]) from None
    if Condition.POSITIVE.value not in vals:
        raise ValidationError("--val-conditions", ["must include positive"])
    mcfg = model_config(model, backbone, subset, size, cgsl)
    if image_size is not None:
        import dataclasses

        mcfg = dataclasses.replace(mcfg, image_size=image_size)
    tcfg = train_config(mcfg, epochs=epochs, batch_clips=batch_size, lr=lr, lambda_cgsl=lambda_cgsl,
                        lambda_avm=lambda_avm, seed=seed, neg_ratio=neg_ratio, neg_conditions=negs,
                        neg_sampling=neg_sampling, optimizer=optimizer, weight_decay=weight_decay,
                        freeze_backbone_epochs=freeze_backbone_epochs, cgsl_pairs=cgsl_pairs, keep_best=keep_best,
                        val_conditions=vals)
    before = _epochs_done(out)
    meta = train(mcfg, tcfg, root=root, build_out=build_out, weights_dir=weights_dir, out=out, device=device,
                 progress=resolve_progress(progress), log=lambda s: click.echo(s, err=True))
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only rank 0 reports (and writes)
        click.echo(f"trained {meta['epochs_done'] - before} epoch(s) this run, {meta['epochs_done']} of "
                   f"{tcfg.epochs} done -> {out}")


def _epochs_done(run: Path) -> int:
    """Epochs an earlier run in this folder finished (0 for a new run), to report what this run added."""
    from ..io_utils import read_json

    path = run / "checkpoint.json"
    if not path.is_file():
        return 0
    doc = read_json(path)
    return int(doc.get("epochs_done", 0)) if isinstance(doc, dict) else 0


@click.command("predict")
@click.option("--checkpoint", required=True, metavar="RUN|NAME",
              help="Run folder of `train` (or its weights file), or the name of a reference model shipped with the "
                   "toolkit (avsegformer-r50-small-s4-cgsl).")
@click.option("--subset", type=SUBSET_CHOICE, default=None,
              help="Checked against the checkpoint. Default: the checkpoint's subset.")
@root_option()
@click.option("--build", "build_out", type=click.Path(path_type=Path), default=None,
              help="Build output with the conditions' features. Default: computed on the fly.")
@click.option("--conditions", default="all", show_default=True,
              help="'all' (positive, silence, noise, offscreen) or a comma list (fused allowed).")
@click.option("--split", type=click.Choice([s.value for s in Split]), default="test", show_default=True,
              help="Split to predict.")
@click.option("--gate", "gate_tau", type=float, default=None, metavar="TAU",
              help="CGSL inference gate: empty the mask when sigmoid(similarity) < TAU (its own variant). "
                   "Default: no gate.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Prediction folder PRED.")
@batch_size_option("Clips per batch and process.", default=4, aliases=("--batch-clips",))
@device_option("cuda when available, else cpu")
@click.option("--overwrite", is_flag=True, help="Replace an earlier prediction folder.")
@progress_option()
def predict_command(checkpoint, subset, root, build_out, conditions, split, gate_tau, out, batch_size, device,
                    overwrite, progress) -> None:
    """Write 8-bit probability PNGs (class PNGs for AVSS) per condition, ready for `avsb-robust score`."""
    require_torch("predict")
    from ..predict import predict
    from ..resources import resolve_checkpoint

    predict(resolve_checkpoint(checkpoint), out, subset=subset, root=root, build_out=build_out, conditions=conditions, split=split,
            gate_tau=gate_tau, batch_clips=batch_size, device=device, overwrite=overwrite,
            progress=resolve_progress(progress), log=lambda s: click.echo(s, err=True))


@click.command("pretrain")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the weight files (a --weights-dir).")
@click.option("--config", "size", type=click.Choice(["small", "full"]), default="small", show_default=True,
              help="Network size, as `train --config`.")
@click.option("--backbones", default="pvt_v2_b5,resnet50", show_default=True, help="Comma list of visual backbones.")
@click.option("--image-size", type=click.IntRange(min=32), default=112, show_default=True,
              help="Frame size the backbones learn at (use the size `train --image-size` will use).")
@click.option("--per-class", type=click.IntRange(min=1), default=8, show_default=True,
              help="Synthetic training clips per class (one frame + 2 s of sound each).")
@click.option("--classes", type=click.IntRange(1, 70), default=70, show_default=True,
              help="Use synthetic classes 1..N (all 70 by default; fewer for quick checks).")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True, help="Passes over the clips.")
@click.option("--lr", type=click.FloatRange(min=0.0, min_open=True), default=2e-3, show_default=True,
              help="AdamW learning rate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the synthetic clips and the initialisation.")
@progress_option()
def pretrain_command(out, size, backbones, image_size, per_class, classes, epochs, lr, seed, progress) -> None:
    """Pre-train the visual backbones and VGGish on synthetic frames/sounds with class labels; writes
    pvt_v2_b5.pth / resnet50-19c8e357.pth / vggish-10086976.pth for `train --weights-dir`."""
    require_torch("pretrain")
    from ..errors import ValidationError
    from ..models.pretrain import PretrainConfig, pretrain

    names = tuple(b.strip() for b in backbones.split(",") if b.strip())
    bad = [b for b in names if b not in ("pvt_v2_b5", "resnet50")]
    if bad:
        raise ValidationError("--backbones", [f"unknown backbone(s) {', '.join(bad)} (expected pvt_v2_b5, resnet50)"])
    cfg = PretrainConfig(size=size, backbones=names, image_size=image_size, per_class=per_class, classes=classes,
                         epochs=epochs, lr=lr, seed=seed)
    manifest = pretrain(out, cfg, progress=resolve_progress(progress), log=lambda s: click.echo(s, err=True))
    click.echo(f"wrote {', '.join(manifest['files'])} -> {out}")


COMMANDS = [train_command, predict_command, pretrain_command]

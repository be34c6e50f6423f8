"""Build commands: `build` writes the negative-audio conditions (or `--verify`s a built tree), `audit` checks for leaks."""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import ValidationError
from ..safetext import safe_text
from ..types import Condition
from .options import (
    SPLIT_OR_ALL_CHOICE,
    SUBSET_CHOICE,
    json_option,
    progress_option,
    resolve_progress,
    root_option,
    workers_option,
    write_output,
)


def _conditions(ctx: click.Context, param: click.Parameter, value: str | None) -> list[Condition] | None:
    if value is None:
        return None
    try:
        return [Condition.parse(v) for v in value.split(",") if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("build")
@click.option("--subset", type=SUBSET_CHOICE, help="Which AVSBench subset to build (required unless --verify).")
@root_option()
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder (never inside ROOT). Default: ./avsbench-robust-build/<subset>.")
@click.option("--split", type=SPLIT_OR_ALL_CHOICE, default="test", show_default=True, help="Split to build, or all.")
@click.option("--conditions", callback=_conditions, default=None,
              help="Comma list of positive,silence,noise,offscreen,unseen,fused. Default: the recipe's five "
                   "(plus unseen with --unseen-pool).")
@click.option("--seed", type=int, default=42, show_default=True, help="Seeds the noise and the offscreen draw per clip.")
@workers_option("Worker")
@click.option("--pkl", is_flag=True, help="Also write features as pickled torch tensors (.pkl) for AVSBench loaders.")
@click.option("--fused-snr-db", type=float, default=None, help="SNR of the fused control, dB. Default: recipe (0).")
@click.option("--fused-negative", type=click.Choice(["noise", "offscreen"]), default=None,
              help="What the fused control mixes in. Default: recipe (noise).")
@click.option("--avss-metadata", type=click.Path(path_type=Path), default=None,
              help="AVSS metadata.csv giving MS3 objects (v1m rows) when ROOT has no AVSS/. Default: ROOT's.")
@click.option("--unseen-pool", type=click.Path(path_type=Path), default=None,
              help="Folder of recordings from classes outside the dataset: adds the unseen condition (each clip plays "
                   "one, drawn per clip from the sorted list). Default: no unseen condition.")
@click.option("--negative-features", type=click.Choice(["vggish", "authors"]), default="vggish", show_default=True,
              help="Front end of the negatives: vggish (as positives) or authors (the paper's librosa pipeline, leaky; "
                   "needs librosa).")
@click.option("--skip-bad", is_flag=True, help="Leave out clips whose WAV is missing or corrupt (listed in the manifest).")
@click.option("--verify", "verify_out", type=click.Path(path_type=Path), default=None,
              help="Instead of building: re-hash every file of a built OUT; exit 2 on any missing/drifted file. Default: build.")
@progress_option("--quiet")
def build_command(subset, root, out, split, conditions, seed, workers, pkl, fused_snr_db, fused_negative,
                  avss_metadata, unseen_pool, negative_features, skip_bad, verify_out, progress) -> None:
    """Build AVSBench-Robust: every clip under positive, silence, noise, offscreen (and fused) audio.

    Writes one AVSBench-shaped tree per condition (WAV + VGGish log-mel .npy) and OUT/manifest.json.
    Rerunning the same command resumes an interrupted build.
    """
    if verify_out is not None:
        _verify(verify_out)
        return
    if subset is None:
        raise click.UsageError("--subset is required (or use --verify OUT)")
    from ..build.run import build
    from ..predictions.loader import default_workers

    result = build(subset, root=root, out=out, split=split, conditions=conditions, seed=seed,
                   workers=default_workers() if workers is None else workers, pkl=pkl,
                   fused_snr_db=fused_snr_db, fused_negative=fused_negative, avss_metadata=avss_metadata,
                   skip_bad=skip_bad, progress=resolve_progress(progress), echo=lambda m: click.echo(safe_text(m, 2000), err=True),
                   unseen_pool=unseen_pool, negative_features=negative_features)
    click.echo(f"built {result.built} clip(s), reused {result.reused}, in {result.seconds:.1f} s: {result.out}")
    click.echo(f"offscreen fallbacks: {result.fallbacks}; partners excluded: {len(result.excluded_partners)}; "
               f"skipped bad inputs: {len(result.skipped)}; worker processes: {result.workers_used}")
    if negative_features == "authors":
        click.echo("negative features: authors' pipeline (leaky) — for reproducing the paper's inputs, not for scoring")
    click.echo(f"manifest: {result.manifest_path}")


def _verify(out: Path) -> None:
    from ..build.manifest import verify

    problems = verify(out)
    for p in problems:
        click.echo(safe_text(p, 2000), err=True)
    if problems:
        raise ValidationError(f"build {out}", problems)
    click.echo(f"ok: every file listed in {out / 'manifest.json'} is present and matches its sha256")


@click.command("audit")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--folds", type=click.IntRange(min=2), default=5, show_default=True, help="Cross-validation folds.")
@click.option("--authors", is_flag=True, help="Add a row simulating the authors' pipeline (z-scored negatives).")
@json_option("the audit rows")
def audit_command(out: Path, folds: int, authors: bool, json_out: "Path | None") -> None:
    """Leak audit of a built OUT: cross-validated accuracy of telling each condition from positive by feature stats."""
    from ..build.audit import MIN_CLIPS_TO_JUDGE, TEST_NAME, audit
    from ..build.manifest import read_manifest

    pipeline = read_manifest(out).get("pipeline", "")
    rows = audit(out, folds=folds, simulate_authors=authors)
    if json_out is not None:
        write_output(json_out, json.dumps([r.to_dict() for r in rows], indent=1) + "\n")
        if str(json_out) == "-":
            return
    if pipeline:
        click.echo(f"build: {pipeline}")
    click.echo("logistic regression on per-clip mean/std of each log-mel band; chance = 0.50")
    click.echo(f"test: {TEST_NAME}; verdicts need >= {MIN_CLIPS_TO_JUDGE} clips")
    click.echo(f"{'condition vs positive':44s} {'clips':>5s} {'folds':>5s} {'accuracy':>14s} {'correct':>9s}  verdict")
    for r in rows:
        click.echo(f"{r.condition:44s} {r.clips:5d} {r.folds:5d} {r.accuracy:8.3f} ±{r.accuracy_std:5.3f} "
                   f"{r.correct:4d}/{r.decisions:<4d}  {r.verdict}")


COMMANDS = [build_command, audit_command]

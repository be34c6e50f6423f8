"""Scoring commands: `score` a prediction folder, write and score the sanity `baselines`."""
from __future__ import annotations

from pathlib import Path

import click

from ..predictions.loader import MissingPolicy
from ..safetext import safe_text
from ..scoring import MAX_EVAL_SIDE
from ..types import Split, Subset
from .options import (
    SPLIT_CHOICE,
    SUBSET_CHOICE,
    batch_size_option,
    device_option,
    json_option,
    progress_option,
    resolve_progress,
    root_option,
    workers_option,
    write_output,
)

FORMAT_CHOICE = click.Choice(["table", "markdown", "latex"], case_sensitive=False)
split_option = click.option("--split", type=SPLIT_CHOICE, default=Split.TEST.value, show_default=True,
                            help="Split the predictions are for.")
format_option = click.option("--format", "fmt", type=FORMAT_CHOICE, default="table", show_default=True,
                             help="How the table on stdout is laid out.")


def _protocol(protocol: "str | None", batch_size: "int | None") -> str:
    """--batch-size alone means the official protocol; canonical with a batch size is a contradiction."""
    if protocol is None:
        return "official" if batch_size is not None else "canonical"
    if protocol == "canonical" and batch_size is not None:
        raise click.UsageError("--batch-size applies to --protocol official (canonical does not batch)")
    if protocol == "official" and batch_size is None:
        raise click.UsageError("--protocol official needs --batch-size B (videos per batch)")
    return protocol


@click.command("score")
@click.argument("pred", type=click.Path(path_type=Path))
@click.option("--subset", type=SUBSET_CHOICE, required=True, help="Which AVSBench subset PRED is for.")
@root_option()
@split_option
@click.option("--protocol", type=click.Choice(["canonical", "official"]), default=None,
              help="canonical: per-frame means; official: the authors' batch-dependent loop. "
                   "Default: official with --batch-size, else canonical.")
@batch_size_option("Clips (videos) per batch of the official protocol. Default: none (canonical).")
@click.option("--backend", type=click.Choice(["numpy", "torch"]), default="numpy", show_default=True,
              help="Where the metrics are computed (torch: on --device).")
@device_option("cuda when available, else cpu; --backend torch only")
@click.option("--eval-size", type=click.IntRange(min=1, max=MAX_EVAL_SIDE), nargs=2, default=None, metavar="H W",
              help=f"Evaluate at H x W (GT resized by nearest neighbour), each side at most {MAX_EVAL_SIDE}. "
                   "Default: each GT's own size.")
@click.option("--missing", type=click.Choice([m.value for m in MissingPolicy]), default="error", show_default=True,
              help="'empty' scores absent predictions as empty masks (counted in the JSON).")
@json_option("the results document")
@click.option("--csv", "csv_out", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True), default=None,
              metavar="PATH", help="Write the table as CSV to PATH ('-': stdout). Default: not written.")
@format_option
@workers_option("Decoding")
@click.option("--logits", is_flag=True, help="Float arrays hold logits (sigmoid applied); else an array named 'logits'.")
@click.option("--intervals", is_flag=True, help="Print each value's 95% bootstrap interval (always stored in the JSON).")
@progress_option()
def score_command(pred: Path, subset: str, root: "Path | None", split: str, protocol: "str | None",
                  batch_size: "int | None", backend: str, device: "str | None", eval_size: "tuple[int, int] | None",
                  missing: str, json_out: "Path | None", csv_out: "Path | None", fmt: str, workers: "int | None",
                  logits: bool, intervals: bool, progress: "bool | None") -> None:
    """Score the prediction folder PRED (PRED/<condition>/..., any layout of docs/scoring.md)."""
    from ..errors import InputFileError, ValidationError
    from ..io_utils import atomic_write_many, check_writable
    from ..report import render
    from ..scoring import score

    outputs = [p for p in (json_out, csv_out) if p is not None and str(p) != "-"]
    try:  # checked before scoring, so nothing is computed for a result that cannot be written
        check_writable(outputs)
    except InputFileError as exc:
        raise ValidationError("options", [str(exc)]) from None
    results = score(pred, subset, root, split=split, protocol=_protocol(protocol, batch_size), batch_size=batch_size,
                    backend=backend, device=device, eval_size=eval_size or None, missing=missing, workers=workers,
                    logits=logits, progress=resolve_progress(progress))
    # Render everything first, so a failure leaves no file behind; each write is atomic.
    json_text = results.to_json() if json_out else None
    csv_text = render(results, "csv") if csv_out else None
    prov = results.provenance
    layouts = ", ".join(f"{c}={lay}" for c, lay in prov["layouts"].items())
    click.echo(f"layouts: {layouts}; resized frames: {prov['resized']}; filled empty: {prov['missing_filled']}",
               err=True)
    pad = prov.get("avss_padding")
    if pad and pad["scored"]:
        click.echo(f"AVSS v1 zero-padded frames scored (official): {pad['frames']} "
                   f"({pad['from_predictions']} from predictions, {pad['filled_background']} filled as background)",
                   err=True)
    elif pad and pad["ignored"]:
        click.echo(f"AVSS v1 zero-padded prediction frames ignored (canonical): {pad['ignored']}", err=True)
    if "-" not in (str(json_out), str(csv_out)):  # stdout carries the document instead of the table
        click.echo(render(results, fmt, intervals=intervals))
    # files: both or neither (a failed write leaves what was there before); '-' goes to stdout
    files = {p: t.encode("utf-8") for p, t in ((json_out, json_text), (csv_out, csv_text))
             if p is not None and str(p) != "-"}
    atomic_write_many(files)
    for path in files:
        click.echo(f"wrote {safe_text(path)}", err=True)
    for path, text in ((json_out, json_text), (csv_out, csv_text)):
        if path is not None and str(path) == "-":
            write_output(path, text)


@click.command("baselines")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--subset", type=SUBSET_CHOICE, required=True, help="Which AVSBench subset to write baselines for.")
@root_option()
@split_option
@click.option("--which", "which", multiple=True, type=click.Choice(["visual-prior-oracle", "av-oracle", "empty"]),
              help="Baselines to write (repeatable; default: all three).")
@click.option("--score/--no-score", "do_score", default=True, show_default=True, help="Score each folder after writing.")
@format_option
@workers_option("Decoding")
def baselines_command(out: Path, subset: str, root: "Path | None", split: str, which: tuple[str, ...], do_score: bool,
                      fmt: str, workers: "int | None") -> None:
    """Write sanity-baseline prediction folders OUT/<baseline>/<condition>/... and score them."""
    from ..baselines import Baseline, write_baselines
    from ..data.avsbench import load_index
    from ..data.default import resolve_root
    from ..report import render
    from ..scoring import score

    root_path = resolve_root(root)
    index = load_index(root_path, subset, split)
    folders = write_baselines(index, Subset.parse(subset), out, [Baseline(w) for w in which] or list(Baseline))
    for folder in folders.values():
        click.echo(f"wrote {safe_text(folder)}", err=True)
    if do_score:
        results = [score(folder, subset, root_path, split=split, workers=workers) for folder in folders.values()]
        click.echo(render(results, fmt, names=[b.value for b in folders]))


COMMANDS = [score_command, baselines_command]

"""Leaderboard commands: `leaderboard` writes the generated pages, `table1`/`table2` print the paper's
tables from the entries, `ci` validates and re-scores every entry."""
from __future__ import annotations

from pathlib import Path

import click

from ..errors import ValidationError
from ..io_utils import atomic_write_bytes
from ..safetext import safe_text
from .options import HiddenArgument, root_option, submissions_help, workers_option

DIR = click.Path(path_type=Path, file_okay=False)
submissions_option = click.option("--submissions", type=DIR, default=Path("submissions"), show_default=True,
                                  help=submissions_help)


def _rows(submissions: Path) -> list:
    from ..board.entries import require_entries
    from ..board.rows import row_from_entry

    _require_folder(submissions)
    return [row_from_entry(e) for e in require_entries(submissions)]


def _require_folder(submissions: Path) -> None:
    """Say which folder is needed and how to pass it (the default only exists inside a checkout)."""
    if not submissions.is_dir():
        raise ValidationError(str(submissions), [
            "submissions folder not found: pass --submissions DIR, the folder holding one sub-folder per entry "
            "(the project repository's submissions/)"])


@click.command("leaderboard")
@submissions_option
@click.option("--out", type=DIR, default=Path("leaderboard"), show_default=True,
              help="Where README.md, leaderboard.csv and index.html go.")
def leaderboard_command(submissions: Path, out: Path) -> None:
    """Write the leaderboard (Markdown, CSV, static HTML page) from the entries; same entries, same bytes."""
    from ..board.leaderboard import render_all

    files = render_all(_rows(submissions))  # everything rendered before anything is written
    for name, data in files.items():
        atomic_write_bytes(out / name, data)
    click.echo(f"wrote {', '.join(safe_text(out / n) for n in files)}")


def _table_command(table: str) -> click.Command:
    @click.command(f"table{table}")
    @click.option("--submissions", type=DIR, default=None,
                  help=submissions_help + " Default: the transcription shipped inside the package.")
    @click.option("--format", "fmt", type=click.Choice(["markdown", "latex"]), default="markdown", show_default=True,
                  help="Output markup.")
    @click.option("--add", "add", multiple=True, type=click.Path(path_type=Path, dir_okay=False, exists=True),
                  metavar="RESULTS", help="A results JSON of `avsb-robust score` to print under the paper's rows "
                                          "(repeatable). Default: none.")
    @click.option("--name", "add_names", multiple=True, metavar="NAME",
                  help="Row name for each --add, in order. Default: the file name.")
    def command(submissions: "Path | None", fmt: str, add: "tuple[Path, ...]", add_names: "tuple[str, ...]") -> None:
        from ..board.tables import render_table

        rows = _paper_rows() if submissions is None else _rows(submissions)
        click.echo(render_table(rows, table, fmt, _added(table, add, add_names)), nl=False)

    command.help = (f"Print the paper's Table {table} ({'S4, MS3' if table == '1' else 'AVSS'}) as printed, "
                    f"rebuilt from the `source: paper` entries" + (", with G-metrics recomputed beside it."
                                                                  if table == "1" else "."))
    return command


def _added(table: str, paths: "tuple[Path, ...]", names: "tuple[str, ...]") -> tuple:
    from ..board.tables import added_row
    from ..data.default import dataset_kind, recorded_root
    from ..results import Results

    if names and len(names) != len(paths):
        raise click.UsageError(f"--name given {len(names)} time(s) for {len(paths)} --add file(s)")
    rows = []
    for i, path in enumerate(paths):
        doc = Results.read_json(path).to_dict()  # validated against the results schema
        prov = doc.get("provenance") or {}
        root = recorded_root(prov.get("gt_root"))
        dataset = prov.get("dataset") or (dataset_kind(root) if root is not None else "avsbench")
        rows.append(added_row(doc, names[i] if names else path.stem, table, dataset))
    return tuple(rows)


def _paper_rows() -> list:
    """Table 1/2 rows from the transcription inside the package (works anywhere, no checkout needed)."""
    import json

    from ..board.entries import Entry
    from ..board.paper import paper_documents
    from ..board.rows import row_from_entry

    return [row_from_entry(Entry(name=name, path=Path(name), metadata=json.loads(files["metadata.json"]),
                                 results=json.loads(files["results.json"])))
            for name, files in sorted(paper_documents().items())]


@click.command("ci")
@click.argument("legacy_submissions", cls=HiddenArgument, type=DIR, default=None, required=False)
@submissions_option
@click.option("--leaderboard", "leaderboard_dir", type=DIR, default=Path("leaderboard"), show_default=True,
              help="Generated files to check for staleness.")
@click.option("--root", type=click.Path(path_type=Path), default=None,
              help="AVSBench root, to re-score entries whose predictions are on the real dataset. "
                   "Default: none (such entries are skipped and listed).")
@click.option("--no-rescore", is_flag=True, help="Skip re-scoring shipped predictions (schema and files only).")
def ci_command(legacy_submissions: "Path | None", submissions: Path, leaderboard_dir: Path, root: Path | None,
               no_rescore: bool) -> None:
    """Validate every entry, re-score shipped predictions (tolerance 1e-6), check the leaderboard is current.

    Prints one line per broken entry and exits with status 2 if anything is wrong."""
    from ..board.ci import run_ci
    from ..board.entries import format_problems

    submissions = legacy_submissions or submissions  # `ci DIR` (old spelling) still works
    _require_folder(submissions)

    def root_for(dataset: str) -> Path | None:
        from ..data.default import dataset_root

        return dataset_root(dataset) if dataset.startswith("synthetic") else root

    report = run_ci(submissions, leaderboard_dir, root_for, rescore=not no_rescore)
    for line in report.skipped:
        click.echo(f"skipped: {line}", err=True)
    if not report.ok:
        for line in format_problems(report.problems):
            click.echo(f"FAIL {line}", err=True)
        broken = sum(1 for name in report.problems if name in report.entry_names)
        raise ValidationError("ci", [(f"{broken} of {report.checked} entries broken"
                                     f"{'' if broken == len(report.problems) else ' (and the leaderboard check failed)'}; "
                                     f"see the FAIL lines above")])
    click.echo(f"ok: {report.checked} entries valid, {len(report.rescored)} re-scored within 1e-6, "
               f"leaderboard up to date")


@click.command("submit")
@click.argument("results", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.argument("pred", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--out", type=DIR, required=True, help="The entry folder to write, e.g. submissions/my-model-s4.")
@click.option("--model", required=True, help="Model name shown on the leaderboard.")
@click.option("--variant", default="baseline", show_default=True, help="Variant, e.g. '+CGSL'.")
@click.option("--backbone", default=None, help="Backbone, e.g. pvt_v2_b5. Default: not stated.")
@click.option("--paper", default=None, metavar="URL", help="Link to the paper. Default: none.")
@click.option("--code", default=None, metavar="URL", help="Link to the code. Default: none.")
@root_option("; by default the one recorded in RESULTS")
@click.option("--date", default=None, metavar="YYYY-MM-DD", help="Entry date. Default: today.")
@click.option("--command", "run_command", default=None,
              help="The command that produced the predictions/results. Default: the score command.")
@click.option("--notes", default="", help="Free text shown in the details. Default: none.")
@click.option("--overwrite", is_flag=True, help="Replace an existing entry folder.")
@workers_option("Decoding")
def submit_command(results: Path, pred: Path, out: Path, model: str, variant: str, backbone: "str | None",
                   paper: "str | None", code: "str | None", root: "Path | None", date: "str | None",
                   run_command: "str | None", notes: str, overwrite: bool, workers: "int | None") -> None:
    """Write a leaderboard entry (source: scored) from RESULTS and the prediction folder PRED it was scored
    from: predictions packed as .npz and re-scored before anything is written."""
    from ..board.submit import entry_files, write_entry

    files = entry_files(results, pred, model=model, variant=variant, backbone=backbone, paper=paper, code=code,
                        root=root, date=date, command=run_command, notes=notes, workers=workers)
    path = write_entry(out, files, overwrite=overwrite)
    click.echo(f"wrote {path} ({len(files)} files); next: avsb-robust leaderboard && avsb-robust ci", err=True)


COMMANDS = [submit_command, leaderboard_command, _table_command("1"), _table_command("2"), ci_command]

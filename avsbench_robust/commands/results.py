"""Commands over results JSON files: `report` (side by side), `compare` (paired bootstrap)."""
from __future__ import annotations

from pathlib import Path

import click

from ..metrics.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED

RESULTS_FILE = click.Path(path_type=Path, dir_okay=False)
TABLE_FORMATS = ["table", "markdown", "csv", "latex"]


def _names(names: "str | None", paths: "tuple[Path, ...]") -> list[str]:
    if names is None:
        return [p.stem for p in paths]
    out = [n.strip() for n in names.split(",")]
    if len(out) != len(paths):
        raise click.UsageError(f"--names gives {len(out)} name(s) for {len(paths)} results file(s)")
    return out


def _read(paths: "tuple[Path, ...]") -> list:
    from ..results import Results

    return [Results.read_json(p) for p in paths]


@click.command("report")
@click.argument("results", nargs=-1, required=True, type=RESULTS_FILE)
@click.option("--format", "fmt", type=click.Choice(TABLE_FORMATS), default="table", show_default=True,
              help="Table format.")
@click.option("--names", default=None, help="Comma list of row names (default: the file names).")
@click.option("--intervals", is_flag=True, help="Show each value's bootstrap interval [low, high].")
@click.option("--level", type=click.Choice(["summary", "condition", "category", "video"]), default="summary",
              show_default=True, help="summary: the paper's Table 1 columns; else the DataFrame of that level.")
def report_command(results: "tuple[Path, ...]", fmt: str, names: "str | None", intervals: bool, level: str) -> None:
    """Print one or several results JSON files side by side (the paper's column order)."""
    from ..report import render, render_frames

    docs = _read(results)
    row_names = _names(names, results)
    if level == "summary":
        click.echo(render(docs, fmt, names=row_names, intervals=intervals), nl=False)
    else:
        click.echo(render_frames(docs, row_names, level, fmt), nl=False)


@click.command("compare")
@click.argument("a", type=RESULTS_FILE)
@click.argument("b", type=RESULTS_FILE)
@click.option("--names", default=None, help="Two comma-separated names for A and B (default: the file names).")
@click.option("--resamples", type=click.IntRange(min=100), default=DEFAULT_RESAMPLES, show_default=True,
              help="Bootstrap resamples.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Seed of the resampling.")
@click.option("--level", "ci_level", type=click.FloatRange(0.5, 0.999), default=DEFAULT_LEVEL, show_default=True,
              help="Interval coverage.")
def compare_command(a: Path, b: Path, names: "str | None", resamples: int, seed: int, ci_level: float) -> None:
    """Paired bootstrap of B - A over the same videos: each difference with its interval and whether
    the interval excludes 0. Both results must be on the same videos (and subset, protocol, batch size)."""
    from ..intervals import paired_bootstrap, render_comparison

    ra, rb = _read((a, b))
    label_a, label_b = _names(names, (a, b))
    cmp = paired_bootstrap(ra, rb, resamples=resamples, seed=seed, level=ci_level)
    click.echo(render_comparison(cmp, (label_a, label_b)), nl=False)


@click.command("plot")
@click.argument("results", nargs=-1, type=RESULTS_FILE)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), required=True, metavar="PATH",
              help="Figure file: .png, .pdf or .svg.")
@click.option("--kind", type=click.Choice(["bars", "scatter", "curves", "similarity"]), default="bars",
              show_default=True, help="bars: per-condition mIoU/F/FPR; scatter: positive mIoU vs negative FPR; "
                                      "curves: F over thresholds; similarity: CGSL positive vs negative pairs.")
@click.option("--names", default=None, help="Comma list of names, one per results file (default: the file names); "
                                           "for --kind similarity, the figure's title.")
@click.option("--similarity", "similarity_path", type=click.Path(path_type=Path, exists=True), default=None,
              help="PRED folder of a CGSL `predict` run (or its .avsb-similarity.csv). Default: none.")
def plot_command(results: "tuple[Path, ...]", out: Path, kind: str, names: "str | None",
                 similarity_path: "Path | None") -> None:
    """Draw results as a figure (needs matplotlib: pip install 'matplotlib>=3.8')."""
    from ..plots import plot

    if kind == "similarity":
        title = [names] if names else ([similarity_path.name] if similarity_path else [])
        path = plot(kind, out, similarities=similarity_path, names=title)
    else:
        path = plot(kind, out, _read(results), _names(names, results))
    click.echo(f"wrote {path}", err=True)


COMMANDS = [report_command, compare_command, plot_command]

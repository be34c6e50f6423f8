"""Dataset commands: `synth` writes a synthetic AVSBench tree, `index` summarises a root."""
from __future__ import annotations

from pathlib import Path

import click

from ..data import synthetic
from ..data.avsbench import index_summary, load_index
from ..data.default import resolve_root
from ..safetext import safe_text
from ..types import Subset
from .options import SPLIT_OR_ALL_CHOICE, SUBSET_CHOICE, progress_option, resolve_progress, root_option


@click.command("synth")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write the tree into.")
@click.option("--subset", type=click.Choice([*(s.value for s in Subset), "all"], case_sensitive=False), default="all",
              show_default=True, help="Which subset's tree to write, or all.")
@click.option("--videos", type=click.IntRange(min=1), default=synthetic.DEFAULT_VIDEOS, show_default=True,
              help="Clips per val/test split (train gets twice as many; MS3 and AVSS v2 half).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds every look, sound and mask.")
@progress_option()
def synth_command(out: Path, subset: str, videos: int, seed: int, progress: "bool | None") -> None:
    """Write a synthetic dataset in exactly the AVSBench layout (same seed -> same bytes)."""
    summary = synthetic.generate(out, subset, videos, seed, progress=resolve_progress(progress))
    for sub, splits in summary["counts"].items():
        for split, c in splits.items():
            click.echo(f"{sub:5s} {split:5s} clips={c['clips']:4d} frames={c['frames']:5d} masks={c['masks']:5d}")
    click.echo(f"wrote {safe_text(out)}")


@click.command("index")
@click.option("--subset", type=SUBSET_CHOICE, required=True, help="Which AVSBench subset to index.")
@root_option()
@click.option("--split", type=SPLIT_OR_ALL_CHOICE, default="all", show_default=True, help="Split to index, or all.")
@click.option("--avss-metadata", type=click.Path(path_type=Path), default=None,
              help="AVSS metadata.csv giving MS3 object labels when ROOT has no AVSS/. Default: ROOT's.")
@click.option("--csv", "csv_out", type=click.Path(path_type=Path), default=None, help="Write the frame index as CSV to PATH. Default: not written.")
def index_command(subset: str, root: "Path | None", split: str, avss_metadata: "Path | None",
                  csv_out: "Path | None") -> None:
    """Check an AVSBench root and print clips, frames and masks per split."""
    from ..io_utils import atomic_path

    index = load_index(resolve_root(root), subset, None if split == "all" else split, avss_metadata)
    click.echo(index_summary(index).to_string(index=False))
    if csv_out is not None:
        with atomic_path(csv_out) as tmp:
            index.assign(objects=index["objects"].map("_".join)).to_csv(tmp, index=False)
        click.echo(f"wrote {safe_text(csv_out)}")


COMMANDS = [synth_command, index_command]

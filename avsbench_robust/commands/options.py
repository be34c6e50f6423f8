"""The CLI's shared vocabulary: one name, one meaning and one default for each idea on every command.

docs/cli.md lists the names; old spellings stay accepted as hidden aliases (not shown in --help).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click

from ..errors import TORCH_HINT
from ..types import Split, Subset

SUBSET_CHOICE = click.Choice([s.value for s in Subset], case_sensitive=False)
SPLIT_CHOICE = click.Choice([s.value for s in Split], case_sensitive=False)
SPLIT_OR_ALL_CHOICE = click.Choice([s.value for s in Split] + ["all"], case_sensitive=False)


class AliasedOption(click.Option):
    """An option whose `aliases` (old spellings) still parse but are left out of --help."""

    def __init__(self, *args: Any, aliases: "tuple[str, ...]" = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = set(aliases)

    def get_help_record(self, ctx: click.Context) -> "tuple[str, str] | None":
        saved = self.opts, self.secondary_opts
        self.opts = [o for o in self.opts if o not in self.aliases]
        self.secondary_opts = [o for o in self.secondary_opts if o not in self.aliases]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts, self.secondary_opts = saved


class HiddenArgument(click.Argument):
    """A positional kept for old command lines only: parsed, but absent from the usage line."""

    def get_usage_pieces(self, ctx: click.Context) -> list[str]:
        return []


def resolve_progress(progress: "bool | None") -> bool:
    """--progress / --no-progress, else a bar only when stderr is a terminal (logs and CI stay clean)."""
    return sys.stderr.isatty() if progress is None else progress


def progress_option(*aliases: str) -> Callable:
    """`--progress/--no-progress`; `aliases` are old negative spellings (e.g. build's `--quiet`)."""
    decls = ["--progress/--no-progress", *(f" /{a}" for a in aliases)]
    return click.option(*decls, "progress", cls=AliasedOption, aliases=aliases, default=None,
                        help="Show a progress bar on stderr. Default: only when stderr is a terminal.")


def workers_option(what: str) -> Callable:
    return click.option("--workers", type=click.IntRange(min=1), default=None,
                        help=f"{what} processes. Default: the usable cores, at most 8. Results never depend on it.")


def batch_size_option(help: str, default: "int | None" = None, aliases: "tuple[str, ...]" = ()) -> Callable:
    """`--batch-size`: clips (= videos) per batch, on every command that batches."""
    return click.option("--batch-size", *aliases, "batch_size", cls=AliasedOption, aliases=aliases,
                        type=click.IntRange(min=1), default=default, show_default=default is not None, help=help)


def json_option(what: str) -> Callable:
    """`--json PATH`: write this command's JSON document to PATH ('-' for stdout)."""
    return click.option("--json", "json_out", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
                        default=None, metavar="PATH", help=f"Write {what} as JSON to PATH ('-': stdout). Default: not written.")


def device_option(default_help: str) -> Callable:
    return click.option("--device", default=None, metavar="DEVICE",
                        help=f"Torch device: cpu, cuda, cuda:1. Default: {default_help}.")


def root_option(extra: str = "") -> Callable:
    return click.option("--root", type=click.Path(path_type=Path), default=None,
                        help="AVSBench root (holding Single-source/, Multi-sources/, AVSS/)" + extra
                             + ". Default: the embedded synthetic dataset.")


def write_output(path: "Path | None", text: "str | None") -> None:
    """Write a rendered document to PATH atomically ('-': stdout); the 'wrote' note goes to stderr."""
    if path is None or text is None:
        return
    if str(path) == "-":
        click.echo(text, nl=False)
        return
    from ..io_utils import atomic_write_text
    from ..safetext import safe_text

    atomic_write_text(path, text)
    click.echo(f"wrote {safe_text(path)}", err=True)


submissions_help = "Folder holding one sub-folder per leaderboard entry (a checkout's submissions/)."


def require_torch(command: str) -> None:
    """A missing torch is a one-line error with an install command that works (exit 1: environment)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        from ..errors import MissingDependencyError

        raise MissingDependencyError(f"{command} needs PyTorch, which is not installed: {TORCH_HINT}") from None

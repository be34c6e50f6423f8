"""`avsb-robust`: a thin click front end; every command parses options and calls one API function."""
from __future__ import annotations

import sys

import click

from ._version import __version__
from .errors import AVSBRobustError
from .safetext import MAX_LINE_CHARS, safe_text


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100, "show_default": True})
@click.version_option(__version__, prog_name="avsb-robust")
def cli() -> None:
    """AVSBench-Robust: build negative-audio conditions, score AVS masks, keep a leaderboard."""


def _register() -> None:
    # One module per command group under avsbench_robust/commands/; add new ones here.
    from .commands import board as board_cmds
    from .commands import build as build_cmds
    from .commands import data as data_cmds
    from .commands import models as models_cmds
    from .commands import results as results_cmds
    from .commands import score as score_cmds

    for command in (*data_cmds.COMMANDS, *board_cmds.COMMANDS, *build_cmds.COMMANDS, *models_cmds.COMMANDS, *score_cmds.COMMANDS,
                    *results_cmds.COMMANDS):
        cli.add_command(command)


_register()


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: "list[str] | None" = None) -> None:
    """Entry point: every error is one `error: ...` line on stderr; exit 1 runtime/IO, 2 invalid input or usage."""
    try:
        cli.main(args=argv, prog_name="avsb-robust", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "avsb-robust"
        click.echo(f"error: {_one_line(exc.format_message())} (see '{where} --help')", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"error: {_one_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except AVSBRobustError as exc:
        click.echo(f"error: {safe_text(exc, MAX_LINE_CHARS)}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()

"""One CLI vocabulary: every option explained with its default, the same names for the same ideas,
old spellings still parsed, and one error style with the README's exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from _cli import run  # noqa: E402

from avsbench_robust.cli import cli, main
from avsbench_robust.commands.options import AliasedOption

COMMANDS = sorted(cli.commands.items())




def visible_options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden and p.name != "help"]


@pytest.mark.parametrize("name,command", COMMANDS)
def test_every_option_has_help_and_states_its_default(name: str, command: click.Command) -> None:
    for opt in visible_options(command):
        assert opt.help and opt.help.strip(), f"{name} {opt.opts[0]} has no help"
        shown = opt.show_default is not False and opt.default is not None and not opt.is_flag
        stated = "default" in opt.help.lower()
        if not (opt.required or opt.is_flag or opt.count):
            assert shown or stated or opt.is_bool_flag, f"{name} {opt.opts[0]}: default neither shown nor stated"


def _names(command: click.Command) -> set[str]:
    names: set[str] = set()
    for opt in visible_options(command):
        hidden = opt.aliases if isinstance(opt, AliasedOption) else set()
        names |= {o for o in (*opt.opts, *opt.secondary_opts) if o not in hidden}
    return names


def test_one_name_per_idea() -> None:
    every = {name: _names(cmd) for name, cmd in COMMANDS}
    for name, names in every.items():
        assert not names & {"--quiet", "--batch-clips"}, f"{name} shows an old spelling"
        if "--no-progress" in names:
            assert "--progress" in names, name
    for name in ("build", "synth", "score", "train", "predict"):
        assert {"--progress", "--no-progress"} <= every[name], name
    for name in ("score", "train", "predict"):
        assert "--batch-size" in every[name], name
    for name in ("leaderboard", "table1", "table2", "ci"):
        assert "--submissions" in every[name], name
    for name in ("score", "audit"):
        opt = next(o for o in cli.commands[name].params if o.name == "json_out")
        assert not opt.is_flag, f"{name} --json must take a PATH"
    workers = {n: next(o for o in cmd.params if o.name == "workers") for n, cmd in COMMANDS
               if any(o.name == "workers" for o in cmd.params)}
    assert set(workers) >= {"build", "score", "baselines"}
    assert {o.default for o in workers.values()} == {None}  # one policy: the usable cores, at most 8


def test_old_spellings_still_parse() -> None:
    from click.testing import CliRunner

    assert cli.commands["build"].make_context("build", ["--quiet"]).params["progress"] is False
    train = ["--model", "tpavi", "--backbone", "resnet50", "--subset", "s4", "--out", "o", "--batch-clips", "2"]
    assert cli.commands["train"].make_context("train", train).params["batch_size"] == 2
    predict = ["--checkpoint", "c", "--out", "o", "--batch-clips", "3"]
    assert cli.commands["predict"].make_context("predict", predict).params["batch_size"] == 3
    help_text = CliRunner().invoke(cli, ["build", "--help"]).output
    assert "--quiet" not in help_text and "--no-progress" in help_text


def test_ci_positional_folder_is_a_hidden_alias(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(capsys, "ci", tmp_path / "nope", "--no-rescore")
    assert code == 2 and "nope" in err and "--submissions DIR" in err
    code, _, err = run(capsys, "ci", "--submissions", tmp_path / "nope", "--no-rescore")
    assert code == 2 and "nope" in err


def test_usage_errors_are_one_line_exit_2(capsys: pytest.CaptureFixture) -> None:
    for args in (["score", "x", "--subset", "nope"], ["train", "--model", "tpavi"], ["build", "--no-such-option"],
                 ["no-such-command"]):
        code, out, err = run(capsys, *args)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "--help" in lines[0], (args, err)


def test_missing_torch_is_one_line_with_a_working_hint(monkeypatch, capsys, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    for args in (["train", "--model", "tpavi", "--backbone", "resnet50", "--subset", "s4", "--out", tmp_path / "r"],
                 ["predict", "--checkpoint", tmp_path, "--out", tmp_path / "p"]):
        code, _, err = run(capsys, *args)
        assert code == 1 and err.strip() == f"error: {args[0]} needs PyTorch, which is not installed: " \
                                             "pip install torch==2.13.0", err
    assert not (tmp_path / "r").exists() and not (tmp_path / "p").exists()
    for args, what in ((["score", tmp_path, "--subset", "s4", "--backend", "torch"], "--backend torch"),
                       (["build", "--subset", "s4", "--pkl", "--out", tmp_path / "b"], "--pkl writes torch tensors")):
        code, _, err = run(capsys, *args)
        lines = err.strip().splitlines()
        assert code == 1 and lines[-1].startswith(f"error: {what}") and lines[-1].endswith("pip install torch==2.13.0"), err
        assert len([ln for ln in lines if ln.startswith("error")]) == 1



def test_missing_optional_extras_name_a_package_pip_can_find(monkeypatch, capsys, tmp_path: Path) -> None:
    """The hint names the PyPI package itself: avsbench-robust is on no index, so '[extra]' would fail."""
    results = Path(__file__).resolve().parents[1] / "submissions" / "sanity-s4-empty" / "results.json"
    for module, args, hint in (
            ("matplotlib", ["plot", results, "--kind", "bars", "--out", tmp_path / "f.png"],
             "pip install 'matplotlib>=3.8'"),
            ("librosa", ["build", "--subset", "s4", "--negative-features", "authors", "--out", tmp_path / "b"],
             "pip install 'librosa>=0.10'")):
        monkeypatch.setitem(sys.modules, module, None)
        code, _, err = run(capsys, *args)
        lines = [ln for ln in err.strip().splitlines() if ln.startswith("error")]
        assert code == 1 and len(lines) == 1 and lines[0].endswith(hint) and "avsbench-robust[" not in err, err

def test_table1_works_without_a_checkout(tmp_path: Path, monkeypatch, capsys) -> None:
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "table1")
    assert code == 0 and "CAVP" in out
    if (repo / "submissions").is_dir():
        code, from_entries, _ = run(capsys, "table1", "--submissions", repo / "submissions")
        assert code == 0 and from_entries == out
    code, _, err = run(capsys, "leaderboard")
    assert code == 2 and "--submissions DIR" in err


def test_audit_json_path(built_tree_for_audit: Path, tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "audit", built_tree_for_audit, "--folds", "2", "--json", tmp_path / "a.json")
    rows = json.loads((tmp_path / "a.json").read_text())
    assert code == 0 and rows and {"condition", "accuracy"} <= set(rows[0]) and "accuracy" in out
    code, out, _ = run(capsys, "audit", built_tree_for_audit, "--folds", "2", "--json", "-")
    assert code == 0 and json.loads(out) == rows


@pytest.fixture(scope="module")
def built_tree_for_audit(synth_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("audit") / "b"
    main_args = ["build", "--subset", "s4", "--root", str(synth_root), "--out", str(out), "--workers", "1",
                 "--no-progress", "--conditions", "positive,silence"]
    main(main_args)
    return out


def test_python_dash_m(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "avsbench_robust", "--help"], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)
    assert res.returncode == 0 and "avsb-robust" in res.stdout and "score" in res.stdout

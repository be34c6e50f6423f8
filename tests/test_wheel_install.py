"""The wheel is the whole product: sdist -> wheel -> a fresh venv, then the main job from a folder outside
the checkout (build, predict with the shipped reference model, score, table1, python -m avsbench_robust).

Offline and fast: the sdist and the wheel are built with this environment's setuptools (no build
isolation, no download), the wheel is installed with --no-deps, and the fresh venv sees this
environment's third-party packages through a .pth line (the equivalent of --system-site-packages for
a venv-in-venv), never this checkout: the test asserts the package is imported from the fresh venv.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytest.importorskip("setuptools")
torch = pytest.importorskip("torch")


def sh(cmd: list, cwd: Path, env: "dict | None" = None, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert res.returncode == 0, f"{' '.join(map(str, cmd))}\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"
    return res


def pep517(hook: str, source: Path, out: Path) -> Path:
    code = (f"import os; os.chdir({str(source)!r}); from setuptools import build_meta as b; "
            f"print(b.{hook}({str(out)!r}))")
    name = sh([sys.executable, "-c", code], cwd=source).stdout.strip().splitlines()[-1]
    return out / name


@pytest.mark.slow
def test_sdist_wheel_fresh_venv_main_job(tmp_path: Path) -> None:
    if not (REPO / "pyproject.toml").is_file() or not (REPO / "builders").is_dir():
        pytest.skip("needs the source checkout")
    dist = tmp_path / "dist"
    dist.mkdir()
    sdist = pep517("build_sdist", REPO, dist)
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(tmp_path / "src", **safe)
    for needed in ("LICENSE", "setup.py", "MANIFEST.in", "builders/taxonomy.json", "builders/recipes/s4.json",
                   "reference/avsegformer-r50-small-s4-cgsl/model.npz", "tests/conftest.py", "tests/data",
                   "avsbench_robust/cli.py", "avsbench_robust/schemas/results.schema.json", "submissions/paper-s4-tpavi/metadata.json",
                   "leaderboard/index.html", "docs", "scripts/demo.sh"):
        assert needed in names or any(n.startswith(needed + "/") for n in names), f"sdist lacks {needed}"

    # The wheel is built from the unpacked sdist, as pip would: the sdist alone must be enough.
    wheel = pep517("build_wheel", next((tmp_path / "src").iterdir()), dist)
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        members = set(zf.namelist())
        meta = zf.read(next(n for n in members if n.endswith(".dist-info/METADATA"))).decode()
    assert {"avsbench_robust/_builders/taxonomy.json", "avsbench_robust/_builders/recipes/ms3.json",
            "avsbench_robust/_reference/avsegformer-r50-small-s4-cgsl/model.npz", "avsbench_robust/__main__.py",
            "avsbench_robust/schemas/submission.schema.json"} <= members
    assert "License-Expression: MIT" in meta and "Requires-Dist: torch==2.13.0; extra == \"torch\"" in meta
    assert "Project-URL: Paper" in meta and "Classifier: " in meta and "Author: " in meta

    venv = tmp_path / "venv"
    sh([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    py = venv / "bin" / "python"
    site = Path(sh([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).stdout.strip())
    (site / "_avsb_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    sh([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "-q", wheel], tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AVSB_ROBUST_BUILDERS")}
    env.update(AVSB_ROBUST_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    where = sh([py, "-c", "import avsbench_robust; print(avsbench_robust.__file__)"], work, env).stdout
    assert where.startswith(str(site)), where
    cli = venv / "bin" / "avsb-robust"
    helped = sh([py, "-m", "avsbench_robust", "--help"], work, env).stdout
    assert "score" in helped and "predict" in helped
    sh([cli, "synth", "--out", "root", "--subset", "s4", "--videos", "2", "--no-progress"], work, env)
    sh([cli, "build", "--subset", "s4", "--root", "root", "--out", "b", "--workers", "1", "--no-progress"], work, env)
    sh([cli, "build", "--verify", "b"], work, env)
    sh([cli, "predict", "--checkpoint", "avsegformer-r50-small-s4-cgsl", "--root", "root", "--build", "b", "--out", "pred",
        "--no-progress"], work, env)
    scored = sh([cli, "score", "pred", "--subset", "s4", "--root", "root", "--json", "r.json", "--no-progress"],
                work, env)
    assert "G-mIoU" in scored.stdout
    results = json.loads((work / "r.json").read_text())
    assert 0.0 <= results["global"]["g_miou"] <= 1.0 and set(results["conditions"]) >= {"positive", "silence"}
    from avsbench_robust.provenance import machine_paths

    predicted = json.loads((work / "pred" / ".avsb-predict.json").read_text())
    assert predicted["checkpoint"] == "<avsegformer-r50-small-s4-cgsl>" and predicted["root"] == "root"
    assert not list(machine_paths(results)) and not list(machine_paths(predicted))
    table = sh([cli, "table1"], work, env).stdout
    assert "AVSegFormer + Ours" in table
    board = sh([cli, "leaderboard"], work, env, check=False)
    assert board.returncode == 2 and "--submissions DIR" in board.stderr
    assert sorted(p.name for p in work.iterdir()) == ["b", "pred", "r.json", "root"]  # nothing half-written

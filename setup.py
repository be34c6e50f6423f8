"""Build step only (metadata lives in pyproject.toml): ship the top-level data folders inside the wheel.

`builders/` (taxonomy, build recipes) and `reference/` (the demo's reference model) stay at the
repository top level, where reviewers read them; a wheel carries copies as package data under
`avsbench_robust/_builders/` and `avsbench_robust/_reference/`. Editable installs read the checkout's
folders directly (avsbench_robust/resources.py looks in both places).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = {"builders": "_builders", "reference": "_reference"}


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        here = Path(__file__).resolve().parent
        for src, dst in SHIPPED.items():
            target = Path(self.build_lib) / "avsbench_robust" / dst
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(here / src, target, ignore=shutil.ignore_patterns("__pycache__", "*.tmp", ".*"))


setup(cmdclass={"build_py": BuildPyWithData})

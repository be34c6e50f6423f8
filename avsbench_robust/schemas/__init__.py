"""Load the JSON schemas shipped in `avsbench_robust/schemas/` and turn violations into one ValidationError."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from ..errors import ValidationError

SCHEMA_DIR = Path(__file__).resolve().parent


@cache
def load_schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


def schema_problems(instance: Any, name: str) -> list[str]:
    """Every violation of schema `name`, as 'at <json path>: <message>' lines (empty when valid)."""
    validator = jsonschema.Draft202012Validator(load_schema(name))
    problems = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        problems.append(f"at {where}: {err.message}")
    return problems


def validate(instance: Any, name: str, what: str) -> None:
    problems = schema_problems(instance, name)
    if problems:
        raise ValidationError(what, problems)

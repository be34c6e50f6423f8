"""The category taxonomy behind offscreen pairing, loaded from `builders/taxonomy.json` and validated.

The table is data, not code, so a reviewer can read and change it without touching the pairing logic.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from ..data.classes import AVSS_CLASSES, MS3_OBJECTS, S4_CATEGORIES
from ..errors import InputFileError, ValidationError
from ..io_utils import read_json
from ..schemas import validate
from ..types import Subset

#: Set this to use a `builders/` folder other than the shipped one.
BUILDERS_ENV = "AVSB_ROBUST_BUILDERS"

_EXPECTED_NAMES: dict[Subset, tuple[str, ...]] = {
    Subset.S4: S4_CATEGORIES,
    Subset.MS3: MS3_OBJECTS,
    Subset.AVSS: AVSS_CLASSES,
}


class UnknownCategoryError(InputFileError):
    """A clip names a category/object that the taxonomy does not map (so it cannot be paired safely)."""


def builders_dir() -> Path:
    """`$AVSB_ROBUST_BUILDERS`, else the copy inside the installed package, else the checkout's `builders/`."""
    from ..resources import CHECKOUT, shipped_dir

    env = os.environ.get(BUILDERS_ENV)
    path = Path(env).expanduser() if env else (shipped_dir("builders") or CHECKOUT / "builders")
    if not (path / "taxonomy.json").is_file():
        raise InputFileError(
            path,
            "builders/ data folder (taxonomy.json, recipes/) not found: reinstall avsbench-robust (a wheel ships "
            f"it inside the package) or point ${BUILDERS_ENV} at a copy of builders/",
        )
    return path


@dataclass(frozen=True)
class Taxonomy:
    """Name -> major category per subset, plus each major's least-suitable contrast."""

    majors: tuple[str, ...]
    least_suitable: Mapping[str, str]
    names: Mapping[Subset, Mapping[str, str]]
    sha256: str

    def majors_of(self, subset: Subset | str, names: Iterable[str], source: str = "") -> frozenset[str]:
        """Major categories of a clip's category/objects; an unmapped name is an error naming it."""
        table = self.names[Subset.parse(subset)]
        out = set()
        for name in names:
            if name not in table:
                raise UnknownCategoryError(
                    source or "taxonomy",
                    f"unknown {Subset.parse(subset).value.upper()} category/object {name!r}: "
                    "not in builders/taxonomy.json",
                )
            out.add(table[name])
        return frozenset(out)

    def forbidden(self, majors: Iterable[str]) -> frozenset[str]:
        """Majors an offscreen source may not contain: the clip's own and their least-suitable contrasts."""
        majors = frozenset(majors)
        return majors | {self.least_suitable[m] for m in majors}


def taxonomy_problems(doc: Mapping) -> list[str]:
    """Checks the schema cannot express: values are known majors, and every known name is mapped."""
    majors = set(doc["majors"])
    problems = []
    if set(doc["least_suitable"]) != majors:
        problems.append(f"least_suitable must have exactly the keys {sorted(majors)}")
    problems += [f"least_suitable[{k!r}] = {v!r} is not a major category"
                 for k, v in doc["least_suitable"].items() if v not in majors]
    for subset, expected in _EXPECTED_NAMES.items():
        table = doc[subset.value]
        problems += [f"{subset.value}[{k!r}] = {v!r} is not a major category" for k, v in table.items() if v not in majors]
        missing = sorted(set(expected) - set(table))
        if missing:
            problems.append(f"{subset.value} does not map {missing}")
    return problems


def parse_taxonomy(doc: object, what: str = "taxonomy") -> Taxonomy:
    validate(doc, "taxonomy.schema.json", what)
    doc = cast(dict, doc)  # the schema guarantees an object
    problems = taxonomy_problems(doc)
    if problems:
        raise ValidationError(what, problems)
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return Taxonomy(
        majors=tuple(doc["majors"]),
        least_suitable=dict(doc["least_suitable"]),
        names={s: dict(doc[s.value]) for s in Subset},
        sha256=hashlib.sha256(canonical).hexdigest(),
    )


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    path = path or builders_dir() / "taxonomy.json"
    return parse_taxonomy(read_json(path), str(path))

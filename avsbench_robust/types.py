"""Enums shared by every module, so subsets, splits and conditions are never bare strings."""
from __future__ import annotations

from enum import Enum


class _StrEnum(str, Enum):
    def __str__(self) -> str:  # click and f-strings print the value, not the class path
        return self.value

    @classmethod
    def parse(cls, value: "str | _StrEnum") -> "_StrEnum":
        """Case-insensitive lookup with an error that lists the accepted values."""
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown {cls.__name__.lower()} {value!r} (expected one of: {allowed})") from None


class Subset(_StrEnum):
    S4 = "s4"
    MS3 = "ms3"
    AVSS = "avss"

    @property
    def is_semantic(self) -> bool:
        return self is Subset.AVSS


class Split(_StrEnum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


class Condition(_StrEnum):
    POSITIVE = "positive"
    SILENCE = "silence"
    NOISE = "noise"
    OFFSCREEN = "offscreen"
    UNSEEN = "unseen"  # recordings of classes outside the dataset (the paper's "Unseen Audio"), `build --unseen-pool`
    FUSED = "fused"

    @property
    def is_negative(self) -> bool:
        return self in NEGATIVE_CONDITIONS


#: Negative conditions, pooled into N when scored (unseen only where the build and the predictions have it).
NEGATIVE_CONDITIONS: tuple[Condition, ...] = (Condition.SILENCE, Condition.NOISE, Condition.OFFSCREEN, Condition.UNSEEN)
#: The conditions every submission must hold (the protocol's); an `unseen/` folder is scored when present.
SCORED_CONDITIONS: tuple[Condition, ...] = (Condition.POSITIVE, Condition.SILENCE, Condition.NOISE, Condition.OFFSCREEN)
OPTIONAL_CONDITIONS: tuple[Condition, ...] = (Condition.UNSEEN,)


class AVSSLabel(_StrEnum):
    """The AVSS `label` column: v1s/v1m clips are the S4/MS3 clips again, v2 are new 10 s clips."""

    V1S = "v1s"
    V1M = "v1m"
    V2 = "v2"

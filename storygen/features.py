"""Story features and diversity axes, read from vocab/features.yaml (see its header)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from storygen.errors import StorygenError


class Feature(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    instruction: str = Field(min_length=1, description="the sentence a prompt uses to ask for it")
    weight: float = Field(default=1.0, ge=0, description="relative chance of being picked; 0 disables")


class Axis(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    instruction: str = Field(description="sentence with a {value} placeholder")
    probability: float = Field(default=1.0, ge=0, le=1, description="chance a prompt samples this axis")
    values: list[str] = Field(min_length=1)

    @field_validator("instruction")
    @classmethod
    def _has_placeholder(cls, v: str) -> str:
        if "{value}" not in v:
            raise ValueError("must contain the placeholder {value}")
        return v


class FeatureSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    features: dict[str, Feature] = Field(min_length=1)
    axes: dict[str, Axis] = Field(default_factory=dict)


def load_features(path: Path) -> FeatureSet:
    """Parse and validate the features file; any problem is a one-line StorygenError naming the field."""
    if not path.is_file():
        raise StorygenError(f"{path}: features file not found; restore vocab/features.yaml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise StorygenError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})") from e
    try:
        return FeatureSet.model_validate(data)
    except ValidationError as e:
        raise StorygenError(f"{path}: {format_validation_error(e)}") from e


def format_validation_error(e: ValidationError) -> str:
    """The first pydantic error as 'a.b.c: message (got value)'."""
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return f"{loc}: unknown key; remove it or check the spelling"
    got = err.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{loc}: {msg}{shown}"

"""The example configs document every key, with the model's true defaults."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
from pydantic import BaseModel

from roomhub import config as hub_config
from roomprobe import config as probe_config

# Keys whose example value is a per-site or per-hub setting, not the default.
PER_SITE = {"site", "name", "mqtt.host", "hub_id", "sites"}


def fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += fields(ann, f"{key}.")
        else:
            out.append(key)
    return out


def lookup(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def mentioned(text: str, dotted: str) -> bool:
    """The key appears (maybe commented out) under its [section]."""
    *sections, key = dotted.split(".")
    section_text = text
    if sections:
        match = re.search(
            rf"^\[{re.escape('.'.join(sections))}\]$(.*?)(?=^\[|\Z)", text, re.M | re.S
        )
        if not match:
            return False
        section_text = match.group(1)
    return re.search(rf"^#? ?{re.escape(key)} = ", section_text, re.M) is not None


CASES = [
    (probe_config.ProbeConfig, "roomprobe", "roomprobe.example.toml", probe_config.parse),
    (hub_config.HubConfig, "roomhub", "roomhub.example.toml", hub_config.parse),
]


@pytest.mark.parametrize(("model", "package", "filename", "parse"), CASES)
def test_example_config_loads_and_documents_every_key_with_its_default(
    model, package, filename, parse
):
    text = (resources.files(package) / filename).read_text("utf-8")
    cfg = parse(text, filename)
    defaults = model.model_validate(
        {k: v for k, v in cfg.model_dump().items() if k in {"site", "hub_id"}}
    )
    for key in fields(model):
        assert mentioned(text, key) or key == "sites", f"{filename} does not document {key}"
        if key.split(".")[0] in PER_SITE or key in PER_SITE:
            continue
        assert lookup(cfg, key) == lookup(defaults, key), f"{filename}: {key} is not the default"

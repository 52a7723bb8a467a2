"""Job configuration: packaged defaults, merged with a user's YAML and command-line switches."""

from __future__ import annotations

import copy
import math
import importlib.resources
from typing import Iterable

import fsspec
import yaml


class ConfigError(ValueError):
    """A configuration that cannot be used, with a message saying which key and why."""


def default_config() -> dict:
    text = importlib.resources.files("codecorpus").joinpath("defaults.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def merge(base: dict, override: dict, path: str = "") -> dict:
    """Merge ``override`` into a copy of ``base``: mappings key by key, anything else replaced.

    Unknown keys are an error, so a typo in a config file never silently does nothing.
    """
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        where = f"{path}.{key}" if path else key
        if key not in merged:
            known = ", ".join(sorted(merged)) or "(none)"
            raise ConfigError(f"unknown config key '{where}'; known keys here: {known}")
        if isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = merge(merged[key], value, where)
        elif isinstance(merged[key], dict) and value is not None:
            raise ConfigError(f"config key '{where}' must be a mapping, got {value!r}")
        else:
            merged[key] = checked_value(where, merged[key], value)
    return merged


def checked_value(where: str, default, value):
    """A user's value for a key, checked against the type of its default (defaults.yaml is the
    schema): a wrong type would otherwise fail on every record, deep inside the run. Keys whose
    default is null take any value; their users check them."""
    if default is None or value is None and not isinstance(default, (bool, int, float)):
        return value
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok, kind = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value), \
            "a finite number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    elif isinstance(default, list):
        ok, kind = isinstance(value, list), "a list"
    else:
        ok, kind = True, ""
    if not ok:
        raise ConfigError(f"config key '{where}' must be {kind}, got {value!r}")
    leaf = where.rsplit(".", 1)[-1]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if (leaf.endswith(("_rate", "_fraction", "_share")) or leaf in ("threshold", "rate")) and not 0 <= value <= 1:
            raise ConfigError(f"config key '{where}' must be between 0 and 1, got {value!r}")
        if leaf.startswith(("max_", "min_")) and value < 0:
            raise ConfigError(f"config key '{where}' must not be negative, got {value!r}")
    return value


def load_config(path: str | None = None, disabled_filters: Iterable[str] = (), filters: str = "commits") -> dict:
    """The defaults, merged with the YAML at ``path`` (any fsspec path), with filters disabled.

    ``filters`` names the job whose filters ``disabled_filters`` refers to: ``commits`` (the commit
    and CommitPackFT filters) or ``files`` (the file filters); dedup's stages are in both, so a
    name such as ``size``, which both jobs have, means the running job's filter."""
    config = default_config()
    if path:
        try:
            with fsspec.open(path, "r", encoding="utf-8") as f:
                user = yaml.safe_load(f) or {}
        except FileNotFoundError as e:
            raise ConfigError(f"config file not found: {path}") from e
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {path} is not valid YAML: {e}") from e
        if not isinstance(user, dict):
            raise ConfigError(f"config file {path} must hold a mapping at top level")
        config = merge(config, user)
    for name in disabled_filters:
        section = _filter_section(config, name, filters)
        section[name]["enabled"] = False
    return config


def _filter_section(config: dict, name: str, filters: str = "commits") -> dict:
    # The dedup section also holds `keep`, which is not a filter: only entries with `enabled` are.
    dedup = {k: v for k, v in config["dedup"].items() if isinstance(v, dict) and "enabled" in v}
    if filters == "files":
        sections = (config["files"]["filters"], dedup)
    else:
        sections = (config["commits"]["filters"], config["commits"]["ft_filters"], dedup)
    for section in sections:
        if name in section:
            return section
    known = sorted(n for section in sections for n in section)
    raise ConfigError(f"unknown filter '{name}'; filters are: {', '.join(known)}")

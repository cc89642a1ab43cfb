"""Config files: YAML or TOML, read into a mapping whose keys are option names.

Used by ``ouroboros run PIPELINE.yaml`` and by the ``--config FILE`` option of every
command. Keys may be written as the flags are (``min-span``) or as the Python names
(``min_span``); :func:`normalize_keys` makes them the latter.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

YAML_SUFFIXES = (".yaml", ".yml")
TOML_SUFFIXES = (".toml",)


def load_config_file(path: str | os.PathLike) -> dict:
    """The top-level mapping of a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file.

    An empty YAML file is an empty mapping. Keys are returned as written (see
    :func:`normalize_keys`).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an unknown suffix, a file that does not parse, or a top level that
            is not a mapping; the message names the file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in YAML_SUFFIXES + TOML_SUFFIXES:
        raise ValueError(
            f"config file {path} must end in .yaml, .yml or .toml (got {suffix or 'no suffix'!r})"
        )
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    text = path.read_text(encoding="utf-8")
    loaded = _parse_toml(text, path) if suffix in TOML_SUFFIXES else _parse_yaml(text, path)
    if loaded is None:
        return {}
    if not isinstance(loaded, Mapping):
        raise ValueError(
            f"config file {path} must hold a mapping of option names to values at its top "
            f"level, got {type(loaded).__name__}"
        )
    return dict(loaded)


def _parse_yaml(text: str, path: Path):
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"cannot parse {path} as YAML: {err}") from err


def _parse_toml(text: str, path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10: no TOML parser in the standard library
        raise ValueError(
            f"cannot read {path}: TOML config files need Python 3.11 or later (tomllib); "
            "write the same keys as YAML (.yaml) instead"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"cannot parse {path} as TOML: {err}") from err


def normalize_keys(values: Mapping, where: str) -> dict:
    """``values`` with every key as a Python name: dashes become underscores.

    ``where`` names the mapping in messages (``"pipeline.yaml"``, ``"step 'substr'"``).

    Raises:
        ValueError: a key that is not a string, or one key written twice (``min-span``
            and ``min_span``).
    """
    out: dict = {}
    written: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise ValueError(f"{where}: keys must be option names, got {key!r}")
        name = key.strip().replace("-", "_")
        if name in out:
            raise ValueError(f"{where}: {written[name]!r} and {key!r} name the same option")
        out[name] = value
        written[name] = key
    return out

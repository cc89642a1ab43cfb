"""Hugging Face ``save_to_disk`` folders: which of their entries hold the rows, in order.

- A ``Dataset`` folder (``Dataset.save_to_disk``) holds ``state.json`` and
  ``dataset_info.json`` beside its ``.arrow`` data files; ``state.json["_data_files"]``
  lists the data files in row order.
- A ``DatasetDict`` folder holds ``dataset_dict.json`` (``{"splits": [...]}``) and one
  ``Dataset`` folder per split.

The planner's folder walk asks :func:`dataset_folder_names` which names of a folder to
visit: the listed data files (a ``Dataset``) or the split folders (a ``DatasetDict``),
in the order the metadata gives. The JSON metadata files describe the data; they are
neither read as documents nor counted. Problems are counted through ``problem``:

- a listed data file or split folder that is absent: ``missing_file``;
- an entry the metadata does not list (it is not part of the dataset): ``not_in_dataset``;
- a ``state.json`` / ``dataset_dict.json`` that cannot be parsed while the folder is
  clearly a dataset (``dataset_info.json`` beside it): ``unreadable_file``, and the
  folder's ``.arrow`` files (or sub-folders) are read in name order instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

__all__ = ["DATASET_METADATA", "dataset_folder_names"]

STATE_FILE = "state.json"
INFO_FILE = "dataset_info.json"
DICT_FILE = "dataset_dict.json"
DATASET_METADATA = (STATE_FILE, INFO_FILE, DICT_FILE)

# problem(reason, path as given, detail, fix): count (or raise) one planning problem
Problem = Callable[[str, str, str, str], None]


def dataset_folder_names(
    folder: str, folder_path: str, names: list[str], problem: Problem
) -> list[str] | None:
    """The names to visit in a ``save_to_disk`` folder, in order; None for another folder.

    Args:
        folder: the folder as spelled from the input (report entries).
        folder_path: its absolute path (what is opened).
        names: its entries, hidden ones left out.
        problem: counts a problem (see the module docstring).
    """
    present = set(names)
    if DICT_FILE in present:
        listed = _listed(folder, folder_path, DICT_FILE, "splits", None, problem)
        if listed is None:
            return None if INFO_FILE not in present else _fallback(names, folder_path, ".")
        return _visit(folder, folder_path, names, listed, DICT_FILE, problem)
    if STATE_FILE in present:
        listed = _listed(folder, folder_path, STATE_FILE, "_data_files", "filename", problem)
        if listed is None:
            return None if INFO_FILE not in present else _fallback(names, folder_path, ".arrow")
        return _visit(folder, folder_path, names, listed, STATE_FILE, problem)
    return None


def _listed(
    folder: str, folder_path: str, name: str, key: str, item_key: str | None, problem: Problem
) -> list[str] | None:
    """The names listed under ``key`` in the metadata file ``name``; None when it is not
    such a file (counted when ``dataset_info.json`` says the folder is a dataset)."""
    path = os.path.join(folder_path, name)
    try:
        with open(path, encoding="utf-8") as stream:
            data = json.load(stream)
        items = data[key]
        listed = [item[item_key] if item_key else item for item in items]
        if not all(isinstance(entry, str) and _plain_name(entry) for entry in listed):
            raise ValueError(f"{key!r} holds an entry that is not a file name in the folder")
    except (OSError, ValueError, KeyError, TypeError) as err:
        if os.path.isfile(os.path.join(folder_path, INFO_FILE)):
            problem(
                "unreadable_file",
                os.path.join(folder, name),
                f"Hugging Face dataset metadata that cannot be used ({type(err).__name__}: "
                f"{err}); the folder's data is read in name order",
                "save the dataset again with save_to_disk",
            )
        return None
    return listed


def _plain_name(name: str) -> bool:
    return (
        bool(name)
        and name not in (os.curdir, os.pardir)
        and os.sep not in name
        and (os.altsep is None or os.altsep not in name)
    )


def _visit(
    folder: str,
    folder_path: str,
    names: list[str],
    listed: list[str],
    metadata: str,
    problem: Problem,
) -> list[str]:
    """The listed names that exist, in order; absent and unlisted ones are counted."""
    visit = []
    for name in dict.fromkeys(listed):
        if os.path.lexists(os.path.join(folder_path, name)):
            visit.append(name)
        else:
            problem(
                "missing_file",
                os.path.join(folder, name),
                f"listed in {metadata} but absent",
                "save the dataset again with save_to_disk",
            )
    wanted = set(listed)
    for name in names:
        if name not in wanted and name not in DATASET_METADATA:
            problem(
                "not_in_dataset",
                os.path.join(folder, name),
                f"in a Hugging Face dataset folder but not listed in {metadata}; not read",
                "move it out of the dataset folder, or pass it as an input of its own",
            )
    return visit


def _fallback(names: list[str], folder_path: str, suffix: str) -> list[str]:
    """Names in sorted order: the ``.arrow`` files, or (``"."``) the sub-folders."""
    if suffix == ".":
        return sorted(n for n in names if os.path.isdir(os.path.join(folder_path, n)))
    return sorted(n for n in names if n.endswith(suffix))

"""Shared helpers for the tests: where notebooks live, and how to read them."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
EXECUTED = CHAPTERS + SOLUTIONS
ALL_NOTEBOOKS = EXECUTED + EXERCISES
NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")
SETUP_SOURCE = "from utils.course import setup\n\nsetup()"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def ids(paths) -> list[str]:
    return [f"{p.parent.name}/{p.name}" for p in paths]

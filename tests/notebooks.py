"""Shared helpers for the tests: where notebooks live, how to read them, and the course's tools by name."""

from __future__ import annotations

import importlib.util
import re
import sys
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


def load_tool(name: str):
    """Return the module ``tools/<name>.py`` (tools/ is a folder of scripts, not a package), loaded once."""
    module_name = f"course_tools_{name}"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, ROOT / "tools" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]


def executor():
    """Return the course's notebook executor (tools/executor.py): every test that runs a notebook uses it."""
    return load_tool("executor")

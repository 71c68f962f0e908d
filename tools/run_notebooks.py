"""Execute notebooks top to bottom in fresh kernels and save them with their outputs (execution counts 1..n).

Usage: python tools/run_notebooks.py chapters/01_vanishing_exploding_gradients.ipynb [more.ipynb ...]
       python tools/run_notebooks.py --all        (every notebook in chapters/ and solutions/)

Each notebook runs with its own folder as the working directory, as in JupyterLab, and prints its wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
EXECUTED_FOLDERS = ("chapters", "solutions")


def execute(path: Path, timeout: int = 600) -> float:
    """Run ``path`` in a fresh kernel, save it in place and return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,  # timestamps would change every saved notebook on every run
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nb.metadata.pop("widgets", None)  # widget state is view-only and changes on every run
    nbformat.write(with_widget_hints(nb), path)
    return elapsed


WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_HINT = "Interactive widget: run this cell (and the cells above it) in JupyterLab to use it."


def with_widget_hints(nb):
    """Replace the saved text of widget outputs (``VBox(children=...)``) by a hint to run the cell.

    Widget state is not saved, so a reader who opens the notebook without running it (or views it on GitHub)
    sees this text instead of a widget: tell them what to do rather than print a widget's repr.
    """
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if WIDGET_MIME in output.get("data", {}):
                output["data"]["text/plain"] = WIDGET_HINT
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every notebook in chapters/ and solutions/")
    args = parser.parse_args(argv)
    paths = list(args.notebooks)
    if args.all:
        paths += sorted(p for folder in EXECUTED_FOLDERS for p in (ROOT / folder).glob("*.ipynb"))
    if not paths:
        parser.error("name notebooks to run, or pass --all")
    for path in paths:
        print(f"{execute(path.resolve()):6.1f} s  {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the course: `import tensorflow`, every notebook top to bottom, every widget compute function.

Usage: python tools/bench.py [--skip-notebooks] [notebook.ipynb ...]

Prints one table: per notebook its wall time, its compute time and the kernel's peak memory (budget 60 s, tighter
for some: below); chapters 01-06 together (budget 120 s, issue 21), once all six were timed; the time to render
20,000 glyphs (budget 1 s); and the median time of each `compute_*` function in utils at its default arguments
(budget 50 ms), marking anything over budget. The wall time runs from starting the kernel to the last cell's end;
the compute time leaves out kernel start and imports: it runs from the end of the first cell that calls `setup()`
(the first cell where none does) to the end of the last cell, as the kernel's own message timestamps record them.
Notebooks run in a fresh kernel each, from a temporary copy of their folder, so nothing is saved back.
Exit status 1 when something is over budget.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

if not __package__:  # run as `python tools/bench.py`: import `tools` from the course folder, as `-m` does
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.notebooks import ROOT, course_notebooks  # noqa: E402

QUIET_TF = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0"}
# Seconds on an idle 2-core machine: 60 for any notebook (the course's rule), tighter where an issue set one.
DEFAULT_NOTEBOOK_BUDGET_S = 60.0
NOTEBOOK_BUDGET_S = {
    "chapters/00": 30.0,
    "chapters/04": 30.0,
    "chapters/05": 25.0,
    "solutions/05": 20.0,
    "chapters/06": 45.0,  # issue 18: chapters 06 and 07 and their solutions, 45 s each
    "solutions/06": 45.0,
    "chapters/07": 45.0,
    "solutions/07": 45.0,
    "chapters/08": 40.0,
    "solutions/08": 40.0,
}


# Issue 21: chapters 01-06 run one after the other (each in a fresh kernel) in at most 120 s, the sum of wall times.
TOGETHER, TOGETHER_BUDGET_S = tuple(f"chapters/{n:02d}" for n in range(1, 7)), 120.0
SETUP_CALL = re.compile(r"^\s*setup\(", re.MULTILINE)


def notebook_budget(path: Path) -> float:
    """Return the time budget in seconds of ``path`` (e.g. chapters/04_*.ipynb: 30 s)."""
    return NOTEBOOK_BUDGET_S.get(_key(path), DEFAULT_NOTEBOOK_BUDGET_S)


def _key(path: Path) -> str:
    return f"{path.parent.name}/{path.name[:2]}"


WIDGET_BUDGET_MS = 50.0
# The rendered-glyph source (utils.glyphs): about 20,000 images a second or faster (issue 18).
GLYPHS_N, GLYPHS_BUDGET_S = 20_000, 1.0
# Extra settings worth timing beyond the defaults: the slowest corner a slider can reach.
WORST_CASES = {"utils.mlp.compute_gradient_flow": {"depth": 50, "width": 144, "activation": "elu"}}


def time_tensorflow_import() -> float:
    code = "import time; t = time.perf_counter(); import tensorflow; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **QUIET_TF}, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def time_glyphs(repeats: int = 3) -> float:
    """Return the best of ``repeats`` times to render GLYPHS_N digits (the fonts drawn once beforehand)."""
    from utils.glyphs import DIGITS, render_glyphs

    render_glyphs(DIGITS, 1, seed=0)
    times = []
    for seed in range(repeats):
        start = time.perf_counter()
        render_glyphs(DIGITS, GLYPHS_N // len(DIGITS), seed=seed)
        times.append(time.perf_counter() - start)
    return min(times)


def run_one(path: Path) -> dict:
    """Execute one notebook in a fresh kernel (in this process); return wall and compute time, kernel peak memory."""
    import resource

    from tools.executor import execute_file  # the course's executor: never hangs at an explorer

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / path.parent.name
        shutil.copytree(path.parent, folder)  # runs beside its siblings, as in JupyterLab, without saving back
        nb, wall = execute_file(folder / path.name, record_timing=True)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel, once it has exited
    return {"wall_s": wall, "compute_s": compute_time(nb), "peak_mib": peak_kib / 1024}


def compute_time(nb) -> float:
    """Return the seconds from the end of the setup cell (the first that calls `setup()`) to the end of the last cell.

    The ends are the kernel's ``iopub.status.idle`` timestamps, which nbclient records per cell in
    ``metadata.execution``; the first code cell stands in for the setup cell in a notebook that calls no `setup()`.
    """
    cells = [cell for cell in nb.cells if cell.cell_type == "code" and "execution" in cell.metadata]
    start = next((cell for cell in cells if SETUP_CALL.search(cell.source)), cells[0])

    def end(cell) -> datetime:
        return datetime.fromisoformat(cell.metadata["execution"]["iopub.status.idle"])

    return (end(cells[-1]) - end(start)).total_seconds()


def bench_notebook(path: Path) -> dict:
    cmd = [sys.executable, "-m", "tools.bench", "--one", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **QUIET_TF}, cwd=ROOT)
    if out.returncode:
        last = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        nan = float("nan")
        return {"wall_s": nan, "compute_s": nan, "peak_mib": nan, "error": re.sub(r"\x1b\[[0-9;]*m", "", last)}
    return json.loads(out.stdout.strip().splitlines()[-1])


def compute_functions():
    """Yield (qualified name, function, kwargs) for every `compute_*` wired into a widget, at defaults and worst cases.

    The explorers in utils/widgets.py import the compute functions they call (some inside the explorer, so that
    importing the widgets stays light): those imports name the functions a slider runs.
    """
    tree = ast.parse((ROOT / "utils" / "widgets.py").read_text(encoding="utf-8"))
    found = {
        f"{node.module}.{alias.name}": (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("utils.")
        for alias in node.names
        if alias.name.startswith("compute_")
    }
    for qualified, (module, name) in sorted(found.items()):
        fn = getattr(importlib.import_module(module), name)
        yield qualified, fn, {}
        if qualified in WORST_CASES:
            yield qualified + " (worst case)", fn, WORST_CASES[qualified]


def bench_compute(fn, kwargs, repeats: int = 15) -> float:
    fn(**kwargs)  # warm-up: caches, lazy imports
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(**kwargs)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one.resolve())))
        return 0
    os.environ.update(QUIET_TF)
    over = []
    print(f"{'what':<58}{'time':>12}{'compute':>12}{'peak memory':>14}{'budget':>10}  verdict")
    print(f"{'import tensorflow':<58}{time_tensorflow_import():>10.1f} s{'':>12}{'':>14}{'':>10}")
    timed = {}
    for path in [] if args.skip_notebooks else args.notebooks or course_notebooks():
        path = path.resolve()
        result = timed[_key(path)] = bench_notebook(path)
        label = f"{path.parent.name}/{path.name}"
        over += _notebook_row(label, result, notebook_budget(path))
    if all(key in timed for key in TOGETHER):  # the sum, peer-free: no other course's notebooks in the run
        together = {key: sum(timed[k][key] for k in TOGETHER) for key in ("wall_s", "compute_s")}
        over += _notebook_row("chapters 01-06 together", together, TOGETHER_BUDGET_S)
    glyphs_s = time_glyphs()
    ok = glyphs_s <= GLYPHS_BUDGET_S
    print(f"{f'render_glyphs: {GLYPHS_N:,} digits':<58}{glyphs_s:>10.2f} s{'':>26}{GLYPHS_BUDGET_S:>8.0f} s  ", end="")
    print("ok" if ok else "OVER BUDGET")
    over += [] if ok else ["render_glyphs"]
    for name, fn, kwargs in compute_functions():
        ms = bench_compute(fn, kwargs)
        ok = ms <= WIDGET_BUDGET_MS
        print(f"{name:<58}{ms:>9.2f} ms{'':>26}{WIDGET_BUDGET_MS:>7.0f} ms  {'ok' if ok else 'OVER BUDGET'}")
        over += [] if ok else [name]
    if over:
        print("\nover budget:", ", ".join(over))
    return 1 if over else 0


def _notebook_row(label: str, result: dict, budget: float) -> list[str]:
    """Print one notebook's row (or a sum's); return ``[label]`` when it is over budget."""
    ok = result["wall_s"] <= budget
    memory = f"{result['peak_mib']:>10.0f} MiB" if "peak_mib" in result else f"{'':>14}"
    verdict = "ok" if ok else f"OVER BUDGET {result.get('error', '')}".rstrip()
    print(f"{label:<58}{result['wall_s']:>10.1f} s{result['compute_s']:>10.1f} s{memory}{budget:>8.0f} s  {verdict}")
    return [] if ok else [label]


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the course: `import tensorflow`, every notebook top to bottom, every widget compute function.

Usage: python tools/bench.py [--skip-notebooks] [notebook.ipynb ...]

Prints one table: wall time and the kernel's peak memory per notebook (budget 60 s, tighter for some: below),
the time to render 20,000 glyphs (budget 1 s), and the median time of each `compute_*` function in utils at its
default arguments (budget 50 ms),
marking anything over budget. Notebooks run in a fresh kernel each, from a temporary copy of their folder,
so nothing is saved back. Exit status 1 when something is over budget.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def notebook_budget(path: Path) -> float:
    """Return the time budget in seconds of ``path`` (e.g. chapters/04_*.ipynb: 30 s)."""
    return NOTEBOOK_BUDGET_S.get(f"{path.parent.name}/{path.name[:2]}", DEFAULT_NOTEBOOK_BUDGET_S)


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
    """Execute one notebook in a fresh kernel (in this process) and return wall time and kernel peak memory."""
    import resource

    from executor import execute_file  # the course's executor (tools/executor.py): never hangs at an explorer

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / path.parent.name
        shutil.copytree(path.parent, folder)  # runs beside its siblings, as in JupyterLab, without saving back
        _, wall = execute_file(folder / path.name)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel, once it has exited
    return {"wall_s": wall, "peak_mib": peak_kib / 1024}


def bench_notebook(path: Path) -> dict:
    cmd = [sys.executable, __file__, "--one", str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **QUIET_TF}, cwd=ROOT)
    if out.returncode:
        return {"wall_s": float("nan"), "peak_mib": float("nan"), "error": out.stderr.strip().splitlines()[-1:]}
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
    print(f"{'what':<58}{'time':>12}{'peak memory':>14}{'budget':>10}  verdict")
    print(f"{'import tensorflow':<58}{time_tensorflow_import():>10.1f} s{'':>14}{'':>10}")
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("*.ipynb")) + sorted(
        (ROOT / "solutions").glob("*.ipynb")
    )
    for path in [] if args.skip_notebooks else notebooks:
        path = path.resolve()
        result = bench_notebook(path)
        budget = notebook_budget(path)
        ok = result["wall_s"] <= budget
        label = f"{path.parent.name}/{path.name}"
        verdict = "ok" if ok else f"OVER BUDGET {result.get('error', '')}"
        print(f"{label:<58}{result['wall_s']:>10.1f} s{result['peak_mib']:>10.0f} MiB{budget:>8.0f} s  {verdict}")
        over += [] if ok else [label]
    glyphs_s = time_glyphs()
    ok = glyphs_s <= GLYPHS_BUDGET_S
    print(f"{f'render_glyphs: {GLYPHS_N:,} digits':<58}{glyphs_s:>10.2f} s{'':>14}{GLYPHS_BUDGET_S:>8.0f} s  ", end="")
    print("ok" if ok else "OVER BUDGET")
    over += [] if ok else ["render_glyphs"]
    for name, fn, kwargs in compute_functions():
        ms = bench_compute(fn, kwargs)
        ok = ms <= WIDGET_BUDGET_MS
        print(f"{name:<58}{ms:>9.2f} ms{'':>14}{WIDGET_BUDGET_MS:>7.0f} ms  {'ok' if ok else 'OVER BUDGET'}")
        over += [] if ok else [name]
    if over:
        print("\nover budget:", ", ".join(over))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

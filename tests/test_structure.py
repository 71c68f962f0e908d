"""Structure tests: every notebook follows the chapter shape, names pair up, links resolve, files agree."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib

import pytest
import yaml

from tests.notebooks import (
    ALL_NOTEBOOKS,
    CHAPTERS,
    EXECUTED,
    EXERCISES,
    NAME,
    ROOT,
    SETUP_SOURCE,
    code_cells,
    ids,
    markdown,
    read,
)


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_name_sorts_and_pairs(path):
    assert NAME.match(path.name), f"{path.name}: name notebooks NN_snake_case.ipynb"
    if path.parent.name in ("solutions", "exercises"):
        assert (ROOT / "chapters" / path.name).exists(), f"{path.name} has no chapter of the same name"
        twin = "exercises" if path.parent.name == "solutions" else "solutions"
        assert (ROOT / twin / path.name).exists(), f"{path.name} has no twin in {twin}/ (run `make exercises`)"


@pytest.mark.parametrize("path", EXECUTED + EXERCISES, ids=ids(EXECUTED + EXERCISES))
def test_title_cell_has_the_chapter_header(path):
    first = read(path).cells[0]
    assert first.cell_type == "markdown"
    number = path.name[:2]
    assert re.match(rf"# {number} · \S", first.source), f"first line must be '# {number} · Title'"
    for label in ("**Time:**", "**You will:**", "**Book:**"):
        assert label in first.source, f"the title cell needs {label}"
    objectives = re.findall(r"^- ", first.source.split("**You will:**")[1].split("**Book:**")[0], re.M)
    assert 3 <= len(objectives) <= 5, f"3-5 learning objectives, found {len(objectives)}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_first_code_cell_is_the_setup_call(path):
    nb = read(path)
    assert code_cells(nb)[0].source.strip() == SETUP_SOURCE
    assert "## Setup" in markdown(nb)


@pytest.mark.parametrize(
    "path", [p for p in CHAPTERS if p.name[:2] != "00"], ids=ids([p for p in CHAPTERS if p.name[:2] != "00"])
)
def test_chapter_has_explorer_pitfalls_key_points_and_exercises(path):
    nb = read(path)
    text = markdown(nb)
    for heading in ("## Pitfalls", "## Key points", "## Exercises"):
        assert heading in text, f"missing {heading}"
    assert f"../exercises/{path.name}" in text, "link the chapter's exercise notebook"
    cells = code_cells(nb)
    explorers = [i for i, c in enumerate(cells) if re.search(r"\bexplore_\w+\(", c.source)]
    assert explorers, "a chapter needs an interactive explorer (utils.widgets.explore_*)"
    for i in explorers:
        assert "nbval-ignore-output" in cells[i].metadata.get("tags", []), "tag the explorer cell nbval-ignore-output"
    static = [c for c in cells[explorers[0] + 1 :] if any("image/png" in o.get("data", {}) for o in c.outputs)]
    assert static, "after the explorer, save a static figure at the default settings"


@pytest.mark.parametrize("path", EXECUTED, ids=ids(EXECUTED))
def test_saved_from_one_clean_run_without_errors(path):
    cells = code_cells(read(path))
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1)), "re-run top to bottom and save"
    errors = [o for c in cells for o in c.outputs if o.output_type == "error"]
    assert not errors, "a saved error output"
    stderr = [o.text for c in cells for o in c.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"stderr output saved (warnings or logs): {stderr[0][:200]}"


# A compared output must read the same on any machine (another CPU, a Mac, a GPU, another thread count): numbers
# that come from float arithmetic are printed rounded to what their claim needs, never in full.
FULL_PRECISION = re.compile(r"-?\d+\.\d{7,}(?:e[-+]?\d+)?")
RAW_VALUE = re.compile(r"^\s*(array\(|\[array\(|<tf\.Tensor|tf\.Tensor\(|<tf\.Variable|<KerasVariable|np\.float|\{)")
# Exact closed-form constants may be shown in full: (notebook name, the number as printed, why it is exact).
EXACT_CONSTANTS: list[tuple[str, str, str]] = []


def unportable_outputs(nb) -> list[str]:
    """Describe compared outputs that another machine would print differently: full-precision floats, raw values."""
    from tests.user_runs import compared_outputs, is_compared, sanitize_patterns

    patterns, found = sanitize_patterns(), []
    allowed = {number for name, number, _ in EXACT_CONSTANTS if name == nb.metadata.get("_name")}
    for number, cell in enumerate(code_cells(nb)):
        if cell.cell_type != "code" or not is_compared(cell):
            continue
        for key, texts in compared_outputs(cell, patterns).items():
            text = "\n".join(t if isinstance(t, str) else str(t) for t in texts)
            full = [m.group(0) for m in FULL_PRECISION.finditer(text) if m.group(0) not in allowed]
            if full:
                found.append(f"code cell {number} ({key}) prints {full[0]} in full: print it rounded")
            if key == "text/plain" and RAW_VALUE.match(text):
                found.append(f"code cell {number} leaves a raw value as its output ({text[:40]!r}...): print a summary")
    return found


@pytest.mark.parametrize("path", EXECUTED, ids=ids(EXECUTED))
def test_compared_outputs_are_portable(path):
    nb = read(path)
    nb.metadata["_name"] = path.name
    problems = unportable_outputs(nb)
    assert not problems, "another machine would print these differently:\n" + "\n".join(problems)


def test_the_portability_check_catches_unrounded_floats_and_raw_values():
    import nbformat

    def notebook(text, key="stdout"):
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("x", execution_count=1)
        if key == "stdout":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        else:
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": text}, execution_count=1)]
        nb.cells.append(cell)
        return nb

    assert unportable_outputs(notebook("loss 0.10217756\n"))
    assert unportable_outputs(notebook("{'loss': 0.1, 'accuracy': 0.9}", key="text/plain"))
    assert unportable_outputs(notebook("array([0.1, 0.2], dtype=float32)", key="text/plain"))
    assert unportable_outputs(notebook("np.float64(0.25)", key="text/plain"))
    assert unportable_outputs(notebook("<tf.Tensor: shape=(), dtype=float32, numpy=0.5>", key="text/plain"))
    assert not unportable_outputs(notebook("loss 0.102 ± 0.004, accuracy 93.1%, lr 1e-07\n"))
    ignored = notebook("took 1.23456789 s\n")
    ignored.cells[0].metadata["tags"] = ["nbval-ignore-output"]
    assert not unportable_outputs(ignored)


@pytest.mark.parametrize("path", EXERCISES, ids=ids(EXERCISES))
def test_exercises_have_no_outputs(path):
    for cell in code_cells(read(path)):
        assert not cell.outputs and cell.execution_count is None


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_no_network_no_path_hacks(path):
    source = "\n".join(c.source for c in code_cells(read(path)))
    for pattern in (r"https?://", r"\burllib\b", r"\brequests\b", r"\.load_data\(", r"get_file\(", r"sys\.path"):
        assert not re.search(pattern, source), f"{pattern!r} in code: no downloads, no sys.path edits"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_relative_links_resolve(path):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", markdown(read(path))):
        if re.match(r"[a-z]+:", target):
            continue
        assert (path.parent / target).exists(), f"broken link {target}"


def test_readme_course_map_lists_every_chapter_in_order():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- course-map")[1].split("<!-- /course-map -->")[0]
    linked = re.findall(r"\((chapters/[^)]+\.ipynb)\)", block)
    assert linked == [f"chapters/{p.name}" for p in CHAPTERS], "README's course map must list chapters/ in order"


def _requirement_names(specs):
    return {re.split(r"[<>=!;\[ ]", spec.strip(), maxsplit=1)[0].lower(): spec for spec in specs}


def _bounds(spec: str) -> str:
    return re.sub(r"\s|;.*", "", re.sub(r"^[A-Za-z0-9_.\-\[\]]+", "", spec))


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    declared = _requirement_names(conda + pip)
    assert "-e ." in [p.strip() for p in pip], "environment.yml must install the course package (-e .)"
    for spec in project["dependencies"]:
        name = re.split(r"[<>=!;\[ ]", spec, maxsplit=1)[0].lower()
        if name == "tensorflow" and "tensorflow-cpu" in declared:
            continue  # the non-x86 marker variant of the same pin
        assert name in declared, f"{name} is in pyproject.toml but not in environment.yml"
        assert _bounds(declared[name]) == _bounds(spec), f"{name}: {declared[name]!r} vs {spec!r}"
    python = next(d for d in conda if d.startswith("python"))
    assert _bounds(python) == project["requires-python"].replace(" ", "")


def test_importing_utils_changes_nothing_global():
    code = (
        "import os, sys, matplotlib as mpl; before = (dict(os.environ), dict(mpl.rcParams));"
        "import utils, utils.course, utils.data, utils.mlp, utils.diagnostics, utils.plots, utils.models;"
        "after = (dict(os.environ), dict(mpl.rcParams));"
        "assert before[0] == after[0], 'environment changed';"
        "assert before[1] == after[1], 'matplotlib style changed';"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported at import time'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_utils_layers_point_down():
    """Nothing in utils imports the widgets or the checks, except the widgets and the checks themselves."""
    for path in sorted((ROOT / "utils").rglob("*.py")):
        rel = path.relative_to(ROOT / "utils").as_posix()
        if rel.startswith(("widgets", "checks/")):
            continue
        bad = [m for m in _imports(path) if m.startswith(("utils.widgets", "utils.checks"))]
        assert not bad, f"utils/{rel} imports {bad}: arrows must point down toward compute"

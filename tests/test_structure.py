"""Structure tests: every notebook follows the chapter shape, names pair up, links resolve, files agree."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib

import pytest
import yaml

from tests.support.notebooks import (
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
    from tests.support.user_runs import compared_outputs, is_compared, sanitize_patterns

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


def test_tools_and_tests_share_their_harness():
    """One course root (tools/notebooks.py); tools imported as a package; no test module imports another."""
    for path in sorted((ROOT / "tools").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert path.name == "notebooks.py" or not re.search(r"^ROOT = ", text, re.M), f"tools/{path.name}: own ROOT"
        assert "spec_from_file_location" not in text, f"tools/{path.name}: `from tools import NAME` instead"
    for path in sorted((ROOT / "tests").rglob("*.py")):
        bad = [m for m in _imports(path) if m.startswith("tests.test_")]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}: shared helpers belong in tests/support/"


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


# ------------------------------------------------------------------------------------------------------------
# Formulas are typeset in LaTeX
# ------------------------------------------------------------------------------------------------------------

# For each chapter, its key formulas: (the plain-text form that no markdown cell of the chapter, its solutions or
# its exercises may keep, a regex that the chapter's markdown must match). The regexes run over the markdown with
# its spacing taken out (blanks, thin spaces `\,`, and `\bigl`/`\Bigr` size hints), so they pin the formula, not its
# layout (`tex` writes such a regex from the LaTeX as typed).
SPACING = re.compile(r"\s+|(?<!\\)\\[,;:! ]|\\[bB]ig{1,2}[lr]?(?![a-zA-Z])|\\(?:text|display)style(?![a-zA-Z])")


def _compact(text: str) -> str:
    return SPACING.sub("", text)


def tex(formula: str) -> str:
    """Return a regex that matches ``formula`` (LaTeX, as typed) in compacted markdown."""
    return re.escape(_compact(formula))


FI, FO = r"\\text\{fan\}_\\text\{in\}", r"\\text\{fan\}_\\text\{out\}"
VAR = r"\\operatorname\{Var\}"
KEY_FORMULAS: dict[str, list[tuple[str, str]]] = {
    "01": [
        ("σ(z) = 1 / (1 + e^(−z))", r"\\sigma\(z\)=1/\(1\+e\^\{-z\}\)"),
        ("σ'(z) = σ(z)(1 − σ(z))", r"\\sigma'\(z\)=\\sigma\(z\)\(1-\\sigma\(z\)\)"),
        # The chain rule, one layer down: one factor f' and one W per layer.
        ("δ_(l−1) = (δ_l ⊙ f'(z_l)) W_lᵀ", r"\\delta_\{l-1\}=\(\\delta_l\\odotf'\(z_l\)\)W_l\^\\top"),
        ("∏ σ'(z_l) ≤ 0.25^10", r"\\prod_\{l=1\}\^\{10\}\\sigma'\(z_l\)\\le0\.25\^\{10\}"),
        ("N(0, 1/fan_in)", rf"\\mathcal\{{N\}}\(0,1/{FI}\)"),
    ],
    "02": [
        ("Var(z) = fan_in · Var(W) · Var(x)", rf"{VAR}\(z\)={FI}\\cdot{VAR}\(W\)\\cdot{VAR}\(x\)"),
        ("Var(δx) = fan_out · Var(W) · Var(δz)", rf"{VAR}\(\\deltax\)={FO}\\cdot{VAR}\(W\)\\cdot{VAR}\(\\deltaz\)"),
        ("Var(W) = 2/(fan_in + fan_out)", rf"{VAR}\(W\)=\\frac\{{2\}}\{{{FI}\+{FO}\}}"),
        ("Var(W) = 2/fan_in", rf"{VAR}\(W\)=\\frac\{{2\}}\{{{FI}\}}"),  # He: fan_in, not the fans' average
        ("Var(W) = 2/((1 + α²) · fan_in)", rf"{VAR}\(W\)=\\frac\{{2\}}\{{\(1\+\\alpha\^2\){FI}\}}"),
        ("Var(W) = 1/fan_in", rf"{VAR}\(W\)=1/{FI}"),  # LeCun
        ("r = σ√3", r"r=\\sigma\\sqrt\{3\}"),
        ("δx = δz·Wᵀ", r"\\deltax=\\deltazW\^\\top"),
        # The corrected table: the 4x (16x the variance) on the logistic row, He and LeCun over fan_in.
        (
            "| logistic (sigmoid) | 4 × Glorot | 4 · √(6 / (fan_in + fan_out))",
            rf"\|logistic\(sigmoid\)\|4×Glorot\|"
            rf"\$16\\cdot\\dfrac\{{2\}}\{{{FI}\+{FO}\}}\$\|\$4\\sqrt\{{\\dfrac\{{6\}}\{{{FI}\+{FO}\}}\}}\$\|",
        ),
        (
            "| ReLU | He | √(6 / fan_in)",
            rf"\|ReLU\|He\|\$\\dfrac\{{2\}}\{{{FI}\}}\$\|\$\\sqrt\{{\\dfrac\{{6\}}\{{{FI}\}}\}}\$\|",
        ),
        (
            "| SELU | LeCun | √(3 / fan_in)",
            rf"\|SELU\|LeCun\|\$\\dfrac\{{1\}}\{{{FI}\}}\$\|\$\\sqrt\{{\\dfrac\{{3\}}\{{{FI}\}}\}}\$\|",
        ),
    ],
    "03": [
        ("ReLU(z) = max(0, z)", r"\\operatorname\{ReLU\}\(z\)=\\max\(0,z\)"),
        ("LeakyReLU_α(z) = max(αz, z)", r"\\operatorname\{LeakyReLU\}_\\alpha\(z\)=\\max\(\\alphaz,z\)"),
        ("ELU_α(z) = α(exp(z) − 1)", r"\\operatorname\{ELU\}_\\alpha\(z\)=\\alpha\(e\^z-1\)"),
        (
            "SELU(z) = λ·(α(exp(z) − 1) if z < 0",
            r"\\operatorname\{SELU\}\(z\)=\\lambda\\begin\{cases\}\\alpha\(e\^z-1\)"
            r"&\\text\{if\}z<0,?\\\\z&\\text\{if\}z\\ge0,?\\end\{cases\}",
        ),
        ("SELU = λ·ELU_α", r"\\operatorname\{SELU\}=\\lambda\\operatorname\{ELU\}_\\alpha"),
        ("| GELU | z·Φ(z)", r"\|GELU\|\$z\\Phi\(z\)\$\|"),
        ("| SiLU (Swish) | z·σ(z)", r"\|SiLU\(Swish\)\|\$z\\sigma\(z\)\$\|"),
    ],
    "04": [
        ("σ²_B = (1/m) Σ (x − μ_B)²", r"\\sigma_B\^2=\\frac\{1\}\{m\}\\sum_\{i=1\}\^\{m\}\(x_i-\\mu_B\)\^2"),
        ("x̂ = (x − μ_B) / √(σ²_B + ε)", r"\\hat\{x\}_i=\\frac\{x_i-\\mu_B\}\{\\sqrt\{\\sigma_B\^2\+\\varepsilon\}\}"),
        ("y = γ · x̂ + β", r"y_i=\\gamma\\hat\{x\}_i\+\\beta"),
        (
            "∂loss/∂γ = Σ dy · x̂",
            r"\\frac\{\\partial\\text\{loss\}\}\{\\partial\\gamma\}=\\sum_\{i=1\}\^\{m\}dy_i\\hat\{x\}_i",
        ),
        ("∂loss/∂β = Σ dy", r"\\frac\{\\partial\\text\{loss\}\}\{\\partial\\beta\}=\\sum_\{i=1\}\^\{m\}dy_i"),
        (
            "∂loss/∂x = γ / √(σ²_B + ε)",
            r"\\frac\{\\partial\\text\{loss\}\}\{\\partialx_i\}=\\frac\{\\gamma\}"
            r"\{\\sqrt\{\\sigma_B\^2\+\\varepsilon\}\}\(dy_i-\\frac\{1\}\{m\}\\sum_\{j=1\}\^\{m\}dy_j-\\hat\{x\}_i"
            r"\\frac\{1\}\{m\}\\sum_\{j=1\}\^\{m\}dy_j\\hat\{x\}_j\)",
        ),
        (
            "moving = momentum · moving + (1 − momentum)",
            r"\\text\{moving\}\\leftarrow\\text\{momentum\}\\cdot\\text\{moving\}\+\(1-\\text\{momentum\}\)",
        ),
    ],
    "05": [
        ("Wᵀ·diag(tanh'(a_t))", tex(r"W^\top \operatorname{diag}(\tanh'(a_t))")),  # one step back through an RNN
        ("min(max(g, −c), c)", tex(r"\tilde g_{k,i} = \min(\max(g_{k,i}, -c), c)")),
        ("g · c / max(‖g‖, c)", tex(r"\tilde g_k = g_k \cdot \frac{c}{\max(\|g_k\|, c)}")),
        ("N = √(Σ ‖g_k‖²)", tex(r"N = \sqrt{\sum_k \|g_k\|^2}")),
        ("g · c / max(N, c)", tex(r"\tilde g_k = g_k \cdot \frac{c}{\max(N, c)}")),
    ],
    "06": [
        ("x_ij = Σ_a Σ_b B", tex(r"x_{ij} = \sum_{a=0}^{3}\sum_{b=0}^{3} B_{4i+a, 4j+b}")),  # optdigits' 4x4 blocks
        ("Δ_s = 100 (acc", tex(r"\Delta_s = 100 (\text{acc}_s^{\text{method}} - \text{acc}_s^{\text{scratch}})")),
        ("PR = (Σ λ)² / Σ λ²", tex(r"\text{PR} = \frac{(\sum_k \lambda_k)^2}{\sum_k \lambda_k^2}")),
    ],
    "07": [
        ("s_ij = z_iᵀ z_j / (‖z_i‖ ‖z_j‖)", tex(r"s_{ij} = z_i^\top z_j / (\lVert z_i\rVert \lVert z_j\rVert)")),
        ("ℓ_i = −log", tex(r"\ell_i = -\log \frac{\exp(s_{i p(i)}/\tau)}{\sum_{k \neq i} \exp(s_{ik}/\tau)}")),
        ("(1/64) Σ (x̂_j − x_j)²", tex(r"\frac{1}{64}\sum_{j=1}^{64} (\hat{x}_j - x_j)^2")),
    ],
    "08": [
        ("std(W)·√fan_in", tex(r"\operatorname{std}(W)\sqrt{n_\text{in}}")),
        ("std(ΔW) / std(W)", tex(r"r = \frac{\operatorname{std}(\Delta W)}{\operatorname{std}(W)}")),
        (
            "max_t ‖g_t‖ / median_t ‖g_t‖",
            tex(r"\frac{\max_t \lVert g_t \rVert}{\operatorname{median}_t \lVert g_t \rVert}"),
        ),
    ],
}


def test_every_chapter_has_a_list_of_key_formulas():
    assert sorted(KEY_FORMULAS) == [p.name[:2] for p in CHAPTERS if p.name[:2] != "00"]


@pytest.mark.parametrize("number", sorted(KEY_FORMULAS))
def test_chapter_states_its_key_formulas_in_latex(number):
    chapter = next(p for p in CHAPTERS if p.name.startswith(number))
    text = _compact(markdown(read(chapter)))
    missing = [plain for plain, latex in KEY_FORMULAS[number] if not re.search(latex, text)]
    assert not missing, f"{chapter.name}: these formulas are not stated in LaTeX ($...$ or $$...$$): {missing}"


@pytest.mark.parametrize(
    "path",
    [p for p in ALL_NOTEBOOKS if p.name[:2] in KEY_FORMULAS],
    ids=ids([p for p in ALL_NOTEBOOKS if p.name[:2] in KEY_FORMULAS]),
)
def test_no_plain_text_formula_left(path):
    cells = [_compact(c.source) for c in read(path).cells if c.cell_type == "markdown"]
    left = [plain for plain, _ in KEY_FORMULAS[path.name[:2]] if any(_compact(plain) in cell for cell in cells)]
    assert not left, f"{path.parent.name}/{path.name}: plain-text formulas to typeset in LaTeX: {left}"


def test_the_formula_checks_catch_a_plain_text_formula():
    uniform = dict(KEY_FORMULAS["02"])["r = σ√3"]
    normalize = dict(KEY_FORMULAS["04"])["x̂ = (x − μ_B) / √(σ²_B + ε)"]
    plain = _compact("Uniform vs normal: r = σ√3, and x̂ = (x − μ_B) / √(σ²_B + ε).")
    assert not re.search(uniform, plain) and not re.search(normalize, plain)
    assert _compact("r = σ√3") in plain and _compact("x̂ = (x − μ_B) / √(σ²_B + ε)") in plain
    latex = r"the limit $$r = \sigma\,\sqrt{3}.$$ and $\hat{x}_i = \frac{x_i - \mu_B}{\sqrt{\sigma_B^2 + \varepsilon}}$"
    assert re.search(uniform, _compact(latex)) and re.search(normalize, _compact(latex))

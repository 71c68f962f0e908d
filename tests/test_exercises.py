"""The exercise generator (tools/make_exercises.py) and the exercise notebooks it writes.

Covers: placeholders, the round trip solution -> exercise, ``--check`` drift detection, learners' edits kept
in backups, idempotence, and every untouched exercise notebook running top to bottom without an error.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools import make_exercises as mx
from tools.notebooks import ROOT

EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))

# ------------------------------------------------------------------------------------------------------------
# Placeholders
# ------------------------------------------------------------------------------------------------------------

FUNCTION = """def f(x):
    \"\"\"Doc.\"\"\"
    ### BEGIN SOLUTION
    y = x + 1
    return y
    ### END SOLUTION
"""


B, E, TODO = "### BEGIN SOLUTION\n", "### END SOLUTION", "  # your code here"
PLACEHOLDER_CASES = {
    "function": (FUNCTION, 'def f(x):\n    """Doc."""\n    ...\n'),
    "method": (
        "class A:\n    def f(self):\n        " + B + "        return 1\n        " + E,
        "class A:\n    def f(self):\n        ...",
    ),
    "top-level": (
        "x = 1\n" + B + "answer = x * 2\n" + E + "\nprint(x)",
        f"x = 1\nanswer = None{TODO}\nprint(x)",
    ),
    "targets": (
        B + "a, (b, *c) = 1, (2, 3, 4)\nd = e = 0\nf: int = 5\na = 7\n" + E,
        "\n".join(f"{name} = None{TODO}" for name in "abcdef"),
    ),
    "nested": (
        B + "total = 0\nfor i in range(3):\n    inner = i\n    total += i\n" + E,
        f"total = None{TODO}",
    ),
    "def": (B + "def helper():\n    return 1\n" + E, f"helper = None{TODO}"),
    "fallback": (B + "print('hi')\nd['k'] = 1\n" + E, "# your code here\n..."),
    "magic": (B + "%timeit f()\n" + E, "# your code here\n..."),
    "spaces": ("keep = 1\n### BEGIN SOLUTION   \nx = 2\n\t### END SOLUTION\t", f"keep = 1\nx = None{TODO}"),
    "two": (B + "a = 1\n" + E + "\nb = a\n" + B + "c = b\n" + E, f"a = None{TODO}\nb = a\nc = None{TODO}"),
    "none": ("text\n  # ### BEGIN SOLUTION: not a marker", "text\n  # ### BEGIN SOLUTION: not a marker"),
}


@pytest.mark.parametrize(("source", "expected"), PLACEHOLDER_CASES.values(), ids=PLACEHOLDER_CASES.keys())
def test_placeholders(source, expected):
    assert mx.strip_solutions(source) == expected


def test_placeholders_keep_the_code_runnable():
    code = mx.strip_solutions(FUNCTION + "\nvalue = f(1)\n")
    namespace = {}
    exec(compile(code, "<exercise>", "exec"), namespace)  # noqa: S102 (our own fixture)
    assert namespace["value"] is None  # the function body became `...`: it returns None


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "without '### END SOLUTION'"),
        ("x = 1\n### END SOLUTION\n", "line 2: '### END SOLUTION' without"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "line 2: '### BEGIN SOLUTION' inside"),
    ],
)
def test_unbalanced_markers_are_reported(source, words):
    with pytest.raises(mx.MarkerError, match="cell c7"):
        mx.strip_solutions(source, "nb.ipynb, cell c7")
    with pytest.raises(mx.MarkerError) as error:
        mx.strip_solutions(source)
    assert words in str(error.value)


# ------------------------------------------------------------------------------------------------------------
# A small course folder to run the generator on
# ------------------------------------------------------------------------------------------------------------


def _solution_notebook(answer: str = "42", note: str = "The solutions notebook.") -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    cells = [
        nbformat.v4.new_markdown_cell(f"# 99 · Demo (solutions)\n\n{note}"),
        nbformat.v4.new_code_cell("from utils.course import setup\n\nsetup()"),
        nbformat.v4.new_code_cell(f"def f(x):\n    {B}    return x + {answer}\n    {E}"),
        nbformat.v4.new_code_cell(f"### BEGIN SOLUTION\nanswer = {answer}\n### END SOLUTION"),
        nbformat.v4.new_markdown_cell("## Exercise 1: (solutions) stays here"),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"c{i:03d}"
        if cell.cell_type == "code":
            cell.execution_count = i
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="out\n")]
            cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    cells[3].metadata["tags"] = ["nbval-ignore-output"]
    nb.cells = cells
    return nb


@pytest.fixture
def course(tmp_path):
    """A course folder with one solution notebook and exercises generated from it."""
    (tmp_path / "solutions").mkdir()
    nbformat.write(_solution_notebook(), tmp_path / "solutions" / "99_demo.ipynb")
    mx.generate(tmp_path, stamp="20260101-000000")
    return tmp_path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_round_trip(course):
    exercise = json.loads((course / "exercises" / "99_demo.ipynb").read_text(encoding="utf-8"))
    solution = json.loads((course / "solutions" / "99_demo.ipynb").read_text(encoding="utf-8"))
    assert [c["id"] for c in exercise["cells"]] == [c["id"] for c in solution["cells"]]
    assert "widgets" not in exercise["metadata"]
    assert exercise["metadata"]["kernelspec"] == solution["metadata"]["kernelspec"]
    for cell in exercise["cells"]:
        assert "execution" not in cell["metadata"]
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    sources = ["".join(c["source"]) for c in exercise["cells"]]
    assert sources[0] == "# 99 · Demo (exercises)\n\nThe solutions notebook."  # the title line only
    assert sources[1] == "from utils.course import setup\n\nsetup()"
    assert sources[2] == "def f(x):\n    ..."
    assert sources[3] == "answer = None  # your code here"
    assert sources[4] == "## Exercise 1: (solutions) stays here"
    assert exercise["cells"][3]["metadata"]["tags"] == ["nbval-ignore-output"]
    nbformat.validate(nbformat.reads(json.dumps(exercise), as_version=4))


def test_generating_twice_changes_nothing(course, capsys):
    before = _snapshot(course)
    capsys.readouterr()
    assert mx.main(["--root", str(course)]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert _snapshot(course) == before
    assert not (course / "exercises" / ".backup").exists()


def test_check_passes_when_in_step_and_writes_nothing(course, capsys):
    before = _snapshot(course)
    assert mx.main(["--check", "--root", str(course)]) == 0
    assert "in step" in capsys.readouterr().out
    assert _snapshot(course) == before


def test_check_names_a_stale_exercise(course, capsys):
    nbformat.write(_solution_notebook(note="Changed."), course / "solutions" / "99_demo.ipynb")
    before = _snapshot(course)
    assert mx.main(["--check", "--root", str(course)]) == 1
    out = capsys.readouterr().out
    assert "exercises/99_demo.ipynb: out of step with solutions/99_demo.ipynb" in out
    assert "make exercises" in out
    assert _snapshot(course) == before  # --check never writes


def test_check_names_missing_extra_and_edited_files(course, capsys):
    (course / "exercises" / "99_demo.ipynb").write_text("{}", encoding="utf-8")
    shutil.copy(course / "solutions" / "99_demo.ipynb", course / "solutions" / "98_new.ipynb")
    (course / "exercises" / "97_orphan.ipynb").write_text("{}", encoding="utf-8")
    assert mx.main(["--check", "--root", str(course)]) == 1
    out = capsys.readouterr().out
    assert "exercises/98_new.ipynb: missing" in out
    assert "exercises/99_demo.ipynb: edited since it was generated" in out
    assert "exercises/97_orphan.ipynb: no solutions/97_orphan.ipynb" in out
    assert "exercises/.generated.json: out of step" in out


def test_check_from_the_command_line_fails_on_drift(course):
    nbformat.write(_solution_notebook(note="Changed."), course / "solutions" / "99_demo.ipynb")
    script = ROOT / "tools" / "make_exercises.py"
    command = [sys.executable, str(script), "--check", "--root", str(course)]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    assert run.returncode == 1
    assert "99_demo.ipynb" in run.stdout


def test_a_change_inside_a_solution_region_changes_no_exercise(course):
    nbformat.write(_solution_notebook(answer="43"), course / "solutions" / "99_demo.ipynb")
    assert mx.problems(course) == []


def test_a_changed_solution_replaces_an_untouched_exercise_without_backup(course):
    nbformat.write(_solution_notebook(note="Changed."), course / "solutions" / "99_demo.ipynb")
    done = mx.generate(course, stamp="20260101-000001")
    assert done == ["wrote exercises/99_demo.ipynb", "wrote exercises/.generated.json"]
    assert not (course / "exercises" / ".backup").exists()
    assert mx.problems(course) == []


@pytest.mark.parametrize("solution_changed", [False, True])
def test_a_learners_edits_are_backed_up(course, solution_changed):
    exercise = course / "exercises" / "99_demo.ipynb"
    edited = exercise.read_text(encoding="utf-8").replace("answer = None", "answer = 41")
    exercise.write_text(edited, encoding="utf-8")
    if solution_changed:
        nbformat.write(_solution_notebook(note="Changed."), course / "solutions" / "99_demo.ipynb")
    done = mx.generate(course, stamp="20260101-000002")
    backup = course / "exercises" / ".backup" / "99_demo.20260101-000002.ipynb"
    assert backup.read_text(encoding="utf-8") == edited  # nothing lost
    assert f"kept them in {backup.relative_to(course)}" in done[0]
    assert "answer = None" in exercise.read_text(encoding="utf-8")  # a fresh exercise
    assert mx.problems(course) == []


def test_backups_never_overwrite_each_other(course):
    exercise = course / "exercises" / "99_demo.ipynb"
    for attempt in ("first", "second"):
        exercise.write_text(exercise.read_text(encoding="utf-8").replace("setup()", f"setup()  # {attempt}"))
        mx.generate(course, stamp="20260101-000003")
    backups = sorted((course / "exercises" / ".backup").iterdir())
    assert [p.name for p in backups] == ["99_demo.20260101-000003-1.ipynb", "99_demo.20260101-000003.ipynb"]
    assert "# second" in backups[0].read_text(encoding="utf-8")
    assert "# first" in backups[1].read_text(encoding="utf-8")


def test_the_command_prints_where_the_backup_is(course, capsys):
    exercise = course / "exercises" / "99_demo.ipynb"
    exercise.write_text(exercise.read_text(encoding="utf-8").replace("answer = None", "answer = 1"))
    assert mx.main(["--root", str(course)]) == 0
    out = capsys.readouterr().out
    assert "exercises/99_demo.ipynb had changes: kept them in exercises/.backup/99_demo." in out


def test_without_a_record_a_different_exercise_counts_as_edited(course):
    (course / "exercises" / ".generated.json").unlink()
    mx.generate(course, stamp="20260101-000004")  # identical file: nothing to keep
    assert not (course / "exercises" / ".backup").exists()
    (course / "exercises" / ".generated.json").unlink()
    nbformat.write(_solution_notebook(note="Changed."), course / "solutions" / "99_demo.ipynb")
    mx.generate(course, stamp="20260101-000005")  # no record: keep the old file, to be safe
    assert (course / "exercises" / ".backup" / "99_demo.20260101-000005.ipynb").exists()


def test_windows_line_endings_do_not_count_as_edits(course):
    exercise = course / "exercises" / "99_demo.ipynb"
    exercise.write_bytes(exercise.read_bytes().replace(b"\n", b"\r\n"))
    assert mx.problems(course) == []
    assert mx.generate(course) == []


def test_orphaned_exercises(course):
    exercises = course / "exercises"
    (course / "solutions" / "99_demo.ipynb").rename(course / "solutions" / "98_renamed.ipynb")
    (exercises / "50_my_notes.ipynb").write_text("{}", encoding="utf-8")  # a learner's own notebook
    done = mx.generate(course, stamp="20260101-000006")
    assert "removed exercises/99_demo.ipynb: its solution notebook is gone" in done
    assert (exercises / "98_renamed.ipynb").exists()
    assert (exercises / "50_my_notes.ipynb").read_text(encoding="utf-8") == "{}"  # left alone


def test_an_edited_orphan_is_moved_to_the_backups(course):
    exercise = course / "exercises" / "99_demo.ipynb"
    exercise.write_text(exercise.read_text(encoding="utf-8").replace("answer = None", "answer = 1"))
    (course / "solutions" / "99_demo.ipynb").unlink()
    mx.generate(course, stamp="20260101-000007")
    assert not exercise.exists()
    assert "answer = 1" in (course / "exercises" / ".backup" / "99_demo.20260101-000007.ipynb").read_text()


def test_marker_errors_fail_the_command_with_the_cell(tmp_path, capsys):
    (tmp_path / "solutions").mkdir()
    nb = _solution_notebook()
    nb.cells[3].source = "### BEGIN SOLUTION\nanswer = 1"
    nbformat.write(nb, tmp_path / "solutions" / "99_demo.ipynb")
    assert mx.main(["--root", str(tmp_path)]) == 2
    assert "99_demo.ipynb, cell c003" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------------------
# The solution texts that q.solution() prints: generated, per exercise, never kept by hand
# ------------------------------------------------------------------------------------------------------------


def test_each_region_goes_to_the_next_check_under_its_def_line():
    cells = [
        f'def f(x):\n    """Add one."""\n    {B}    return x + 1  # why\n    {E}',
        "ch99.q1.check(f)",
        f"{B}a = 1\n{E}\n\n\ndef g():\n    {B}    return a\n    {E}\n\nch99.q2.check(a, g)",
        f"{B}b = 2\n{E}\nch98.q3.check(b)",  # another chapter's check takes nothing: b waits for ch99's next
    ]
    nb = {"cells": [{"cell_type": "code", "source": source} for source in cells]}
    assert mx.solution_texts(nb, "ch99") == {
        "ch99.q1": "def f(x):\n    return x + 1  # why",
        "ch99.q2": "a = 1\n\n\ndef g():\n    return a",
    }


def test_the_solutions_file_is_written_and_guarded(course):
    (course / mx.SOLUTIONS_FILE).parent.mkdir(parents=True)
    assert mx.problems(course) == [f"{mx.SOLUTIONS_FILE.as_posix()}: out of step with solutions/"]
    assert f"wrote {mx.SOLUTIONS_FILE.as_posix()}" in mx.generate(course)
    assert mx.problems(course) == [] and mx.generate(course) == []


# ------------------------------------------------------------------------------------------------------------
# The course's own exercises
# ------------------------------------------------------------------------------------------------------------


def test_exercises_are_in_step_with_solutions():
    script = ROOT / "tools" / "make_exercises.py"
    run = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_regenerating_the_course_changes_nothing(tmp_path):
    for folder in ("solutions", "exercises"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns(".backup"))
    (tmp_path / mx.SOLUTIONS_FILE).parent.mkdir(parents=True)
    shutil.copy(ROOT / mx.SOLUTIONS_FILE, tmp_path / mx.SOLUTIONS_FILE)
    before = _snapshot(tmp_path)
    assert mx.generate(tmp_path) == []
    assert _snapshot(tmp_path) == before


def test_backups_are_ignored_by_git():
    assert "exercises/.backup/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("path", EXERCISES, ids=[p.name for p in EXERCISES])
def test_exercise_notebooks_hold_no_solution_and_parse(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "### BEGIN SOLUTION" not in cell.source and "### END SOLUTION" not in cell.source
            assert not cell.outputs and cell.execution_count is None
            if not cell.source.lstrip().startswith(("%", "!")):
                ast.parse(cell.source)
    assert "(exercises)" in nb.cells[0].source.splitlines()[0]


@pytest.mark.parametrize("path", EXERCISES, ids=[p.name for p in EXERCISES])
def test_untouched_exercise_notebooks_run_without_errors(path):
    from tools import executor

    nb = nbformat.read(path, as_version=4)
    executor.execute(nb, path.parent, timeout=300)  # run in exercises/, as JupyterLab does
    problems = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {cell.id}: {output.ename}: {output.evalue}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"cell {cell.id} wrote to stderr: {output.text[:300]}")
    assert not problems, "\n".join(problems)
    checks = [c for c in nb.cells if c.cell_type == "code" and ".check(" in c.source]
    for cell in checks:
        printed = "".join(o.get("text", "") for o in cell.outputs)
        assert "Not answered yet" in printed or "Not yet" in printed, (cell.id, printed)

"""The static HTML edition (`make site`, tools/build_site.py): built offline, complete, and clean in a browser.

The site is built once for the test session, as `make site` builds it, into a temporary folder. Then: every notebook
of the course has a page and the index lists the chapters in course order; every internal link, anchor and
image resolves and nothing is loaded from the network; every figure of a notebook is on its page; an explorer's
widget is shown as its default figure wherever the chapter saves one; no solution code is on a chapter's or an
exercise's page; formulas ($...$, $$...$$) are typeset as MathML at build time; and headless Chromium (Debian's,
as tests/test_browser.py drives it) renders the index and a chapter without a console error, and, with the network
off, draws every chapter's formulas: none left as raw LaTeX, each with a size, fractions stacked (screenshots in
outputs/screenshots/).
"""

from __future__ import annotations

import base64
import fcntl
import html
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

from tests.support.browser import launch_chromium
from tests.support.notebooks import CHAPTERS, EXERCISES, ROOT, SOLUTIONS, ids, read
from tools import build_site
from tools.make_exercises import BEGIN, END  # the solution markers, as the generator reads them
from tools.notebooks import WIDGET, title_line

PAGES = CHAPTERS + EXERCISES + SOLUTIONS


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The site, built once per test session by the same command as `make site`, into a temporary folder.

    Under pytest-xdist the workers share one build (a lock file in the session's common temporary folder): pytest 9
    ignores xdist_group, so this module's tests are spread over the workers.
    """
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # .../pytest-N: this session's
    out = shared / "course-site"
    with open(shared / "course-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        done = out / ".built"
        if not done.exists():
            result = subprocess.run(
                [sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", str(out)],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=ROOT,
            )
            assert result.returncode == 0, f"`make site` failed:\n{result.stdout}\n{result.stderr}"
            done.touch()
    return out


def page_of(site: Path, notebook: Path) -> Path:
    return site / notebook.parent.name / f"{notebook.stem}.html"


class Page(HTMLParser):
    """What a page links to, what it loads, its ids, and its text (the way a reader sees it)."""

    def __init__(self, path: Path):
        super().__init__(convert_charrefs=True)
        self.links, self.loads, self.ids, self.text, self._skip = [], [], set(), [], 0
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        if tag == "a" and attrs.get("href") is not None:
            self.links.append(attrs["href"])
        for key in ("src", "srcset", "data-src") if tag in ("img", "script", "iframe", "source", "video") else ():
            if attrs.get(key):
                self.loads.append((tag, attrs[key]))
        if tag == "link" and attrs.get("href"):
            self.loads.append((tag, attrs["href"]))
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)

    @property
    def visible_text(self) -> str:
        return "".join(self.text)


# ------------------------------------------------------------------------------------------------------------
# Pages, index, navigation
# ------------------------------------------------------------------------------------------------------------


def test_every_notebook_has_a_page_and_the_index_lists_the_chapters_in_order(site):
    missing = [p.relative_to(ROOT).as_posix() for p in PAGES if not page_of(site, p).exists()]
    assert not missing, f"no page for {missing}"
    index = Page(site / "index.html")
    chapters = [link for link in index.links if link.startswith("chapters/")]
    assert chapters == [f"chapters/{p.stem}.html" for p in CHAPTERS], "the index must list chapters/ in course order"
    for path in SOLUTIONS + EXERCISES:
        assert f"{path.parent.name}/{path.stem}.html" in index.links


@pytest.mark.parametrize("notebook", PAGES, ids=ids(PAGES))
def test_each_page_links_home_and_to_its_neighbours(site, notebook):
    page = Page(page_of(site, notebook))
    assert "../index.html" in page.links, "no link back to the index"
    siblings = sorted(notebook.parent.glob("[0-9][0-9]_*.ipynb"))
    position = siblings.index(notebook)
    if position > 0:
        assert f"{siblings[position - 1].stem}.html" in page.links, "no link to the previous notebook"
    if position + 1 < len(siblings):
        assert f"{siblings[position + 1].stem}.html" in page.links, "no link to the next notebook"
    title = title_line(read(notebook))
    assert title in page.visible_text


# ------------------------------------------------------------------------------------------------------------
# Links and images resolve, offline
# ------------------------------------------------------------------------------------------------------------


def _all_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_internal_link_and_anchor_resolves(site):
    broken = []
    parsed = {path: Page(path) for path in _all_pages(site)}
    for path, page in parsed.items():
        for link in page.links:
            if re.match(r"^[a-z][a-z0-9+.-]*:", link, re.I):
                continue  # https:, mailto: ... (outside the site, not loaded by the page)
            target, _, fragment = link.partition("#")
            target = unquote(target)
            resolved = (path.parent / target).resolve() if target else path
            rel = path.relative_to(site).as_posix()
            if not resolved.exists() or site.resolve() not in (resolved, *resolved.parents):
                broken.append(f"{rel}: {link} (no such file in the site)")
            elif fragment and resolved.suffix == ".html":
                ids = parsed[resolved].ids if resolved in parsed else Page(resolved).ids
                if fragment not in ids and unquote(fragment) not in ids:  # as browsers look it up
                    broken.append(f"{rel}: {link} (no id {fragment!r} on that page)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_image_resolves_and_nothing_comes_from_the_network(site):
    problems = []
    for path in _all_pages(site):
        rel = path.relative_to(site).as_posix()
        for tag, src in Page(path).loads:
            if re.match(r"^(https?:)?//", src):
                problems.append(f"{rel}: <{tag}> loads {src} from the network")
            elif src.startswith("data:"):
                kind, _, payload = src.partition(",")
                if kind.startswith("data:image/png;base64"):
                    if not base64.b64decode(payload).startswith(b"\x89PNG\r\n\x1a\n"):
                        problems.append(f"{rel}: <{tag}> has a data: PNG that is not a PNG")
            elif not (path.parent / unquote(src)).exists():
                problems.append(f"{rel}: <{tag}> {src} does not exist")
    assert not problems, "\n".join(problems)


def _pngs(nb) -> list[str]:
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            png = output.get("data", {}).get("image/png")
            if png:
                found.append("".join(png).strip() if isinstance(png, list) else png.strip())
    return found


@pytest.mark.parametrize("notebook", CHAPTERS + SOLUTIONS, ids=ids(CHAPTERS + SOLUTIONS))
def test_every_figure_is_on_the_page(site, notebook):
    text = page_of(site, notebook).read_text(encoding="utf-8")
    pngs = _pngs(read(notebook))
    missing = [i for i, png in enumerate(pngs) if png[:2000] not in text]
    assert not missing, f"figures {missing} of {len(pngs)} are not on the page"


def _widget_cells_with_a_figure(nb) -> tuple[int, int]:
    """Count the widget cells, and those followed by a figure before the next widget cell."""
    cells = nb.cells
    widgets = [i for i, c in enumerate(cells) if any(WIDGET in o.get("data", {}) for o in c.get("outputs", []))]
    with_figure = 0
    for n, index in enumerate(widgets):
        stop = widgets[n + 1] if n + 1 < len(widgets) else len(cells)
        if any(_pngs(nbformat.v4.new_notebook(cells=[c])) for c in cells[index + 1 : stop]):
            with_figure += 1
    return len(widgets), with_figure


@pytest.mark.parametrize("notebook", CHAPTERS + SOLUTIONS, ids=ids(CHAPTERS + SOLUTIONS))
def test_widgets_show_their_default_figure(site, notebook):
    widgets, with_figure = _widget_cells_with_a_figure(read(notebook))
    text = Page(page_of(site, notebook)).visible_text
    notes = text.count("Interactive widget")
    assert notes == widgets - with_figure, (
        f"{notes} 'Interactive widget' notes on the page, but only {widgets - with_figure} of the {widgets} widget "
        "cells have no static figure after them"
    )
    assert text.count("An interactive explorer: in JupyterLab") == with_figure


# ------------------------------------------------------------------------------------------------------------
# No solution code where a learner reads the tasks
# ------------------------------------------------------------------------------------------------------------


def _code_lines(notebook: Path) -> tuple[set[str], set[str]]:
    """The stripped code lines of a notebook: (inside ### BEGIN/END SOLUTION regions, outside them)."""
    inside_lines, outside_lines, inside = set(), set(), False
    for cell in read(notebook).cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if BEGIN.match(line):
                inside = True
            elif END.match(line):
                inside = False
            else:
                (inside_lines if inside else outside_lines).add(line.strip())
    return inside_lines, outside_lines


def _solution_lines(solution: Path) -> list[str]:
    """Distinctive solution code: lines only inside the solution regions, not taught in the chapter itself."""
    inside, outside = _code_lines(solution)
    chapter = ROOT / "chapters" / solution.name
    taught = chapter.read_text(encoding="utf-8") if chapter.exists() else ""  # its code, prose and outputs
    return sorted(
        line
        for line in inside - outside
        if len(line) >= 12 and not line.startswith("#") and json.dumps(line)[1:-1] not in taught
    )


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids(SOLUTIONS))
def test_no_solution_code_on_chapter_or_exercise_pages(site, solution):
    lines = _solution_lines(solution)
    assert lines, "no distinctive solution lines found: the check below would be vacuous"
    on_solution_page = {line.strip() for line in Page(page_of(site, solution)).visible_text.splitlines()}
    assert any(line in on_solution_page for line in lines), "solution code missing from the solutions page"
    for folder in ("chapters", "exercises"):
        page = site / folder / f"{solution.stem}.html"
        if not page.exists():
            continue
        shown = {
            line.strip() for line in Page(page).visible_text.splitlines()
        }  # whole lines: a docstring may quote one
        leaked = [line for line in lines if line in shown]
        assert not leaked, f"solution code on {folder}/{page.name}: {leaked[:3]}"


# ------------------------------------------------------------------------------------------------------------
# A real browser
# ------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    yield from launch_chromium("the site's browser test")


def _first_explorer_chapter() -> Path:
    for path in CHAPTERS:
        widgets, with_figure = _widget_cells_with_a_figure(read(path))
        if with_figure:
            return path
    return CHAPTERS[0]


IMAGES_OK_JS = "() => [...document.images].filter(img => !(img.complete && img.naturalWidth > 0)).length"


@pytest.mark.parametrize("which", ["index", "chapter"])
def test_chromium_renders_the_page_without_console_errors(site, browser, which):
    from utils.course import output_dir

    path = site / "index.html" if which == "index" else page_of(site, _first_explorer_chapter())
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    try:
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_timeout(300)
        shot = output_dir("screenshots") / f"site_{which}.png"
        page.screenshot(path=str(shot), full_page=which == "index")
        broken_images = page.evaluate(IMAGES_OK_JS)
        heading = page.locator("h1").first.inner_text()
    finally:
        page.close()
    assert not problems, f"{path.name} in Chromium:\n" + "\n".join(problems)
    assert broken_images == 0, f"{broken_images} images did not load"
    assert heading.strip(), "no visible heading"
    assert html.unescape(heading)


# ------------------------------------------------------------------------------------------------------------
# Formulas: typeset at build time as MathML, drawn by the browser, offline
# ------------------------------------------------------------------------------------------------------------


def _formulas(notebook: Path) -> list[str]:
    """The LaTeX formulas of a notebook's markdown cells, as the builder finds them."""
    formulas = build_site.Formulas()
    for cell in read(notebook).cells:
        if cell.cell_type == "markdown":
            formulas.protect(cell.source)
    return [tex for tex, _ in formulas.formulas]


WITH_FORMULAS = [path for path in CHAPTERS + SOLUTIONS if _formulas(path)]


def test_the_formula_finder_leaves_code_currency_and_escapes_alone():
    formulas = build_site.Formulas()
    text = (
        "It costs $5 and $10, or US$3; `x = $a$` and an escaped \\$ stay. Inline $x_i^2$, display\n\n"
        "$$\\frac{1}{m} \\sum_{i=1}^{m} x_i$$\n\n```python\nprice = '$2$'\n```\nand $a$-$b$."
    )
    protected = formulas.protect(text)
    assert [tex for tex, _ in formulas.formulas] == ["x_i^2", "\\frac{1}{m} \\sum_{i=1}^{m} x_i", "a", "b"]
    for kept in ("$5 and $10, or US$3", "`x = $a$`", "\\$ stay", "price = '$2$'"):
        assert kept in protected
    restored = formulas.restore(protected)
    assert restored.count("<math") == 4 and restored.count('display="block"') == 1 and "COURSEMATH" not in restored
    assert "<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>" in restored
    # In an attribute (a heading's anchor), a formula becomes words; an operator name is set upright as a name.
    heading = build_site.Formulas()
    html_heading = heading.protect("<h2 id='the-$\\operatorname{Var}(W)$'>$\\operatorname{Var}(W)$</h2>")
    restored = heading.restore(html_heading.replace("'", '"'))
    assert restored.startswith('<h2 id="the-operatorname-Var-W">') and "<mi>Var</mi>" in restored
    spacing = build_site.Formulas()  # TeX's spacing: a sign after a bracket, a thin space after a function name
    restored = spacing.restore(spacing.protect("$[-c, c]$ and $\\ln 10$"))
    assert '<mo form="prefix">&#x02212;</mo>' in restored and '<mi>ln</mi><mspace width="0.167em" />' in restored
    with pytest.raises(SystemExit, match="cannot typeset"):
        build_site.Formulas().protect("a broken $\\frac{1}{$ formula", "somewhere.ipynb")


def test_the_course_states_formulas_and_every_one_is_typeset_on_its_page(site):
    assert len(WITH_FORMULAS) >= 8, "chapters and solutions 01-04 state their formulas in LaTeX"
    for notebook in WITH_FORMULAS:
        text = page_of(site, notebook).read_text(encoding="utf-8")
        assert "COURSEMATH" not in text, f"{notebook.name}: a formula placeholder was left on the page"
        assert text.count("<math ") >= len(_formulas(notebook)), f"{notebook.name}: formulas missing from the page"
        assert not re.search(r"<script[^>]*(mathjax|katex)", text, re.IGNORECASE), "no MathJax or KaTeX is loaded"


# In the browser: the text of the rendered markdown (code and formulas taken out), and each formula's box.
MATH_JS = """() => {
  let text = '';
  for (const cell of document.querySelectorAll('.jp-RenderedMarkdown')) {
    const copy = cell.cloneNode(true);
    copy.querySelectorAll('code, pre, math').forEach(e => e.remove());
    text += copy.textContent + '\\n';
  }
  const maths = [...document.querySelectorAll('math')];
  const flat = maths.filter(m => { const r = m.getBoundingClientRect(); return !(r.width > 0 && r.height > 0); });
  const fractions = [...document.querySelectorAll('math[display="block"] mfrac')].map(
    f => f.getBoundingClientRect().height / parseFloat(getComputedStyle(f.closest('math')).fontSize));
  return {text, count: maths.length, flat: flat.length, fractions};
}"""


@pytest.mark.parametrize(
    "notebook",
    [p for p in WITH_FORMULAS if p.parent.name == "chapters"],
    ids=ids([p for p in WITH_FORMULAS if p.parent.name == "chapters"]),
)
def test_chromium_draws_the_formulas_offline(site, browser, notebook):
    """No raw $...$ left in the text a reader sees, every formula drawn with a size, fractions stacked."""
    from utils.course import output_dir

    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    try:
        page.goto(page_of(site, notebook).as_uri(), wait_until="load")
        found = page.evaluate(MATH_JS)
        page.locator("math[display='block']").first.scroll_into_view_if_needed()
        page.screenshot(path=str(output_dir("screenshots") / f"site_formulas_{notebook.stem[:2]}.png"))
    finally:
        context.close()
    assert not problems, "\n".join(problems)
    raw = re.findall(r"\$[^$\n]{1,60}\$", found["text"])
    assert not raw, f"formulas left as raw LaTeX in the page: {raw[:5]}"
    assert found["count"] >= len(_formulas(notebook)), "fewer <math> elements than formulas in the notebook"
    assert found["flat"] == 0, f"{found['flat']} of {found['count']} formulas have no size: not laid out"
    # A stacked fraction is taller than a line of text; MathML shown as plain inline text would not be.
    if found["fractions"]:
        assert min(found["fractions"]) > 1.5, f"fractions not stacked: heights {found['fractions']} (em)"


# ------------------------------------------------------------------------------------------------------------
# The builder on a small made-up course: widgets, links to other files, a notebook without a picture
# ------------------------------------------------------------------------------------------------------------

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()


def _widget_output(text: str):
    return nbformat.v4.new_output("execute_result", data={WIDGET: {"model_id": "x"}, "text/plain": text})


def _tiny_course(root: Path) -> None:
    (root / "chapters").mkdir(parents=True)
    (root / "utils").mkdir()
    (root / "utils" / "helper.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    title = "# {n} · Chapter {n}\n\n**Time:** 5 min (teaching) · no exercises"
    first = nbformat.v4.new_notebook()
    explorer = nbformat.v4.new_code_cell("explore()", outputs=[_widget_output("Interactive widget: run it")])
    figure = nbformat.v4.new_code_cell(
        "plot()", outputs=[nbformat.v4.new_output("display_data", data={"image/png": PNG})]
    )
    first.cells = [
        nbformat.v4.new_markdown_cell(
            title.format(n="00") + "\n\nSee [the helper](../utils/helper.py) and [next](01_b.ipynb)."
        ),
        explorer,
        figure,
    ]
    second = nbformat.v4.new_notebook()
    lonely = nbformat.v4.new_code_cell("slider()", outputs=[_widget_output("Interactive widget: run it")])
    second.cells = [nbformat.v4.new_markdown_cell(title.format(n="01")), lonely]
    nbformat.write(first, root / "chapters" / "00_a.ipynb")
    nbformat.write(second, root / "chapters" / "01_b.ipynb")


def test_the_builder_on_a_tiny_course(tmp_path):
    root, out = tmp_path / "course", tmp_path / "site"
    _tiny_course(root)
    pages = build_site.build(root, out)
    assert {p.relative_to(out).as_posix() for p in pages} == {"index.html", "chapters/00_a.html", "chapters/01_b.html"}
    first = (out / "chapters" / "00_a.html").read_text(encoding="utf-8")
    assert first.count(PNG) == 2, "the explorer should show the figure saved after it (and the figure stays)"
    assert "Interactive widget" not in first
    assert 'href="01_b.html"' in first and 'href="../utils/helper.py"' in first
    assert (out / "utils" / "helper.py").read_text(encoding="utf-8").startswith("def f")
    second = (out / "chapters" / "01_b.html").read_text(encoding="utf-8")
    assert "Interactive widget: run it" in second, "without a figure, the widget's text note stays"
    assert re.search(r'<a [^>]*href="00_a.html"[^>]*>← 00', second), "no link to the previous chapter"
    assert not re.search(r'<script[^>]+src="https?:', first + second), "a page loads a script from the network"
    # Building again gives the same pages (a fresh folder each time, nothing left over).
    (out / "stale.html").write_text("old", encoding="utf-8")
    build_site.build(root, out)
    assert not (out / "stale.html").exists()
    assert (out / "chapters" / "00_a.html").read_text(encoding="utf-8") == first
    # A folder it did not write is never emptied.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("a learner's file", encoding="utf-8")
    with pytest.raises(SystemExit):
        build_site.build(root, tmp_path / "mine")
    assert (tmp_path / "mine" / "keep.txt").exists()


def test_the_builder_typesets_markdown_outputs_and_notes_too(tmp_path):
    root, out = tmp_path / "course", tmp_path / "site"
    (root / "chapters").mkdir(parents=True)
    (root / "docs" / "instructors").mkdir(parents=True)
    (root / "docs" / "instructors" / "README.md").write_text(
        "# Notes\n\nThe rule $r = \\sigma\\sqrt{3}$, in `$code$`, costs $5 and $10.\n", encoding="utf-8"
    )
    nb = nbformat.v4.new_notebook()
    table = nbformat.v4.new_output("execute_result", data={"text/markdown": "| a |\n|--|\n| $\\alpha^2$ |"})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 00 · Chapter\n\n**Time:** 5 min\n\n$$\\frac{1}{m} \\sum_i x_i$$ for $5."),
        nbformat.v4.new_code_cell("Markdown(table)", outputs=[table], execution_count=1),
    ]
    nbformat.write(nb, root / "chapters" / "00_a.ipynb")
    build_site.build(root, out)
    page = (out / "chapters" / "00_a.html").read_text(encoding="utf-8")
    assert page.count("<math ") == 2 and 'display="block"' in page and "<msup><mi>α</mi>" in html.unescape(page)
    assert "for $5." in page and "COURSEMATH" not in page
    notes = (out / "instructors" / "README.html").read_text(encoding="utf-8")
    assert notes.count("<math ") == 1 and "$code$" in notes and "costs $5 and $10" in notes

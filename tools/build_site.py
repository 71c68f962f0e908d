"""Build the course's static HTML edition from the notebooks' committed outputs (nbconvert, offline).

Usage: python tools/build_site.py                 (or ``make site``) write outputs/site/
       python tools/build_site.py --out DIR       somewhere else (tests/test_site.py builds into a temporary folder)

Pages mirror the course's folders: ``chapters/NN_x.html``, ``exercises/NN_x.html`` (the tasks, no solution code)
and ``solutions/NN_x.html``, plus ``index.html`` in course order (the NN prefix) and the instructor notes
(``instructors/NN_x.html`` from docs/instructors/). Each page has navigation (index, previous, next, the
chapter's exercises and solutions). Nothing is executed: the pages show the outputs saved in the notebooks.

Offline by design: no page loads anything from the network (no MathJax, RequireJS, Mermaid or widget scripts
from a CDN); figures are embedded in the page. Formulas (LaTeX between ``$...$`` or ``$$...$$`` in markdown cells,
markdown outputs and the instructor notes) are typeset at build time: ``latex2mathml`` turns each into MathML, which
browsers draw themselves (MathML Core: Chromium 109+, Firefox, Safari). A ``$`` inside code, escaped (``\\$``) or used
as currency (``$5 and $10``: a closing ``$`` needs no space before it and no digit after it) stays as it is.
An explorer widget's output, which only a running kernel can show, is replaced by the static figure that the
chapter saves at the explorer's default settings (the first figure after the explorer, before the next one); where
there is none, its text note stays. Links between notebooks point to their pages; links to other course files
(a ``utils/`` module, say) get a copy of that file.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

if not __package__:  # run as `python tools/build_site.py`: import `tools` from the course folder, as `-m` does
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.notebooks import FOLDERS, ROOT, WIDGET, course_notebooks, read, time_line, title_line  # noqa: E402

NOTES = Path("docs") / "instructors"
MARKER = ".course-site"  # in the output folder: a build may empty it
COURSE_TITLE = "Training Deep Neural Networks, hands-on"
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)  # http:, data:, mailto:, //host, #anchor
LINK = re.compile(r'(?P<attr>\bhref)="(?P<target>[^"]*)"')
# Markdown that may hold formulas: code (fenced or inline) is matched first so that a `$` in it is left alone.
MATH = re.compile(
    r"(?P<fence>^[ \t]*(?P<f>`{3,}|~{3,})[^\n]*\n.*?^[ \t]*(?P=f)[ \t]*$)"  # fenced code
    r"|(?P<code>(?P<b>`+).+?(?P=b))"  # inline code
    r"|(?<!\\)\$\$(?P<display>.+?)\$\$"  # display math, may span lines
    r"|(?<![\\$\w])\$(?P<inline>[^\s$](?:[^$\n]*?[^\s$\\])?)\$(?!\d)",  # inline math (not currency)
    re.MULTILINE | re.DOTALL,
)
PLACEHOLDER = re.compile(r"COURSEMATH(\d+)X")
OPERATOR_NAME = re.compile(r"<mo>([A-Za-z]{2,})</mo>")  # latex2mathml's \operatorname{Var}, \max: set as a name
# TeX's spacing where MathML Core's differs: a minus after an opening bracket, a comma or a relation is a sign
# ([-c, c], z = -10); a function name before its argument gets a thin space (\ln 10, \tanh z).
SIGN = re.compile(
    r"(<mo[^>]*>(?:\(|\[|&#x00028;|&#x0005B;|&#x0002C;|&#x0003D;|&#x0003C;|&#x0003E;|&#x02248;)</mo>)<mo>&#x02212;"
)
FUNCTION = re.compile(r"(<mi>[A-Za-z]{2,}</mi>)(?=<m[in][ >])")

CSS = """
.course-nav { display: flex; flex-wrap: wrap; gap: 0.4em 1.2em; align-items: baseline; padding: 0.6em 1em;
  margin: 0 0 1em; border-bottom: 1px solid #ddd; background: #f7f7f7; font: 14px/1.4 system-ui, sans-serif; }
.course-nav a { color: #1565c0; text-decoration: none; } .course-nav a:hover { text-decoration: underline; }
.course-nav .course-home { font-weight: 600; margin-right: auto; }
.course-nav-bottom { border-top: 1px solid #ddd; border-bottom: none; margin: 2em 0 0; }
.course-explorer { margin: 0.2em 0; } .course-explorer img { max-width: 100%; }
.course-explorer figcaption { font: italic 13px/1.4 system-ui, sans-serif; color: #555; }
math { font-family: "STIX Two Math", "Latin Modern Math", "Cambria Math", "DejaVu Math TeX Gyre", math;
  font-size: 1.12em; }
math[display="block"] { margin: 0.6em 0; overflow-x: auto; overflow-y: hidden; }
"""

TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}<style type="text/css">{{ resources.course_css }}</style>{%- endblock extra_css -%}
{%- block body_header -%}
<body class="jp-Notebook" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
{{ resources.course_nav }}
<main>
{%- endblock body_header -%}
{%- block body_footer -%}
</main>
{{ resources.course_nav_bottom }}
</body>
{%- endblock body_footer -%}
"""


@dataclass(frozen=True)
class Page:
    """One notebook of the course and the page made from it."""

    source: Path  # the notebook, relative to the course root
    title: str  # the title cell's first line, without '# '

    @property
    def output(self) -> Path:
        return self.source.with_suffix(".html")

    @property
    def number(self) -> str:
        return self.source.name[:2]


# ------------------------------------------------------------------------------------------------------------
# Notebooks: which, their titles, and their widget outputs
# ------------------------------------------------------------------------------------------------------------


def course_pages(root: Path) -> list[Page]:
    """Return the notebooks that get a page, folder by folder (the chapters lead), each in course order."""
    return [
        Page(path.relative_to(root), title_line(read(path)) or path.stem) for path in course_notebooks(root, FOLDERS)
    ]


def has_widget(cell) -> bool:
    return cell.cell_type == "code" and any(WIDGET in output.get("data", {}) for output in cell.get("outputs", []))


def default_figure(cells: list, index: int) -> str | None:
    """Return the PNG (base64) of the first figure after the widget cell ``cells[index]``, before the next widget."""
    for cell in cells[index + 1 :]:
        if has_widget(cell):
            return None
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            png = output.get("data", {}).get("image/png")
            if png:
                return png if isinstance(png, str) else "".join(png)
    return None


def static_widgets(nb) -> int:
    """Replace each explorer's widget output by its default figure, in place; return how many were replaced."""
    import nbformat

    replaced = 0
    for index, cell in enumerate(nb.cells):
        if not has_widget(cell):
            continue
        png = default_figure(nb.cells, index)
        outputs = []
        for output in cell.outputs:
            data = output.get("data", {})
            if WIDGET not in data:
                outputs.append(output)
            elif png:
                figure = (
                    f'<figure class="course-explorer"><img src="data:image/png;base64,{png.strip()}" '
                    'alt="the explorer at its default settings"><figcaption>An interactive explorer: in JupyterLab '
                    "its controls change this figure. Here, its default settings.</figcaption></figure>"
                )
                outputs.append(nbformat.v4.new_output("display_data", data={"text/html": figure}))
                replaced += 1
            else:  # no picture to show: keep the widget's text note ("Interactive widget: run this cell ...")
                outputs.append(nbformat.v4.new_output("display_data", data={"text/plain": data.get("text/plain", "")}))
        cell.outputs = outputs
    nb.metadata.pop("widgets", None)  # widget state would pull the widget manager from a CDN
    return replaced


class Formulas:
    """Typeset the LaTeX formulas of markdown as MathML: ``protect`` swaps each for a placeholder before the
    markdown is rendered (so that markdown never sees a ``_`` or ``\\`` of the formula), ``restore`` puts the MathML
    into the rendered HTML."""

    def __init__(self):
        self.formulas: list[tuple[str, str]] = []  # (LaTeX, MathML)

    def protect(self, markdown: str, where: str = "") -> str:
        """Return ``markdown`` with every formula replaced by a placeholder (code and currency left alone)."""
        from latex2mathml.converter import convert

        def replace(match: re.Match) -> str:
            if match["fence"] is not None or match["code"] is not None:
                return match[0]
            display = match["display"] is not None
            tex = (match["display"] if display else match["inline"]).strip()
            try:
                mathml = OPERATOR_NAME.sub(r"<mi>\1</mi>", convert(tex, display="block" if display else "inline"))
                mathml = FUNCTION.sub(
                    r'\1<mspace width="0.167em" />', SIGN.sub(r'\1<mo form="prefix">&#x02212;', mathml)
                )
            except Exception as error:  # latex2mathml raises its own exception types, one per kind of error
                raise SystemExit(f"{where}: cannot typeset the formula {tex!r}: {error}") from error
            self.formulas.append((tex, mathml))
            return f"COURSEMATH{len(self.formulas) - 1}X"

        return MATH.sub(replace, markdown)

    def restore(self, text: str) -> str:
        """Return rendered HTML with the placeholders replaced by MathML (by plain words inside attributes)."""

        def in_attribute(match: re.Match) -> str:  # a heading's anchor id and its link: words, no markup
            return PLACEHOLDER.sub(lambda m: re.sub(r"\W+", "-", self.formulas[int(m[1])][0]).strip("-"), match[0])

        text = re.sub(r'\b(?:id|href|title|alt)="[^"]*"', in_attribute, text)
        return PLACEHOLDER.sub(lambda m: self.formulas[int(m[1])][1], text)


def protect_formulas(nb, formulas: Formulas, where: str) -> None:
    """Swap the formulas of the notebook's markdown cells and markdown outputs for placeholders, in place."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = formulas.protect(cell.source, f"{where}, cell {index}")
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text = output.get("data", {}).get("text/markdown")
            if text:
                text = text if isinstance(text, str) else "".join(text)
                output["data"]["text/markdown"] = formulas.protect(text, f"{where}, output of cell {index}")


# ------------------------------------------------------------------------------------------------------------
# Navigation, links, and the pages
# ------------------------------------------------------------------------------------------------------------


def relative(target: Path, start: Path) -> str:
    """Return the URL of ``target`` from the page ``start`` (both relative to the site's root)."""
    return Path(os.path.relpath(target, start.parent)).as_posix()


def navigation(page: Page, pages: list[Page], *, bottom: bool = False) -> str:
    """Return the navigation bar of ``page``: index, previous and next in its folder, its twins in the others."""
    here = page.output
    siblings = [p for p in pages if p.source.parent == page.source.parent]
    index = siblings.index(page)
    links = [f'<a class="course-home" href="{relative(Path("index.html"), here)}">{html.escape(COURSE_TITLE)}</a>']
    if index > 0:
        previous = siblings[index - 1]
        links.append(f'<a rel="prev" href="{relative(previous.output, here)}">← {html.escape(previous.title)}</a>')
    for twin in pages:
        if twin.number == page.number and twin.source.parent != page.source.parent:
            label = twin.source.parent.name.capitalize()
            links.append(f'<a href="{relative(twin.output, here)}">{label} {twin.number}</a>')
    if index + 1 < len(siblings):
        following = siblings[index + 1]
        links.append(f'<a rel="next" href="{relative(following.output, here)}">{html.escape(following.title)} →</a>')
    extra = " course-nav-bottom" if bottom else ""
    return f'<nav class="course-nav{extra}">{" ".join(links)}</nav>'


def rewrite_links(text: str, source: Path, root: Path, out: Path, pages: list[Page]) -> str:
    """Point links to notebooks at their pages, and copy other linked course files into the site."""
    by_source = {p.source.as_posix(): p for p in pages}

    def replace(match: re.Match) -> str:
        target = html.unescape(match["target"])
        if not target or EXTERNAL.match(target) or target.startswith("/"):
            return match[0]
        path, _, fragment = target.partition("#")
        resolved = (root / source.parent / path).resolve()
        try:
            inside = resolved.relative_to(root).as_posix()
        except ValueError:
            return match[0]  # outside the course: left as it is (the site test reports it)
        anchor = f"#{fragment}" if fragment else ""
        if inside in by_source:
            new = relative(by_source[inside].output, source) + anchor
        elif resolved.parent == (root / NOTES).resolve() and resolved.suffix == ".md":
            return match[0]  # another instructor note: notes_pages points it at that note's page
        elif resolved.is_file():
            (out / inside).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(resolved, out / inside)
            new = target
        else:
            return match[0]
        return f'{match["attr"]}="{html.escape(new, quote=True)}"'

    return LINK.sub(replace, text)


def exporter():
    """Return nbconvert's JupyterLab-style HTML exporter, with the course's offline template."""
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="lab",
        template_file="course.html.j2",
        extra_loaders=[DictLoader({"course.html.j2": TEMPLATE})],
        embed_images=True,  # images that markdown cells link to end up inside the page
    )


def notebook_page(page: Page, pages: list[Page], root: Path, out: Path, html_exporter) -> Path:
    """Write one notebook's page; return its path."""
    nb = read(root / page.source)
    static_widgets(nb)
    formulas = Formulas()
    protect_formulas(nb, formulas, page.source.as_posix())
    nb.metadata["title"] = f"{page.title} · {COURSE_TITLE}"
    resources = {
        "metadata": {"name": page.source.stem, "path": str((root / page.source).parent)},
        "course_css": CSS,
        "course_nav": navigation(page, pages),
        "course_nav_bottom": navigation(page, pages, bottom=True),
    }
    body, _ = html_exporter.from_notebook_node(nb, resources=resources)
    body = formulas.restore(body)
    target = out / page.output
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(rewrite_links(body, page.source, root, out, pages), encoding="utf-8")
    return target


def notes_pages(root: Path, out: Path, pages: list[Page]) -> list[tuple[str, Path]]:
    """Write the instructor notes (docs/instructors/*.md) as pages; return (title, page path) for the index."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    written = []
    for path in sorted((root / NOTES).glob("*.md"), key=lambda p: (p.stem != "README", p.name)):  # overview first
        text = path.read_text(encoding="utf-8")
        title = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), path.stem)
        source = NOTES / path.name
        page = Path("instructors") / path.with_suffix(".html").name
        formulas = Formulas()
        text = formulas.protect(text, source.as_posix())
        body = rewrite_links(formulas.restore(markdown2html_mistune(text)), source, root, out, pages)
        # Links were written for the notes' place in the repository; the page lives one folder up in the site.
        body = LINK.sub(partial(_notes_link, source=source, page=page), body)
        home = relative(Path("index.html"), page)
        document = _document(
            title,
            f'<nav class="course-nav"><a class="course-home" href="{home}">'
            f'{html.escape(COURSE_TITLE)}</a></nav><main class="course-text">{body}</main>',
        )
        (out / page).parent.mkdir(parents=True, exist_ok=True)
        (out / page).write_text(document, encoding="utf-8")
        written.append((title, page))
    return written


def _notes_link(match: re.Match, source: Path, page: Path) -> str:
    """Re-base a link written relative to docs/instructors/NAME.md onto instructors/NAME.html."""
    target = html.unescape(match["target"])
    if not target or EXTERNAL.match(target) or target.startswith("/"):
        return match[0]
    path, _, fragment = target.partition("#")
    from_root = Path(os.path.normpath(source.parent / path))
    if from_root.parts and from_root.parts[0] == "..":
        return match[0]
    if from_root.parent == NOTES:  # a link to another note
        from_root = Path("instructors") / from_root.with_suffix(".html").name
    new = relative(from_root, page) + (f"#{fragment}" if fragment else "")
    return f'{match["attr"]}="{html.escape(new, quote=True)}"'


def _document(title: str, body: str) -> str:
    """Return a whole HTML page around ``body``, in the course's plain style."""
    style = CSS + (
        "body { margin: 0; font: 16px/1.55 system-ui, sans-serif; color: #222; }"
        ".course-text { max-width: 60em; margin: 0 auto; padding: 0 1.5em 3em; }"
        ".course-text table { border-collapse: collapse; } .course-text td, .course-text th "
        "{ border-bottom: 1px solid #ddd; padding: 0.35em 0.8em; text-align: left; vertical-align: top; }"
        ".course-text a { color: #1565c0; } .course-text td:nth-child(3) { white-space: nowrap; }"
        ".course-text .anchor-link { visibility: hidden; margin-left: 0.3em; text-decoration: none; }"
        ".course-text :hover > .anchor-link { visibility: visible; }"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        f"<title>{html.escape(title)}</title>\n<style>{style}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def index_page(root: Path, pages: list[Page], notes: list[tuple[str, Path]]) -> str:
    """Return the index: the chapters in course order, with their time, exercises and solutions."""
    rows = []
    for page in (p for p in pages if p.source.parent.name == "chapters"):
        nb = read(root / page.source)
        twins = {
            p.source.parent.name: p for p in pages if p.number == page.number and p.source.parent.name != "chapters"
        }
        name = re.sub(r"^\d\d\s*·\s*", "", page.title)  # the number has its own column
        cells = [f'<td>{page.number}</td><td><a href="{page.output.as_posix()}">{html.escape(name)}</a></td>']
        cells.append(f"<td>{html.escape(time_line(nb).replace('**', ''))}</td>")
        for folder in ("exercises", "solutions"):
            twin = twins.get(folder)
            link = f'<a href="{twin.output.as_posix()}">{folder}</a>' if twin else "–"
            cells.append(f"<td>{link}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    body = [
        f'<nav class="course-nav"><span class="course-home">{html.escape(COURSE_TITLE)}</span></nav>',
        '<main class="course-text">',
        f"<h1>{html.escape(COURSE_TITLE)}</h1>",
        "<p>Why deep networks fail to train, and how to fix it: the course's notebooks with the outputs of their "
        "last run. To run them, move the explorers' sliders and check your exercises, open them in JupyterLab "
        "(see the README: <code>make lab</code>).</p>",
        "<h2>Chapters</h2>",
        "<table><thead><tr><th>#</th><th>chapter</th><th>time</th><th></th><th></th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]
    if notes:
        body += ["<h2>For instructors</h2>", "<ul>"]
        body += [f'<li><a href="{page.as_posix()}">{html.escape(title)}</a></li>' for title, page in notes]
        body += ["</ul>"]
    body.append("</main>")
    return _document(COURSE_TITLE, "\n".join(body))


def build(root: Path, out: Path) -> list[Path]:
    """Write the whole site under ``out`` (emptied first); return the pages written."""
    root, out = root.resolve(), out.resolve()
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():  # never empty a folder this tool did not write
            raise SystemExit(f"{out} is not empty and holds no earlier build ({MARKER}): choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("Written by tools/build_site.py: emptied and rewritten by each build.\n")
    pages = course_pages(root)
    html_exporter = exporter()
    written = [notebook_page(page, pages, root, out, html_exporter) for page in pages]
    notes = notes_pages(root, out, pages)
    (out / "index.html").write_text(index_page(root, pages, notes), encoding="utf-8")
    return [out / "index.html", *written, *(out / page for _, page in notes)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the course folder (default: this checkout)")
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "site", help="where to write (emptied first)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    written = build(args.root.resolve(), out)
    print(f"Wrote {len(written)} pages to {out}; open {out / 'index.html'} in a browser.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The book's own Sphinx extension for its site: offline, linked, and honest about its numbers.

Used as a local extension (``_config.yml``: ``sphinx.local_extensions``), it does three things:

1. **Thebe off, for real.** Jupyter Book always loads ``sphinx_thebe``, which injects its
   configuration script twice (the browser logs ``Identifier 'THEBE_JS_URL' has already been
   declared`` on every page) and points at a script on another host. The book launches no
   live kernels, so the extension disconnects ``sphinx_thebe``'s event handlers and drops its
   stylesheet: no thebe script, configuration or asset reaches a page.
2. **The** ``chapter`` **role**: ``{chapter}`3``` links to chapter 3 (the notebook
   ``notebooks/03_*`` in the table of contents, shown with its title);
   ``{chapter}`8 Scaling``` does the same, and while chapter 8 is not in the book yet it
   reads "chapter 8, Scaling (planned)" instead of a broken link. The glossary uses it.
3. **The** ``results-provenance`` **directive**: a section, generated at build time from the
   committed ``results/*.json`` (read and validated by
   :func:`helpers.results.load_all_results`), saying on which machine, with which library
   versions, from which commit and on which date each chapter's published numbers were
   measured. Nothing on that page is typed; a file that does not follow the schema is a
   build warning (an error under ``-W``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: ``{chapter}`N``` or ``{chapter}`N Title```: the chapter's number, then an optional title.
CHAPTER_TEXT = re.compile(r"^\s*(\d{1,2})(?:\s+(.+?))?\s*$")

#: The provenance fields that describe the machine (two chapters with equal values ran on
#: the same kind of machine).
MACHINE_KEYS = ("cpu", "cores", "memory_gib", "gpu", "cpu_flags")


def parse_chapter_text(text: str) -> tuple[int, str | None]:
    """Split a ``chapter`` role's text into its number and optional title.

    >>> parse_chapter_text("8 Scaling")
    (8, 'Scaling')

    Raises ValueError naming the role's text when it does not start with a chapter number.
    """
    match = CHAPTER_TEXT.match(text)
    if not match:
        raise ValueError(f"{{chapter}} expects a chapter number and an optional title, "
                         f"like `8 Scaling`; got {text!r}")
    return int(match.group(1)), match.group(2)


def chapter_doc(number: int, docnames: Iterable[str]) -> str | None:
    """Return the document of chapter ``number`` (``notebooks/NN_*``) among ``docnames``.

    None when the chapter is not in the book yet. Raises ValueError when two documents
    claim the same number.
    """
    prefix = f"notebooks/{number:02d}_"
    found = sorted(d for d in docnames if d.startswith(prefix) and "/" not in d[len(prefix):])
    if len(found) > 1:
        raise ValueError(f"chapter {number} is ambiguous: {', '.join(found)}")
    return found[0] if found else None


def machine_of(provenance: dict[str, Any]) -> tuple:
    """Return the machine a results file was measured on, as a hashable key (see MACHINE_KEYS)."""
    return tuple(tuple(v) if isinstance(v, list) else v
                 for v in (provenance.get(k) for k in MACHINE_KEYS))


def describe_machine(provenance: dict[str, Any]) -> str:
    """One line describing the machine of ``provenance``: CPU, cores, memory, GPU, instructions."""
    flags = ", ".join(provenance.get("cpu_flags") or []) or "none of those the book checks"
    memory = provenance.get("memory_gib")
    memory_text = f"{memory:.1f} GiB of memory" if isinstance(memory, int | float) else "memory unknown"
    return (f"{provenance.get('cpu', 'unknown CPU')}, {provenance.get('cores', '?')} cores, "
            f"{memory_text}, GPU: {provenance.get('gpu', 'unknown')}; vector and matrix "
            f"instructions: {flags}")


def group_by_machine(results: dict[str, dict[str, Any]]) -> list[tuple[dict[str, Any], list[str]]]:
    """Group chapters by the machine their numbers came from, in order of first appearance.

    ``results``: chapter name -> loaded results file. Returns ``[(provenance of the first
    chapter on that machine, [chapter names]), ...]``.
    """
    groups: dict[tuple, tuple[dict[str, Any], list[str]]] = {}
    for chapter, data in results.items():
        key = machine_of(data["provenance"])
        groups.setdefault(key, (data["provenance"], []))[1].append(chapter)
    return list(groups.values())


def recording_notebooks(notebook_dir: Path) -> dict[str, str]:
    """Map each chapter name passed to ``Recorder("...")`` to the notebook that records it.

    ``notebook_dir``: the folder of chapter notebooks. Returns ``{"mnist":
    "notebooks/05_mnist_model", ...}`` (document names, without ``.ipynb``).
    """
    found: dict[str, str] = {}
    pattern = re.compile(r"Recorder\(\s*[\"']([a-z][a-z0-9_]*)[\"']")
    for path in sorted(notebook_dir.glob("*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            if cell.get("cell_type") != "code":
                continue
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            for name in pattern.findall(source):
                found.setdefault(name, f"{notebook_dir.name}/{path.stem}")
    return found


# ---------------------------------------------------------------------------------------
# Sphinx side
# ---------------------------------------------------------------------------------------


def _drop_thebe(app) -> None:
    """Disconnect every event handler of ``sphinx_thebe`` and drop its stylesheet."""
    app.setup_extension("sphinx_thebe")
    for listeners in app.events.listeners.values():
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "").startswith("sphinx_thebe"):
                app.disconnect(listener.id)
    app.registry.css_files[:] = [(name, attrs) for name, attrs in app.registry.css_files
                                 if "thebe" not in str(name)]


def _chapter_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    from docutils import nodes
    from sphinx.addnodes import pending_xref

    env = inliner.document.settings.env
    try:
        number, title = parse_chapter_text(text)
        doc = chapter_doc(number, env.found_docs)
    except ValueError as err:
        msg = inliner.reporter.warning(str(err), line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    _docs_using(env, "chapter").add(env.docname)
    if doc is None:
        label = f"chapter {number}, {title} (planned)" if title else f"chapter {number} (planned)"
        return [nodes.inline(label, label, classes=["planned-chapter"])], []
    ref = pending_xref(rawtext, refdomain="std", reftype="doc", reftarget=f"/{doc}",
                       refexplicit=False, refwarn=True, refdoc=env.docname)
    ref += nodes.inline(doc, doc, classes=["xref", "std", "std-doc"])
    return [nodes.Text(f"chapter {number}, "), ref], []


def _docs_using(env, feature: str) -> set[str]:
    """Return the documents that use ``feature`` ("chapter" or "provenance"), kept in the env."""
    if not hasattr(env, "book_site_docs"):
        env.book_site_docs = {"chapter": set(), "provenance": set()}
    return env.book_site_docs[feature]


def _outdated(app, env, added, changed, removed):
    """Return the pages to re-read: the provenance page always, those with ``{chapter}`` on change.

    A results file may have appeared since the last build; a chapter may have come or gone.
    """
    docs = set(_docs_using(env, "provenance"))
    if added or removed:
        docs |= _docs_using(env, "chapter")
    return sorted(docs & env.found_docs)


def _purge(app, env, docname):
    for feature in ("chapter", "provenance"):
        _docs_using(env, feature).discard(docname)


def _merge(app, env, docnames, other):
    for feature in ("chapter", "provenance"):
        _docs_using(env, feature).update(_docs_using(other, feature) & set(docnames))


def _provenance_nodes(results: dict[str, dict[str, Any]], docs: dict[str, str], found_docs,
                      docname: str, n_files: int) -> list:
    """Build the docutils nodes of the provenance section from loaded results files."""
    from docutils import nodes
    from sphinx.addnodes import pending_xref

    def para(*parts) -> nodes.paragraph:
        p = nodes.paragraph()
        for part in parts:
            p += part if isinstance(part, nodes.Node) else nodes.Text(str(part))
        return p

    def chapter_cell(chapter: str):
        doc = docs.get(chapter)
        if doc and doc in found_docs:
            ref = pending_xref("", refdomain="std", reftype="doc", reftarget=f"/{doc}",
                               refexplicit=False, refwarn=True, refdoc=docname)
            ref += nodes.inline(doc, doc)
            return para(ref, f" ({chapter})")
        return para(nodes.literal(chapter, chapter))

    out: list = []
    if not results:
        if n_files:
            out.append(para(f"None of the {n_files} results files follows the schema of ",
                            nodes.literal("results/README.md", "results/README.md"),
                            ": re-execute the chapters (the build lists what is wrong with each)."))
        else:
            out.append(para("No chapter has recorded results yet: ", nodes.literal("results/", "results/"),
                            " holds no results file."))
        return out
    groups = group_by_machine(results)
    lead = ("All published numbers were measured on one machine:" if len(groups) == 1 else
            f"The published numbers were measured on {len(groups)} different machines:")
    out.append(para(lead))
    machines = nodes.bullet_list()
    for i, (prov, chapters) in enumerate(groups, start=1):
        item = nodes.list_item()
        item += para(nodes.strong(f"Machine {i}", f"Machine {i}"), ": ", describe_machine(prov),
                     f" (chapters: {', '.join(chapters)}).")
        machines += item
    out.append(machines)
    out.append(para("Each chapter's run, as its results file records it:"))

    headers = ["chapter", "machine", "date", "commit", "seed", "TensorFlow", "Keras", "NumPy",
               "Python", "numbers"]
    machine_index = {machine_of(prov): i for i, (prov, _) in enumerate(groups, start=1)}
    table = nodes.table(classes=["results-provenance"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for _ in headers:
        group += nodes.colspec(colwidth=1)
    thead = nodes.thead()
    row = nodes.row()
    for h in headers:
        entry = nodes.entry()
        entry += para(h)
        row += entry
    thead += row
    group += thead
    tbody = nodes.tbody()
    for chapter, data in results.items():
        prov = data["provenance"]
        cells = [chapter_cell(chapter), para(machine_index[machine_of(prov)]), para(prov["date"]),
                 para(nodes.literal(str(prov["git_commit"]), str(prov["git_commit"]))),
                 para(prov["seed"]), para(prov["tensorflow"]), para(prov["keras"]),
                 para(prov["numpy"]), para(prov["python"]), para(len(data["values"]))]
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell
            row += entry
        tbody += row
    group += tbody
    out.append(table)
    return out


def setup(app):
    """Sphinx entry point: drop thebe, add the ``chapter`` role and ``results-provenance``."""
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    _drop_thebe(app)
    app.add_role("chapter", _chapter_role)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)

    class ResultsProvenance(SphinxDirective):
        """The machines, versions, commits and dates behind the committed ``results/*.json``."""

        has_content = False

        def run(self):
            from helpers.paths import repo_root, shipped_results_dir
            from helpers.results import load_results

            _docs_using(self.env, "provenance").add(self.env.docname)
            results: dict[str, dict[str, Any]] = {}
            warnings: list = []
            paths = sorted(shipped_results_dir().glob("*.json"))
            for path in paths:
                self.env.note_dependency(str(path))
                try:
                    results[path.stem] = load_results(path.stem)
                except (ValueError, OSError) as err:
                    warnings.append(self.state.document.reporter.warning(
                        f"results/{path.name} is not shown: {err}", line=self.lineno))
            docs = recording_notebooks(repo_root() / "notebooks")
            container = nodes.container(classes=["results-provenance"])
            container.extend(_provenance_nodes(results, docs, self.env.found_docs, self.env.docname,
                                                len(paths)))
            return [container, *warnings]

    app.add_directive("results-provenance", ResultsProvenance)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

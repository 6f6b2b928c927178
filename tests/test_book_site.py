import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

from book_site import (  # noqa: E402
    chapter_doc,
    describe_machine,
    group_by_machine,
    parse_chapter_text,
    recording_notebooks,
)

DOCS = ["book/intro", "notebooks/01_convolution", "notebooks/05_mnist_model", "notebooks/10_robust",
        "book/glossary"]


@pytest.mark.parametrize("text, expected", [("3", (3, None)), ("8 Scaling", (8, "Scaling")),
                                            (" 10  More accurate ", (10, "More accurate"))])
def test_parse_chapter_text(text, expected):
    assert parse_chapter_text(text) == expected


@pytest.mark.parametrize("text", ["", "Scaling", "three", "123 x"])
def test_parse_chapter_text_refuses_what_is_not_a_chapter(text):
    with pytest.raises(ValueError, match="chapter number"):
        parse_chapter_text(text)


def test_chapter_doc_finds_the_numbered_notebook_or_none():
    assert chapter_doc(1, DOCS) == "notebooks/01_convolution"
    assert chapter_doc(10, DOCS) == "notebooks/10_robust"
    assert chapter_doc(8, DOCS) is None
    assert chapter_doc(0, DOCS) is None


def test_chapter_doc_refuses_two_notebooks_with_one_number():
    with pytest.raises(ValueError, match="chapter 1 is ambiguous"):
        chapter_doc(1, [*DOCS, "notebooks/01_other"])


def _prov(cpu="CPU A", cores=2, **over):
    return {"cpu": cpu, "cores": cores, "memory_gib": 23.4, "gpu": "none", "cpu_flags": ["avx2", "fma"],
            "tensorflow": "2.21.0", "keras": "3.15.1", "numpy": "2.4.6", "python": "3.11.2",
            "git_commit": "abc", "seed": 0, "date": "2026-11-28", **over}


def test_group_by_machine_keeps_order_and_separates_machines():
    results = {"a": {"provenance": _prov()}, "b": {"provenance": _prov(cpu="CPU B")},
               "c": {"provenance": _prov(date="2026-11-29", git_commit="def")}}
    groups = group_by_machine(results)
    assert [chapters for _, chapters in groups] == [["a", "c"], ["b"]]
    assert groups[1][0]["cpu"] == "CPU B"


def test_group_by_machine_tells_core_counts_apart():
    groups = group_by_machine({"a": {"provenance": _prov()}, "b": {"provenance": _prov(cores=4)}})
    assert len(groups) == 2


def test_describe_machine_names_every_part():
    line = describe_machine(_prov())
    for part in ("CPU A", "2 cores", "23.4 GiB", "GPU: none", "avx2, fma"):
        assert part in line


def test_recording_notebooks_maps_each_chapter_name_to_its_notebook(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    cell = {"cell_type": "code", "source": ['rec = Recorder("mnist")\n'], "metadata": {}, "outputs": []}
    md = {"cell_type": "markdown", "source": 'Recorder("not_me")', "metadata": {}}
    (folder / "05_mnist_model.ipynb").write_text(json.dumps({"cells": [md, cell]}))
    (folder / "broken.ipynb").write_text("{not json")
    assert recording_notebooks(folder) == {"mnist": "notebooks/05_mnist_model"}


def test_provenance_nodes_list_machines_and_one_row_per_chapter():
    from book_site import _provenance_nodes
    from docutils import nodes

    results = {"mnist": {"provenance": _prov(), "values": {"test_accuracy": 0.99}},
               "faster": {"provenance": _prov(cpu="CPU B"), "values": {"speedup": 9.0, "epochs": 1.5}}}
    out = _provenance_nodes(results, {"mnist": "notebooks/05_mnist_model"}, {"notebooks/05_mnist_model"},
                            "book/machines", 2)
    text = "".join(n.astext() for n in out)
    assert "2 different machines" in text and "CPU A" in text and "CPU B" in text
    rows = [r for n in out for r in n.findall(nodes.row)]
    assert len(rows) == 3  # the header and one row per chapter


@pytest.mark.parametrize("n_files, says", [(0, "holds no results file"), (3, "None of the 3 results files")])
def test_provenance_nodes_say_why_nothing_is_shown(n_files, says):
    from book_site import _provenance_nodes

    out = _provenance_nodes({}, {}, set(), "book/machines", n_files)
    assert says in "".join(n.astext() for n in out)

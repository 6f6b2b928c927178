"""The conclusion's table and plot helpers, on small made-up results."""

import matplotlib.pyplot as plt
import pytest

from helpers.results import load_all_results
from helpers.summary import (
    Point,
    Row,
    machine_label,
    machines,
    markdown_table,
    plot_tradeoff,
    value,
)

PROV_A = {"cpu": "CPU A", "cores": 2, "gpu": "none", "tensorflow": "2.21.0",
          "date": "2026-01-02"}
PROV_B = dict(PROV_A, cpu="CPU B", cores=8)
RESULTS = {
    "mnist": {"provenance": PROV_A, "values": {"test_accuracy": 0.99}},
    "faster": {"provenance": PROV_A, "values": {"speedup": 9.5}},
    "deploy": {"provenance": PROV_B, "values": {"size_ratio": 3.75}},
}


def test_value_reads_and_names_what_is_missing():
    assert value(RESULTS, "faster", "speedup") == 9.5
    with pytest.raises(KeyError, match="'accurate'"):
        value(RESULTS, "accurate", "test_accuracy")
    with pytest.raises(KeyError, match="no 'latency'.*speedup"):
        value(RESULTS, "faster", "latency")


def test_machine_label_and_grouping():
    assert machine_label(PROV_B) == "CPU B, 8 cores, no GPU, TF 2.21.0"
    assert machine_label(dict(PROV_A, gpu="T4")).endswith("T4, TF 2.21.0")
    with pytest.raises(ValueError, match="'cores'"):
        machine_label({"cpu": "x", "gpu": "none", "tensorflow": "1"})
    groups = machines(RESULTS)
    assert groups == {machine_label(PROV_A): ["faster", "mnist"],
                      machine_label(PROV_B): ["deploy"]}


def test_markdown_table_names_each_rows_machine():
    table = markdown_table([Row("int8", "deploy", "3.75× smaller", "none"),
                            Row("fast recipe", "faster", "9.5×", "0.1 pt")], RESULTS)
    lines = table.splitlines()
    assert len(lines) == 4
    assert "CPU B, 8 cores" in lines[2] and "2026-01-02" in lines[2]
    assert "CPU A, 2 cores" in lines[3]
    with pytest.raises(KeyError, match="results/robust.json"):
        markdown_table([Row("x", "robust", "", "")], RESULTS)
    with pytest.raises(ValueError, match="at least one"):
        markdown_table([], RESULTS)


def test_plot_tradeoff_draws_each_point_and_the_frontier():
    fig, ax = plt.subplots()
    pts = [Point("a", 1.0, 0.99), Point("b", 10.0, 0.995)]
    plot_tradeoff(ax, pts, xlabel="s", title="t", frontier=[Point("f", 2.0, 0.98)] * 2)
    assert len(ax.lines) == 3 and [t.get_text() for t in ax.texts] == ["a", "b"]
    assert ax.lines[1].get_ydata()[0] == pytest.approx(99.0)
    plt.close(fig)
    with pytest.raises(ValueError, match="at least one"):
        plot_tradeoff(plt.subplots()[1], [], xlabel="", title="")


def test_every_shipped_results_file_has_a_machine():
    results = load_all_results()
    assert results, "the book ships results files"
    assert sum(len(v) for v in machines(results).values()) == len(results)

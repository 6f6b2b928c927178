import pytest

from helpers.scratch import conv2d
from helpers.show import show_source, source_of


def _documented(a):
    """A docstring
    on two lines."""
    return a + 1


def test_source_without_the_docstring():
    src = source_of(_documented)
    assert src == "def _documented(a):\n    return a + 1\n"
    assert '"""A docstring' in source_of(_documented, docstring=True)


def test_show_source_renders_the_packages_code():
    shown = show_source(conv2d)
    assert shown.data.startswith("```python\ndef conv2d(") and shown.data.endswith("\n```")
    # the page shows what runs: every code line of the function is there
    body = source_of(conv2d)
    assert body.strip() in shown.data


def test_show_source_refuses_what_has_no_source():
    with pytest.raises(TypeError, match="obj must be a function or class with Python source"):
        source_of(len)
    with pytest.raises(ValueError, match="at least one"):
        show_source()

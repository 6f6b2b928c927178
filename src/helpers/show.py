"""Show the code that runs: a helper's source rendered on the page.

A chapter that calls a from-scratch function from the package shows its core with
``show_source(conv2d)``, so the page and the package cannot drift apart and the reader
never has to open ``src/`` to see the idea the chapter teaches. The code is rendered as a
highlighted Python block, on the site and in JupyterLab alike.
"""

from __future__ import annotations

import ast
import inspect
import textwrap


def source_of(obj, docstring: bool = False) -> str:
    """Return the source of a function or class, without its docstring unless ``docstring``.

    Raises TypeError for objects without Python source (built-ins, lambdas typed in a
    notebook still work: their source comes from the cell).
    """
    try:
        src = textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError) as err:
        raise TypeError(f"obj must be a function or class with Python source, got {obj!r}: {err}") from None
    if docstring:
        return src.rstrip() + "\n"
    tree = ast.parse(src)
    node = tree.body[0]
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        doc = body[0]
        lines = src.splitlines()
        del lines[doc.lineno - 1:doc.end_lineno]
        src = "\n".join(lines)
    return src.rstrip() + "\n"


def show_source(*objs, docstring: bool = False):
    """Display the source of each of ``objs`` as one highlighted Python block.

    Returns an ``IPython.display.Markdown`` object (the last expression of a cell is shown);
    its ``data`` is the fenced code. ``docstring=False`` (the default) leaves the docstrings
    out, since the prose around the cell explains the function.
    """
    from IPython.display import Markdown

    if not objs:
        raise ValueError("show_source needs at least one function or class")
    code = "\n\n".join(source_of(o, docstring).rstrip() for o in objs)
    return Markdown(f"```python\n{code}\n```")

"""Every Python block of the README and the docs pages runs as written.

The blocks of one page run in order in one namespace, as a reader pastes them
into one session; ``.. code-block:: python`` marks a block as Python. The
gallery examples run in the docs build (tests/test_docs.py).
"""

import re
from pathlib import Path

import pytest
import sklearn

ROOT = Path(__file__).parents[1]
PAGES = ["README.rst", "doc/index.rst", "doc/user_guide.rst"]

pytestmark = pytest.mark.slow

# a directive at some indentation, its options, a blank line, then the indented body
BLOCK = re.compile(r"^( *)\.\. code-block:: python\n((?:\1 +:.*\n)*)\n((?:\1 +.*\n|\n)+)", re.M)


def python_blocks(text: str) -> list[str]:
    """The bodies of the ``.. code-block:: python`` directives of a reST text, dedented."""
    blocks = []
    for match in re.finditer(
        r"^( *)\.\. code-block:: python\n((?:\1 +:.*\n)*)\n((?:\1 +.*\n|\n)+)", text, re.M
    ):
        body = match.group(3).rstrip("\n").split("\n")
        indent = min(len(line) - len(line.lstrip()) for line in body if line.strip())
        blocks.append("\n".join(line[indent:] for line in body) + "\n")
    return blocks


def test_every_page_has_its_blocks_found():
    assert len(python_blocks((ROOT / "README.rst").read_text())) >= 1
    assert len(python_blocks((ROOT / "doc/user_guide.rst").read_text())) >= 1


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_run_as_written(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # caches and files a block writes land here
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = {"__name__": "__main__"}
    with sklearn.config_context():  # a block may switch metadata routing on
        for i, block in enumerate(python_blocks((ROOT / page).read_text())):
            exec(compile(block, f"{page} block {i + 1}", "exec"), namespace)  # noqa: S102

"""What the benchmarks share: printing their figures and writing them beside the docs."""

from __future__ import annotations

import json
from pathlib import Path


def publish(text: str, figures, out: Path | None) -> None:
    """Print ``text``; with ``out``, write ``figures`` to OUT.json and ``text`` to OUT.txt."""
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(figures, indent=1))
        out.with_suffix(".txt").write_text(text + "\n")

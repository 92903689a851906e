"""The documentation builds without a warning, and its gallery runs every example."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]


def test_docs_build_without_warnings(tmp_path, monkeypatch):
    sphinx = pytest.importorskip("sphinx.cmd.build", reason="the docs extra is not installed")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    out = tmp_path / "html"
    # -W: every warning (a broken docstring, reference or example) fails the build;
    # -E: no cached environment; the gallery executes each examples/plot_*.py
    status = sphinx.build_main(["-W", "-E", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
                                str(ROOT / "doc"), str(out)])  # fmt: skip
    assert status == 0
    for page in ("index", "user_guide", "results", "performance", "api"):
        assert (out / f"{page}.html").exists(), page
    for name in ("FairIFClassifier", "FairIFWeigher", "WeightedNetClassifier"):
        html = (out / "generated" / f"fairif_sklearn.{name}.html").read_text()
        assert "fit" in html and "Parameters" in html
    examples = sorted(p.stem for p in (ROOT / "examples").glob("plot_*.py"))
    assert len(examples) >= 5
    for stem in examples:
        html = (out / "auto_examples" / f"{stem}.html").read_text()
        assert "sphx-glr-single-img" in html or "sphx-glr-multi-img" in html, f"{stem} drew no figure"

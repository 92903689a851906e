"""The built docs work with no network: maths, links to other projects, wide tables.

One module-scoped build of the docs (``plot_gallery=0``: the gallery is run by
tests/test_docs.py) is checked three ways:

* maths: the pages load the MathJax bundled by sphinx-mathjax-offline, not a CDN,
  and (where Chromium is installed) every formula of the user guide renders in a
  headless browser that cannot reach anything but localhost;
* intersphinx: the inventories committed in doc/_inventories/ resolve every
  reference to scikit-learn, skorch, fairlearn, PyTorch, NumPy, joblib and Python
  (a nitpicky build lists none unresolved), and the API pages link to those sites;
* the results page: at a 1280 x 900 window its widest literal block (and a 150-
  character one, and a 9-column table added to the page) fits without a sideways
  scroll.
"""

import functools
import html
import http.server
import json
import re
import subprocess
import threading
import zlib
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# targets not in any inventory by design: the project's own names, and torch's
# relative :class:`Module` in the docstring MLP inherits from torch.nn.Module
OWN = re.compile(r"^(fairif_sklearn\b|[A-Za-z_]\w*$)")
BUILTINS = {"int", "float", "str", "bool", "dict", "list", "tuple", "set", "object", "type", "None", "bytes"}


@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    """Build the docs once, nitpicky, warnings to a file; return (html dir, warnings)."""
    sphinx = pytest.importorskip("sphinx.cmd.build", reason="the docs extra is not installed")
    tmp = tmp_path_factory.mktemp("docs_offline")
    out, warnings = tmp / "html", tmp / "warnings.txt"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MPLBACKEND", "Agg")
        mp.setenv("FAIRIF_DOCS_OFFLINE", "1")  # the committed inventories, never the network
        # -n: report every unresolved cross-reference; -w: warnings to a file, so
        # that they can be sorted here (the -W build is tests/test_docs.py)
        status = sphinx.build_main(["-n", "-E", "-q", "-b", "html", "-D", "plot_gallery=0",
                                    "-w", str(warnings), "-d", str(tmp / "doctrees"),
                                    str(ROOT / "doc"), str(out)])  # fmt: skip
    assert status == 0
    return out, warnings.read_text(encoding="utf-8").splitlines()


# ------------------------------------------------------------------ no warning


def test_no_warning_and_every_external_reference_resolves(docs):
    _, lines = docs
    warnings = [line for line in lines if re.search(r"WARNING|ERROR|CRITICAL", line)]
    missing = [re.search(r"reference target not found: (\S+)", w) for w in warnings]
    others = [w for w, m in zip(warnings, missing, strict=True) if m is None]
    assert not others, "the build is not warning-free:\n" + "\n".join(others)
    targets = {m.group(1) for m in missing if m}
    external = sorted(t for t in targets if t in BUILTINS or not OWN.match(t))
    assert not external, f"not in doc/_inventories/*.inv (rerun make_inventories.py?): {external}"


# ----------------------------------------------------------------------- maths


def _math_pages(out):
    return [
        p
        for p in out.rglob("*.html")
        if 'class="math notranslate nohighlight"' in p.read_text(encoding="utf-8")
    ]


def test_maths_use_the_bundled_mathjax_not_a_cdn(docs):
    out, _ = docs
    pages = _math_pages(out)
    assert out / "user_guide.html" in pages
    for page in pages:
        scripts = re.findall(
            r'<script[^>]*src="([^"]*mathjax[^"]*)"', page.read_text(encoding="utf-8"), flags=re.I
        )
        assert scripts, f"{page.name} has maths but loads no MathJax"
        for src in scripts:
            assert "://" not in src and not src.startswith("//"), f"{page.name} loads MathJax from {src}"
            assert (page.parent / src).resolve().is_file(), f"{page.name}: {src} is not in the output"
    fonts = out / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert any(fonts.glob("*.woff")), "the MathJax fonts were not copied"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requested: list

    def log_message(self, format, *args):
        self.requested.append(self.path)


@pytest.fixture(scope="module")
def served(docs):
    """The built html on an ephemeral localhost port; yields (base url, requested paths)."""
    out, _ = docs
    requested = []
    handler = type("Handler", (_QuietHandler,), {"requested": requested})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", requested
    server.shutdown()
    thread.join()


def _chromium(tmp_path, *args):
    """Run headless Chromium with no way out but localhost; return stdout."""
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium): the browser check is skipped")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}",
           # the network is off: every host name but localhost fails to resolve, and
           # anything else would go through a proxy that does not exist
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9",
           *args]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_every_formula_renders_offline(docs, served, tmp_path):
    out, _ = docs
    base, requested = served
    source = (out / "user_guide.html").read_text(encoding="utf-8")
    n_formulas = source.count('class="math notranslate nohighlight"')
    assert n_formulas >= 20
    dom = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", f"{base}/user_guide.html")
    assert any(path.startswith("/_static/mathjax/tex-chtml.js") for path in requested)
    assert dom.count("<mjx-container") == n_formulas, "not every formula was typeset"
    assert "<mjx-merror" not in dom and "data-mjx-error" not in dom, "MathJax reported a TeX error"
    text = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)
    assert not re.search(r"\\\(|\\\[|\$\$", text), "raw LaTeX left on the page"


# ------------------------------------------------------------------ intersphinx


def _inventory(name):
    """{name: uri} of a committed inventory (objects.inv format v2: 4 lines, then zlib)."""
    raw = (ROOT / "doc" / "_inventories" / f"{name}.inv").read_bytes()
    header, _, body = raw.partition(b"zlib.\n")
    assert header.startswith(b"# Sphinx inventory version 2")
    entries = {}
    for line in zlib.decompress(body).decode().splitlines():
        m = re.match(r"(.+?)\s+(\S+:\S+)\s+(-?\d+)\s+?(\S*)\s+(.*)", line)
        if m:
            name, uri = m.group(1), m.group(4)
            entries[name] = uri[:-1] + name if uri.endswith("$") else uri
    return entries


@pytest.mark.parametrize(
    "inv, name, uri",
    [
        ("sklearn", "sklearn.pipeline.Pipeline", "modules/generated/{0}.html#{0}"),
        ("sklearn", "sklearn.model_selection.GridSearchCV", "modules/generated/{0}.html#{0}"),
        ("sklearn", "sklearn.metrics.make_scorer", "modules/generated/{0}.html#{0}"),
        (
            "sklearn",
            "sklearn.utils._bunch.Bunch",
            "modules/generated/sklearn.utils.Bunch.html#sklearn.utils.Bunch",
        ),
        ("skorch", "skorch.classifier.NeuralNetBinaryClassifier", "classifier.html#{0}"),
        ("skorch", "skorch.NeuralNetClassifier", "classifier.html#skorch.classifier.NeuralNetClassifier"),
        ("fairlearn", "fairlearn.reductions.ExponentiatedGradient", "api_reference/generated/{0}.html#{0}"),
        ("torch", "torch.func.jvp", "generated/{0}.html#{0}"),
        ("torch", "torch.nn.Linear", "generated/{0}.html#{0}"),
        ("torch", "torch.optim.Adam", "generated/{0}.html#{0}"),
        ("torch", "torch.utils.data.DataLoader", "data.html#{0}"),
        ("joblib", "joblib.Memory", "generated/{0}.html#{0}"),
        ("numpy", "numpy.ndarray", "reference/generated/{0}.html#{0}"),
        ("python", "pathlib.Path", "library/pathlib.html#{0}"),
    ],
)
def test_committed_inventories_use_the_real_url_layout(inv, name, uri):
    assert _inventory(inv).get(name) == uri.format(name)


def test_api_pages_link_to_the_other_projects(docs):
    out, _ = docs
    page = (out / "generated" / "fairif_sklearn.FairIFClassifier.html").read_text(encoding="utf-8")
    assert 'href="https://scikit-learn.org/stable/' in page
    assert 'href="https://skorch.readthedocs.io/en/stable/' in page
    guide = (out / "user_guide.html").read_text(encoding="utf-8")
    assert (
        'href="https://joblib.readthedocs.io/en/stable/generated/joblib.Memory.html#joblib.Memory"' in guide
    )


# ------------------------------------------------------------ wide results page

# a 150-character text line and a 9-column table, inserted into the built results
# page as docutils writes them, so that the check covers the tables to come
_PROBE = """
<script>
window.addEventListener('load', () => {
  const article = document.querySelector('article.bd-article');
  const line = '0123456789'.repeat(15).slice(0, 141) + 'RIGHTMOST';
  const cells = (tag, row) => row.map(c => `<${tag}><p>${c}</p></${tag}>`).join('');
  const head = ['Method', 'Group labels used', 'Acc', 'AD', 'AOD', 'EOD',
                'Acc (paper)', 'AOD (paper)', 'Last'];
  const row = ['ExponentiatedGradient', 'annotated valid',
               ...Array(6).fill('0.8444 ± 0.0152'), 'RIGHTMOST'];
  article.insertAdjacentHTML('beforeend',
    '<div class="highlight-none notranslate"><div class="highlight">' +
    `<pre><span></span>${line}</pre></div></div>` +
    '<div class="pst-scrollable-table-container"><table class="table">' +
    `<thead><tr>${cells('th', head)}</tr></thead>` +
    `<tbody>${`<tr>${cells('td', row)}</tr>`.repeat(6)}</tbody></table></div>`);
  const width = document.documentElement.clientWidth;
  const blocks = [];
  for (const el of article.querySelectorAll('pre, table')) {
    const box = el.closest('.pst-scrollable-table-container') || el;
    blocks.push({tag: el.tagName, text: el.textContent.trim().slice(-40),
                 right: el.getBoundingClientRect().right, scroll: box.scrollWidth, client: box.clientWidth});
  }
  document.body.setAttribute('data-probe', JSON.stringify({width, blocks}));
});
</script>
"""


def test_results_page_is_wide(docs):
    out, _ = docs
    results = (out / "results.html").read_text(encoding="utf-8")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "wide_page.css" in results and "wide_page.css" not in index
    assert 'id="pst-secondary-sidebar"' not in results  # no "on this page" column


def test_results_tables_fit_a_1280_window(docs, served, tmp_path):
    out, _ = docs
    base, _ = served
    probe = out / "_probe_results.html"
    results = (out / "results.html").read_text(encoding="utf-8")
    probe.write_text(results.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    try:
        dom = _chromium(tmp_path, "--window-size=1280,900", "--virtual-time-budget=5000", "--dump-dom",
                        f"{base}/{probe.name}")  # fmt: skip
    finally:
        probe.unlink()
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, "the probe script did not run"
    probed = json.loads(html.unescape(found.group(1)))
    probes = {b["tag"] for b in probed["blocks"] if b["text"].endswith("RIGHTMOST")}
    assert probes == {"PRE", "TABLE"}, probed  # the 150-character line and the 9-column table
    cut = [b for b in probed["blocks"] if b["scroll"] > b["client"] + 1 or b["right"] > probed["width"] + 1]
    assert not cut, f"needs a sideways scroll at 1280 px: {cut}"

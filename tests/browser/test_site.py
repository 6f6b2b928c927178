"""The built site, read the way a reader's browser reads it, with no network but 127.0.0.1.

Every page of the table of contents: status 200, no console error, no failed request, every
image loaded, every formula typeset by MathJax (no raw TeX left in the text), no MyST role
left unrendered, every link to a page or an anchor of the site resolving; a screenshot of
each page in ``_build/screenshots/``. Then search, the previous/next walk through the book,
the glossary, the bibliography and the generated provenance page.
"""

from __future__ import annotations

import re
import urllib.request
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import pytest
from browser_support import ROOT, ForeignRequests, toc_docs

from helpers.paths import shipped_results_dir

DOCS = toc_docs()
TIMEOUT_MS = 60_000

#: Text that must not survive rendering: display or inline TeX delimiters, MyST roles.
RAW_PATTERNS = {
    "raw display math `$$`": re.compile(r"\$\$"),
    "raw inline math `\\(`": re.compile(r"\\\("),
    "raw display math `\\[`": re.compile(r"\\\["),
    "an unrendered {glue}": re.compile(r"\{glue"),
    "an unrendered {eval}": re.compile(r"\{eval"),
    "an unrendered MyST role": re.compile(r"\{[a-z][a-z:_-]*\}`"),
}

# The page's visible text without code blocks (where `$$` or `{eval}` may be code) and
# without MathJax's own output.
VISIBLE_TEXT_JS = """() => {
  const main = document.querySelector('main') || document.body;
  const copy = main.cloneNode(true);
  copy.querySelectorAll('pre, mjx-container, script, style').forEach(e => e.remove());
  return copy.innerText;
}"""

# Make lazy images load now, wait for every image, return those that did not load.
BROKEN_IMAGES_JS = """async () => {
  const imgs = [...document.images];
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(imgs.map(i => (i.complete && i.naturalWidth > 0) ? null : new Promise(r => {
    i.addEventListener('load', r); i.addEventListener('error', r); setTimeout(r, 20000); })));
  return imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src);
}"""

MATH_TYPESET_JS = """() => [...document.querySelectorAll('.math')]
  .every(m => m.querySelector('mjx-container'))"""

RAW_MATH_JS = """() => [...document.querySelectorAll('.math')]
  .filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80))"""


def url_of(site_url: str, doc: str) -> str:
    return f"{site_url}/{doc}.html"


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)


_ID_CACHE: dict[str, set[str] | int] = {}


def anchors_of(url: str) -> set[str] | int:
    """The ids of the page at ``url`` (a set), or its HTTP status when it is not 200."""
    if url not in _ID_CACHE:
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                body = resp.read()
                if not url.endswith((".html", "/")):
                    _ID_CACHE[url] = set()  # a download (notebook, source): existing is enough
                else:
                    parser = _Ids()
                    parser.feed(body.decode("utf-8", "replace"))
                    _ID_CACHE[url] = parser.ids
        except urllib.error.HTTPError as err:
            _ID_CACHE[url] = err.code
    return _ID_CACHE[url]


@pytest.fixture(scope="module")
def guard(site_url) -> ForeignRequests:
    return ForeignRequests(site_url)


@pytest.fixture(scope="module")
def context(playwright_browser, guard):
    ctx = playwright_browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.route("**/*", guard.handle)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context, guard):
    """A fresh tab that records console errors, page errors and failed requests."""
    pg = context.new_page()
    pg.problems = []
    pg.on("console", lambda m: pg.problems.append(f"console error: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    pg.on("response", lambda r: pg.problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    pg.on("requestfailed", lambda r: None if r.url in guard.seen else
          pg.problems.append(f"request failed ({r.failure}): {r.url}"))
    guard.take()
    yield pg
    pg.close()


def test_the_guard_blocks_and_records_other_hosts(page, guard, site_url):
    """The request guard works: a request to another host is blocked and reported."""
    page.goto(url_of(site_url, DOCS[0]))
    page.evaluate("() => fetch('https://example.invalid/probe.js').catch(() => null)")
    page.wait_for_timeout(500)
    assert any("example.invalid" in u for u in guard.take())


@pytest.mark.parametrize("doc", DOCS)
def test_page_reads_offline(page, guard, site_url, screenshots, doc):
    response = page.goto(url_of(site_url, doc), wait_until="load")
    assert response is not None and response.status == 200, f"{doc}: status {response and response.status}"

    broken = page.evaluate(BROKEN_IMAGES_JS)
    assert not broken, f"{doc}: images that did not load: {broken}"

    try:
        page.wait_for_function(MATH_TYPESET_JS, timeout=TIMEOUT_MS)
    except Exception:  # the assertion below says which formulas stayed raw
        pass
    raw_math = page.evaluate(RAW_MATH_JS)
    assert not raw_math, f"{doc}: formulas MathJax did not typeset: {raw_math[:5]}"

    text = page.evaluate(VISIBLE_TEXT_JS)
    for what, pattern in RAW_PATTERNS.items():
        hit = pattern.search(text)
        assert not hit, f"{doc}: {what} in the text: ...{text[max(0, hit.start() - 60):hit.end() + 60]}..."

    links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
    broken_links = []
    for link in sorted(set(links)):
        if not link.startswith(site_url + "/"):
            continue
        target, fragment = urldefrag(link)
        found = anchors_of(target)
        if isinstance(found, int):
            broken_links.append(f"{link} (HTTP {found})")
        elif fragment and target.endswith(".html") and fragment not in found:
            broken_links.append(f"{link} (no such anchor)")
    assert not broken_links, f"{doc}: broken links: {broken_links}"

    page.screenshot(path=str(screenshots / f"{doc.replace('/', '__')}.png"), full_page=True)
    page.wait_for_timeout(300)  # late console messages
    assert not page.problems, f"{doc}: {page.problems}"
    foreign = guard.take()
    assert not foreign, f"{doc}: requests to other hosts (blocked): {foreign}"


def test_search_finds_convolution(page, guard, site_url):
    page.goto(f"{site_url}/search.html?q=convolution")
    page.wait_for_selector("#search-results ul.search li", timeout=TIMEOUT_MS)
    hits = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    assert hits, "search for 'convolution' returned nothing"
    assert any("01_convolution" in h for h in hits), f"the convolution chapter is not among {hits}"
    assert not page.problems, page.problems
    assert not guard.take()


def _walk(page, site_url: str, start: str, selector: str) -> list[str]:
    seen, doc = [], start
    while doc is not None and doc not in seen and len(seen) <= len(DOCS):
        seen.append(doc)
        # networkidle: let the page's own late requests (the favicon) finish, or the next
        # goto aborts them and the abort would be reported as a failed request
        page.goto(url_of(site_url, doc), wait_until="networkidle")
        link = page.query_selector(selector)
        if link is None:
            break
        path = urlsplit(link.evaluate("a => a.href")).path
        doc = path.lstrip("/").removesuffix(".html")
    return seen


def test_previous_and_next_walk_the_book_in_order(page, guard, site_url):
    forward = _walk(page, site_url, DOCS[0], "a.right-next")
    assert forward == DOCS, f"'next' links visit {forward}, the table of contents is {DOCS}"
    backward = _walk(page, site_url, DOCS[-1], "a.left-prev")
    assert backward == DOCS[::-1], f"'previous' links visit {backward}"
    assert not page.problems, page.problems
    assert not guard.take()


#: Terms the glossary must define, in both languages.
REQUIRED_TERMS = [("convolution", "卷积"), ("pooling", "池化"), ("activation function", "激活函数"),
                  ("loss function", "损失函数"), ("backpropagation", "反向传播"), ("overfitting", "过拟合"),
                  ("data augmentation", "数据增强"), ("quantization", "量化"), ("pruning", "剪枝"),
                  ("adversarial example", "对抗样本")]


def test_glossary_defines_terms_in_both_languages(page, site_url):
    page.goto(url_of(site_url, "book/glossary"))
    entries = page.eval_on_selector_all(
        "dl.glossary > dt", "dts => dts.map(dt => ({id: dt.id, text: dt.innerText.trim()}))")
    terms = {e["text"].rstrip("¶").strip() for e in entries}
    assert len(terms) >= 100, f"only {len(terms)} terms"
    for english, chinese in REQUIRED_TERMS:
        assert english in terms and chinese in terms, f"missing {english} / {chinese}"
    assert all(e["id"].startswith("term-") for e in entries)
    definitions = page.eval_on_selector_all("dl.glossary > dd", "dds => dds.map(d => d.innerText)")
    assert all(re.search(r"chapter \d+", d) for d in definitions), "a term without its chapter"


def test_bibliography_lists_every_entry(page, site_url):
    keys = re.findall(r"^@\w+\{([^,]+),", (ROOT / "book" / "references.bib").read_text(encoding="utf-8"),
                      flags=re.M)
    page.goto(url_of(site_url, "book/references"))
    shown = page.eval_on_selector_all("[role=doc-biblioentry], .citation", "es => es.length")
    assert shown >= len(keys), f"{shown} entries shown, {len(keys)} in references.bib"


def test_provenance_page_has_a_row_per_results_file(page, site_url):
    page.goto(url_of(site_url, "book/machines"))
    rows = page.eval_on_selector_all("table.results-provenance tbody tr", "rs => rs.length")
    files = sorted(shipped_results_dir().glob("*.json"))
    assert rows == len(files), f"{rows} rows for {len(files)} results files"

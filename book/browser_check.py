"""Look at the built book as a reader does: every page in headless Chromium, served from 127.0.0.1, the network cut.

    python book/browser_check.py [_build/html] [--screens _build/screens]

For each page it reports what a reader would see go wrong: a JavaScript error, an image that does not
load, a request that fails, a Python traceback or error output, a broken internal link (page or anchor),
math that MathJax did not typeset, a progress bar frozen at 0 %, a Markdown table left as text; and on
a chapter page, no figures or no HTML table. A full-page screenshot of each page goes to ``--screens``.
Every request that does not go to the local server is refused, so the page must stand on its own.

The browser is the system's Chromium (Debian's ``chromium``; Playwright's own browser download does not
work offline), driven by the ``playwright`` Python client. Exits 1 when there are problems.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: tqdm's text bar at its first state, e.g. "  0%|          | 0/35" (a bar saved before it moved).
FROZEN_BAR = re.compile(r"(?<![\d.])0%\|")
#: A Markdown table's separator row, left as text instead of rendered.
MARKDOWN_TABLE = re.compile(r"^\s*\|\s*:?-{3,}", re.MULTILINE)
TRACEBACK = "Traceback (most recent call last)"


def find_chromium() -> str | None:
    """The system Chromium's path, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _Anchors(HTMLParser):
    """The ``id``/``name`` anchors and the ``href`` links of one HTML file."""

    def __init__(self):
        super().__init__()
        self.ids, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("id", "name"):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def broken_links(html_dir: Path, page: Path) -> list[str]:
    """Internal links of ``page`` (a file under ``html_dir``) whose target file or anchor does not exist."""
    problems = []
    for href in _parse(page).links:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
            continue  # external: not this check's business (and not reachable here)
        target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file() or html_dir.resolve() not in target.parents:
            problems.append(f"broken link {href!r} (no file {target.relative_to(html_dir.resolve().parent)})"
                            if target.is_relative_to(html_dir.resolve().parent) else f"broken link {href!r}")
        elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _parse(target).ids:
            problems.append(f"broken link {href!r} (no anchor #{parts.fragment} in {target.name})")
    return problems


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """``(server, base URL)``: ``directory`` served on 127.0.0.1 (a free port) from a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


# What the page reports about itself once MathJax is done (run in the page).
_INSPECT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const main = document.querySelector('main') || document.body || document.documentElement;
  const imgs = [...main.querySelectorAll('img')];
  return {
    text: main.innerText,
    brokenImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
    outputImages: main.querySelectorAll('.cell_output img, .output img').length,
    tables: main.querySelectorAll('table').length,
    math: main.querySelectorAll('.math').length,
    untypesetMath: [...main.querySelectorAll('.math')].filter(m => !m.querySelector('mjx-container'))
                       .map(m => m.textContent.slice(0, 60)),
    typeset: main.querySelectorAll('mjx-container').length,
    errorOutputs: main.querySelectorAll('.output.traceback, .output.error').length,
    mathErrors: main.querySelectorAll('mjx-merror').length,
  };
}"""


def check_page(page, url: str, *, chapter: bool) -> list[str]:
    """Problems of the page at ``url`` in an open Playwright ``page`` (listeners attached by the caller)."""
    page.goto(url, wait_until="load")
    for attempt in range(3):  # a page that redirects (index.html) destroys the first context
        try:
            info = page.evaluate(_INSPECT)
            break
        except Exception as err:  # playwright's Error: "Execution context was destroyed ... navigation"
            if "navigation" not in str(err) or attempt == 2:
                raise
            page.wait_for_load_state("load")
    problems = [f"image does not load: {src}" for src in info["brokenImages"]]
    if TRACEBACK in info["text"] or info["errorOutputs"]:
        problems.append("a Python traceback or error output is shown")
    if info["mathErrors"]:
        problems.append(f"{info['mathErrors']} equations MathJax could not typeset (TeX errors)")
    if info["untypesetMath"]:
        problems.append(f"{len(info['untypesetMath'])} math elements not typeset, e.g. {info['untypesetMath'][0]!r}")
    if FROZEN_BAR.search(info["text"]):
        problems.append(f"a progress bar frozen at 0 %: {FROZEN_BAR.search(info['text']).group(0)!r}")
    if MARKDOWN_TABLE.search(info["text"]):
        problems.append("a Markdown table is shown as text, not as an HTML table")
    if chapter:
        if info["outputImages"] == 0:
            problems.append("a chapter page without figures")
        if info["tables"] == 0:
            problems.append("a chapter page without an HTML table")
        if info["typeset"] == 0:
            problems.append("a chapter page without typeset math")
    return problems


def check_book(html_dir: Path, screens: Path | None = None, *, chromium: str | None = None) -> dict[str, list[str]]:
    """``{page: [problems]}`` for every HTML page of the built book in ``html_dir`` (pages without problems
    map to ``[]``), with a full-page screenshot of each in ``screens``. Chapter pages (``chapters/``) must
    also show figures, an HTML table and typeset math."""
    from playwright.sync_api import sync_playwright

    html_dir = Path(html_dir).resolve()
    pages = sorted(p for p in html_dir.rglob("*.html")
                   if not p.relative_to(html_dir).parts[0].startswith(("_", ".")) and p.name not in ("search.html",
                                                                                                      "genindex.html"))
    if not pages:
        raise FileNotFoundError(f"{html_dir}: no HTML pages (build the book first: make book)")
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError(f"no Chromium found (looked for {', '.join(CHROMIUM_NAMES)}): apt-get install chromium")
    if screens is not None:
        screens.mkdir(parents=True, exist_ok=True)
    server, base = serve(html_dir)
    report: dict[str, list[str]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
            problems: list[str] = []

            def route(r):  # the network is cut: only the local server answers
                if r.request.url.startswith(base):
                    r.continue_()
                else:
                    problems.append(f"request leaves the book: {r.request.url[:100]}")
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on("pageerror", lambda err: problems.append(f"JavaScript error: {err}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:100]} ({r.failure})")
                    if r.url.startswith(base) else None)
            page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url[:100]}")
                    if r.status >= 400 and r.url.startswith(base) else None)
            for path in pages:
                rel = path.relative_to(html_dir).as_posix()
                problems.clear()
                found = check_page(page, urljoin(base, rel), chapter=rel.startswith("chapters/"))
                found += broken_links(html_dir, path)
                if screens is not None:
                    page.screenshot(path=str(screens / (rel.replace("/", "__").removesuffix(".html") + ".png")),
                                    full_page=True)
                report[rel] = list(dict.fromkeys(problems + found))
            browser.close()
    finally:
        server.shutdown()
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", default=str(ROOT / "_build" / "html"))
    parser.add_argument("--screens", default=str(ROOT / "_build" / "screens"))
    args = parser.parse_args(argv)
    report = check_book(Path(args.html), Path(args.screens))
    bad = {page: problems for page, problems in report.items() if problems}
    for page, problems in report.items():
        print(f"{'FAIL' if problems else 'ok  '} {page}")
        for problem in problems:
            print(f"     - {problem}")
    print(f"{len(report)} pages, {len(bad)} with problems; screenshots in {args.screens}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

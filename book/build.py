"""Build the book from chapters executed once.

Every notebook of `_toc.yml` is executed with papermill at its default parameters (profile ``ci``) into
``_build/executed/`` -- the chapters first, the reproducibility report (which reads the chapters'
``_build/results/*.json``) last -- and Jupyter Book then renders those executed copies with its own
execution off (``_config.yml``), Sphinx warnings as errors:

    python book/build.py                     # make book: execute everything, then build _build/html
    python book/build.py --html-only         # build from the executed copies already in _build/executed
    python book/build.py --only ch02 ch05    # re-execute these chapters (and the report), then build

CI executes each chapter once, in the chapter tests (tests/chapters), which save their default ``ci`` runs
into ``_build/executed/``; tests/chapters/test_zz_book.py then executes the report and builds the book from
them with :func:`build_html` (no chapter runs twice).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
EXECUTED = BUILD / "executed"
RESULTS = BUILD / "results"
STAGE = BUILD / "source"
#: The notebook that reads the chapters' results; executed after them.
REPORT = "book/reproducibility"
#: A chapter's default parameters: the executed copy the book shows must have run with these.
DEFAULTS = {"PROFILE": "ci", "SEED": 0, "OVERRIDES": {}}


def toc_files(root: Path = ROOT) -> list[str]:
    """The files of `_toc.yml` (root first), without suffix, relative to ``root``."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


def toc_notebooks(root: Path = ROOT) -> list[str]:
    """The notebooks of `_toc.yml`: the chapters in order, then the report (it reads their results)."""
    notebooks = [f for f in toc_files(root) if (root / f"{f}.ipynb").is_file()]
    return [f for f in notebooks if f != REPORT] + [f for f in notebooks if f == REPORT]


def execute(stem: str, *, root: Path = ROOT, executed: Path = EXECUTED, results: Path = RESULTS) -> float:
    """Executes ``root/<stem>.ipynb`` at its default parameters into ``executed/<stem>.ipynb`` (its results
    file into ``results``); returns the seconds it took. A failing cell raises papermill's error, naming it."""
    import papermill

    source, target = root / f"{stem}.ipynb", executed / f"{stem}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.ipynb")
    saved = os.environ.get("SBIR_RESULTS_DIR")
    os.environ["SBIR_RESULTS_DIR"] = str(results)  # the kernel inherits it: where write_results puts the file
    start = time.perf_counter()
    try:
        papermill.execute_notebook(str(source), str(partial), cwd=str(source.parent), kernel_name="python3",
                                   progress_bar=False, request_save_on_cell_execute=False)
    finally:
        if saved is None:
            del os.environ["SBIR_RESULTS_DIR"]
        else:
            os.environ["SBIR_RESULTS_DIR"] = saved
    partial.replace(target)  # never a half-executed copy under the final name
    return time.perf_counter() - start


def check_executed(path: Path) -> dict:
    """The executed copy at ``path`` as a notebook dict, after checking that it is one the book may show: every
    code cell ran, none left an error, and it ran at the default parameters (the ``ci`` profile)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no executed copy (run `python book/build.py` or the chapter tests)")
    nb = json.loads(path.read_text(encoding="utf-8"))
    params = nb.get("metadata", {}).get("papermill", {}).get("parameters", {})
    for key, value in params.items():
        if key in DEFAULTS and value != DEFAULTS[key]:
            raise ValueError(f"{path}: executed with {key}={value!r}; the book shows {key}={DEFAULTS[key]!r} runs")
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if cell.get("execution_count") is None and cell["source"]:
            raise ValueError(f"{path}: code cell {i} was not executed")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise ValueError(f"{path}: code cell {i} raised {out.get('ename')}: {out.get('evalue')}")
    return nb


#: The "Open in Colab" badge of a chapter's first cell (for readers on GitHub or in Colab).
COLAB_BADGE = re.compile(r'<a href="https://colab\.research\.google\.com/[^"]*"[^>]*>\s*<img [^>]*colab-badge\.svg[^>]*>'
                         r'\s*</a>\s*')


def for_the_page(nb: dict) -> dict:
    """An executed notebook as the book shows it: papermill's "injected-parameters" cell (the defaults, checked)
    removed; no saved widget state (the book shows the widgets' static fallbacks, so it needs no widget
    JavaScript from a CDN); no Colab badge image from Google's server (the page's launch button opens Colab)."""
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell["metadata"]["tags"] = tags + ["remove-cell"]
    nb.get("metadata", {}).pop("widgets", None)
    first = nb["cells"][0] if nb["cells"] else None
    if first is not None and first["cell_type"] == "markdown":
        first["source"] = COLAB_BADGE.sub("", "".join(first["source"]))
    return nb


def stage(*, root: Path = ROOT, executed: Path = EXECUTED, target: Path = STAGE) -> Path:
    """The book's source tree in ``target``: config, TOC, `book/`, and the executed copy of every notebook
    (checked by :func:`check_executed`) in place of the repository's output-free one."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, target / name)
    def ignore(folder, names):  # the notebooks come executed, below; the tools in book/ are not part of the book
        tools = Path(folder) == root / "book"
        return [n for n in names if n.endswith(".ipynb") or n == "__pycache__" or (tools and n.endswith(".py"))]

    shutil.copytree(root / "book", target / "book", ignore=ignore)
    for stem in toc_files(root):
        if (root / f"{stem}.ipynb").is_file():
            nb = for_the_page(check_executed(executed / f"{stem}.ipynb"))
            (target / stem).parent.mkdir(parents=True, exist_ok=True)
            (target / f"{stem}.ipynb").write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")
        elif not (target / f"{stem}.md").is_file():
            shutil.copy2(root / f"{stem}.md", target / f"{stem}.md")
    return target


def build_html(*, root: Path = ROOT, executed: Path = EXECUTED, output: Path = BUILD) -> Path:
    """Stages the executed notebooks and renders them with Jupyter Book (execution off, warnings as errors);
    returns ``output/html``. The build's own log is in ``output/source/_build/``."""
    source = stage(root=root, executed=executed, target=output / "source")
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(source), "--builder", "html", "-W",
           "--keep-going", "--path-output", str(source)]
    subprocess.run(cmd, check=True, cwd=source)
    html = output / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(source / "_build" / "html", html)
    return html


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html-only", action="store_true", help="build from the executed copies already there")
    parser.add_argument("--only", nargs="+", metavar="CHAPTER", help="re-execute these chapters only (e.g. ch02)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if not args.html_only:
        stems = toc_notebooks()
        if args.only:
            stems = [s for s in stems if s == REPORT or any(Path(s).name.startswith(c) for c in args.only)]
        for stem in stems:
            print(f"executing {stem}.ipynb ...", flush=True)
            print(f"  {stem}: {execute(stem):.0f} s", flush=True)
    html = build_html()
    print(f"Book built: {html / 'index.html'}")
    print(f"make book took {(time.perf_counter() - start) / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Keep every chapter's Colab badge and install URL in step with `_config.yml`.

The repository URL is set once, in `_config.yml` (`repository.url`, `repository.branch`). Each
chapter's first cell carries an "Open in Colab" badge and its setup cell a `REPO_URL = "..."`
line; this script rewrites both from the config:

    python book/sync_badges.py          # rewrite in place
    python book/sync_badges.py --check  # exit 1 and list the chapters that are out of step
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BADGE_RE = re.compile(r'<a href="https://colab\.research\.google\.com/github/[^"]*"')
REPO_URL_RE = re.compile(r'^REPO_URL = "[^"]*"', re.MULTILINE)


def repository(root: Path = ROOT) -> tuple[str, str]:
    """``(url, branch)`` from `_config.yml`."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def chapter_notebooks(root: Path = ROOT) -> list[Path]:
    """The chapter notebooks (``chapters/``) listed in `_toc.yml`, in order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = []
    for part in toc.get("parts", []):
        for entry in part.get("chapters", []):
            path = root / (entry["file"] + ".ipynb")
            if path.is_file() and entry["file"].startswith("chapters/"):  # not the report page (book/)
                files.append(path)
    return files


def expected_badge_href(notebook: Path, root: Path = ROOT) -> str:
    url, branch = repository(root)
    github_path = url.split("github.com/", 1)[1]
    rel = notebook.resolve().relative_to(root.resolve()).as_posix()
    return f'<a href="https://colab.research.google.com/github/{github_path}/blob/{branch}/{rel}"'


def sync(notebook: Path, root: Path = ROOT, write: bool = True) -> list[str]:
    """Return the problems found in ``notebook`` (fixing them when ``write``)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    url, _ = repository(root)
    problems = []
    first = nb["cells"][0]
    text = "".join(first["source"])
    href = expected_badge_href(notebook, root)
    if first["cell_type"] != "markdown" or not BADGE_RE.search(text):
        problems.append(f"{notebook.name}: the first cell has no Colab badge")
    elif BADGE_RE.search(text).group(0) != href:
        problems.append(f"{notebook.name}: badge points to {BADGE_RE.search(text).group(0)[9:-1]}")
        first["source"] = BADGE_RE.sub(href, text)
    setup_found = False
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if cell["cell_type"] == "code" and REPO_URL_RE.search(src):
            setup_found = True
            if REPO_URL_RE.search(src).group(0) != f'REPO_URL = "{url}"':
                problems.append(f"{notebook.name}: setup cell installs from another repository")
                cell["source"] = REPO_URL_RE.sub(f'REPO_URL = "{url}"', src)
            break
    if not setup_found:
        problems.append(f'{notebook.name}: no setup cell with a REPO_URL = "..." line')
    if write and problems:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report, change nothing")
    args = parser.parse_args(argv)
    problems = [p for nb in chapter_notebooks() for p in sync(nb, write=not args.check)]
    for p in problems:
        print(p)
    if args.check and problems:
        return 1
    print(f"{len(chapter_notebooks())} chapters checked, {len(problems)} {'problems' if args.check else 'fixed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

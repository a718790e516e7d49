"""Run the chapters as Colab would: a fresh environment whose only project install is what the setup cell does.

    python book/colab_check.py                 # make colab-check: every chapter
    python book/colab_check.py --only ch00     # some chapters

1. Builds the library's wheel from this checkout (``pip wheel --no-deps``).
2. Creates a fresh virtual environment in ``_build/colab/venv`` holding what Colab has before a chapter runs:
   torch and torchvision (this project's pinned versions stand in for Colab's), and the Jupyter kernel with
   papermill to execute notebooks. No ``sbir_lib``, no editable install.
3. Executes each chapter from a temporary folder outside the repository with ``SBIR_INSTALL`` pointing at the
   wheel, so that the chapter's own setup cell installs ``sbir_lib`` (with its ImageNet weights package) the way
   it installs from the repository URL in Colab.
4. Checks that the setup cell kept the preinstalled torch, and that ``sbir_lib`` was imported from the fresh
   environment, not from the checkout.

Prints one line per chapter and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "_build" / "colab"
#: What Colab has installed before a chapter's setup cell runs (the versions pinned in constraints.txt).
PREINSTALLED = ("torch", "torchvision", "ipykernel", "papermill")


def pinned(names, constraints: Path = ROOT / "constraints.txt") -> list[str]:
    """``name==version`` of ``names`` from ``constraints.txt`` (a name that is not pinned raises, naming it)."""
    pins = dict(line.split("==", 1) for line in constraints.read_text(encoding="utf-8").splitlines()
                if "==" in line and not line.startswith("#"))
    missing = [n for n in names if n not in pins]
    if missing:
        raise KeyError(f"{constraints}: no exact version for {missing}")
    return [f"{n}=={pins[n]}" for n in names]


def fresh_environment(work: Path = WORK) -> tuple[Path, Path]:
    """``(python, wheel)``: a new virtual environment with :data:`PREINSTALLED` only, and the library's wheel."""
    if work.exists():
        shutil.rmtree(work)
    dist = work / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)], check=True)
    wheel = next(dist.glob("sbir_lib-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    python = work / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--progress-bar", "off", *pinned(PREINSTALLED)],
                   check=True)
    return python, wheel


def version_of(python: Path, package: str) -> str:
    out = subprocess.run([str(python), "-c", f"import {package}; print({package}.__version__)"], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def run_chapter(python: Path, wheel: Path, notebook: Path) -> tuple[float, dict]:
    """Executes ``notebook`` (a copy, in a temporary folder outside the repository) with the fresh environment's
    kernel; returns ``(seconds, results file)``."""
    with tempfile.TemporaryDirectory(prefix="colab-check-") as tmp:
        tmp = Path(tmp)
        shutil.copy2(notebook, tmp / notebook.name)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}", SBIR_INSTALL=wheel.resolve().as_uri(),
                   SBIR_RESULTS_DIR=str(tmp / "results"), SBIR_NO_PROGRESS="1")
        start = time.perf_counter()
        subprocess.run([str(python), "-m", "papermill", notebook.name, "out.ipynb", "-k", "python3", "--cwd", str(tmp),
                        "--no-progress-bar"], cwd=tmp, env=env, check=True)
        seconds = time.perf_counter() - start
        chapter = notebook.name.split("_")[0]
        results = json.loads((tmp / "results" / f"{chapter}.json").read_text(encoding="utf-8"))
    return seconds, results


def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT / "book"))
    from build import REPORT, toc_notebooks

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="CHAPTER", help="these chapters only (e.g. ch00 ch02)")
    args = parser.parse_args(argv)
    chapters = [ROOT / f"{s}.ipynb" for s in toc_notebooks() if s != REPORT]
    if args.only:
        chapters = [c for c in chapters if c.name.split("_")[0] in args.only]
    python, wheel = fresh_environment()
    torch_before = version_of(python, "torch")
    failed = []
    for notebook in chapters:
        try:
            seconds, results = run_chapter(python, wheel, notebook)
        except subprocess.CalledProcessError as err:
            failed.append(notebook.name)
            print(f"FAIL {notebook.name}: {err}", flush=True)
            continue
        print(f"ok   {notebook.name}: {seconds:.0f} s, sbir_lib {results['environment']['sbir_lib']}, data: "
              f"{results['data']['name']}", flush=True)
    where = subprocess.run([str(python), "-c", "import sbir_lib; print(sbir_lib.__file__)"], check=True,
                           capture_output=True, text=True, cwd=tempfile.gettempdir()).stdout.strip()
    torch_after = version_of(python, "torch")
    problems = [f"torch changed from {torch_before} to {torch_after}"] if torch_after != torch_before else []
    if not where.startswith(str(WORK / "venv")):
        problems.append(f"sbir_lib imported from {where}, not from the fresh environment")
    for p in problems:
        print(f"FAIL {p}")
    print(f"{len(chapters) - len(failed)} of {len(chapters)} chapters ran; sbir_lib from {where}; torch {torch_after}")
    return 1 if failed or problems else 0


if __name__ == "__main__":
    sys.exit(main())

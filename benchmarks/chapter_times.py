"""Time every chapter's `ci` profile against its 5-minute budget on this machine.

Executes each notebook in `_toc.yml` with papermill (PROFILE="ci"), as `make book` and the tests do,
and prints one line per chapter, then as the last line
`chapters=<n> max_seconds=<s> budget_seconds=300 max_ratio=<s/300>` (a ratio <= 1 meets the budget).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import papermill
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 300.0


def main() -> int:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    notebooks = [ROOT / (c["file"] + ".ipynb") for part in toc["parts"] for c in part["chapters"]
                 if (ROOT / (c["file"] + ".ipynb")).is_file()]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SBIR_RESULTS_DIR"] = tmp
        for nb in notebooks:
            start = time.perf_counter()
            papermill.execute_notebook(str(nb), str(Path(tmp) / nb.name), parameters={"PROFILE": "ci"},
                                       cwd=str(nb.parent), kernel_name="python3", progress_bar=False)
            elapsed = time.perf_counter() - start
            times.append(elapsed)
            print(f"{nb.name}: {elapsed:.1f} s ({elapsed / BUDGET_S:.2f} of the budget)")
    worst = max(times) if times else 0.0
    print(f"chapters={len(times)} max_seconds={worst:.1f} budget_seconds={BUDGET_S:.0f} max_ratio={worst / BUDGET_S:.3f}")
    return 0 if worst <= BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())

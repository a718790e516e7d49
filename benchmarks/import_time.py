"""Time `import sbir_lib` in a fresh interpreter (goal: under 2 s), against `import numpy` as reference.

Each import is timed in its own new process, 5 times; the median is reported. Last line:
`import_seconds=<s> numpy_seconds=<r> ratio_vs_numpy=<s/r>`.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

CODE = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"


def timed(module: str, repeats: int = 5) -> float:
    runs = [float(subprocess.run([sys.executable, "-c", CODE.format(mod=module)], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(repeats)]
    return statistics.median(runs)


def main() -> None:
    lib = timed("sbir_lib")
    ref = timed("numpy")
    print(f"goal: under 2 s -> {'met' if lib < 2 else 'NOT met'}")
    print(f"import_seconds={lib:.4f} numpy_seconds={ref:.4f} ratio_vs_numpy={lib / ref:.3f}")


if __name__ == "__main__":
    main()

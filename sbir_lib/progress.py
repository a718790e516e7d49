"""Progress bars: live for a reader, none where nobody watches.

``tqdm.auto`` shows a widget bar in Jupyter and Colab and a text bar in a terminal. In a notebook
executed headless (``make book``, the papermill tests) the widget's later states are not saved, so
the rendered page shows the bar as first displayed, frozen: ``0%| | 0/60 [00:00<?, ?it/s]``.
tqdm's own ``TQDM_DISABLE`` does not help there: ``tqdm.notebook`` always passes ``disable``
itself, and an explicit argument wins over tqdm's environment defaults (tqdm 4.70). So the bars of
``sbir_lib`` and of the chapters are made by :func:`progress_bar`, which draws none when
``$SBIR_NO_PROGRESS`` is ``1``/``true``/``yes`` -- set by the Makefile and by ``tests/conftest.py``
for the notebooks they execute, never in a reader's Jupyter or Colab.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = ["NO_PROGRESS_VARIABLE", "progress_shown", "progress_bar"]

#: The environment variable that turns every :func:`progress_bar` off (headless runs).
NO_PROGRESS_VARIABLE = "SBIR_NO_PROGRESS"


def progress_shown() -> bool:
    """False when ``$SBIR_NO_PROGRESS`` is ``1``/``true``/``yes`` (a headless run), else True."""
    return os.environ.get(NO_PROGRESS_VARIABLE, "").strip().lower() not in ("1", "true", "yes")


def progress_bar(iterable: Iterable | None = None, *, desc: str | None = None, total: float | None = None,
                 enabled: bool = True, **options):
    """A ``tqdm.auto`` progress bar over ``iterable`` (or a manual one with ``total``).

    Args:
        iterable: what to loop over (``None``: update the bar by hand).
        desc: the label in front of the bar.
        total: the number of steps, when ``iterable`` has no length.
        enabled: ``False`` draws no bar (a function's ``progress=False``).
        options: other tqdm options (``leave``, ``unit``, ``mininterval``, ...); not ``disable``.

    Returns:
        the tqdm bar; disabled (draws nothing, still iterates and accepts ``set_postfix`` and
        ``close``) when ``enabled`` is False or :func:`progress_shown` is False.
    """
    if "disable" in options:
        raise TypeError("progress_bar: pass enabled=False instead of disable=True "
                        f"(headless runs turn every bar off with ${NO_PROGRESS_VARIABLE}=1)")
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=not (enabled and progress_shown()), **options)

"""Figures a chapter shows after training and searching: training curves and a query's results.

* :func:`plot_history` -- the loss (moving average) and the validation score of a training run,
  with the step whose weights were kept marked.
* :func:`result_strip` -- one query and its top-k results in a row, correct results framed green.

matplotlib is imported on first use; every function returns the ``Figure`` it drew.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["plot_history", "moving_average", "result_strip", "CORRECT_COLOUR", "WRONG_COLOUR"]

CORRECT_COLOUR = "#2ca02c"  # green frame: a correct result
WRONG_COLOUR = "#d62728"  # red frame: a wrong result
LOSS_COLOUR = "#1f77b4"
VALIDATION_COLOUR = "#ff7f0e"
KEPT_COLOUR = "#d62728"


def _plt():
    import matplotlib.pyplot as plt

    return plt


# --------------------------------------------------------------------------- training curves


def moving_average(values, window: int) -> np.ndarray:
    """Mean of each ``window`` consecutive values: ``(N - w + 1,)`` with ``w = min(window, N)``."""
    x = np.asarray(values, dtype=np.float64)
    w = max(1, min(int(window), len(x)))
    return np.convolve(x, np.ones(w) / w, mode="valid")


def plot_history(history, *, ax=None, smooth: int = 10, title: str | None = None):
    """Training curves of a run: loss per step and validation score, the kept step marked.

    Args:
        history: a :class:`sbir_lib.train.History`, or any object with ``losses`` (loss per
            step, steps 1..N), ``val`` (``[(step, score), ...]``) and ``best_step`` (the step whose
            weights were kept).
        ax: ``None``: a new figure with two panels, loss (left) and validation score (right);
            an ``Axes``: the loss on it (left y axis) and the score on a twin right y axis.
        smooth: the loss is drawn faint per step and as a moving average over ``smooth`` steps
            (1: per step only).
        title: the figure's (``ax=None``) or the axes' title.

    Returns:
        the matplotlib ``Figure``. The lines are labelled ``"loss"``, ``"loss, mean of W steps"``,
        ``"validation"`` and ``"kept: step S"`` (a star at the kept step's score).

    Raises:
        TypeError: ``history`` lacks ``losses``, ``val`` or ``best_step``.
        ValueError: no losses, a non-finite loss, or ``smooth`` < 1.
    """
    missing = [name for name in ("losses", "val", "best_step") if not hasattr(history, name)]
    if missing:
        raise TypeError(f"plot_history: history must have losses, val and best_step (a sbir_lib.train.History); "
                        f"{type(history).__name__} has no {', '.join(missing)}")
    if isinstance(smooth, bool) or not isinstance(smooth, (int, np.integer)) or smooth < 1:
        raise ValueError(f"plot_history: smooth must be an int >= 1 (steps), got {smooth!r}")
    losses = np.asarray(history.losses, dtype=np.float64)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError("plot_history: history.losses is empty: nothing was trained")
    if not np.isfinite(losses).all():
        raise ValueError(f"plot_history: history.losses has non-finite values at steps "
                         f"{(np.flatnonzero(~np.isfinite(losses)) + 1)[:5].tolist()}")
    val = [(int(step), float(score)) for step, score in history.val]
    best_step = int(history.best_step)

    plt = _plt()
    if ax is None:
        fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(9, 3.2))
        if title:
            fig.suptitle(title)
    else:
        ax_loss, fig = ax, ax.figure
        ax_val = ax.twinx() if val else None
        if title:
            ax.set_title(title)

    steps = np.arange(1, losses.size + 1)
    window = min(int(smooth), losses.size)
    if window > 1:
        ax_loss.plot(steps, losses, color=LOSS_COLOUR, alpha=0.25, linewidth=0.8, label="loss")
        ax_loss.plot(steps[window - 1:], moving_average(losses, window), color=LOSS_COLOUR,
                     label=f"loss, mean of {window} steps")
    else:
        ax_loss.plot(steps, losses, color=LOSS_COLOUR, label="loss")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.grid(alpha=0.3)

    if ax_val is not None:
        if val:
            val_steps, scores = zip(*val)
            ax_val.plot(val_steps, scores, color=VALIDATION_COLOUR, marker="o", markersize=4, label="validation")
            kept = [score for step, score in val if step == best_step]
            if kept:
                ax_val.plot([best_step], [kept[-1]], linestyle="none", marker="*", markersize=14,
                            color=KEPT_COLOUR, label=f"kept: step {best_step}")
            ax_val.set_ylabel("validation score")
        else:
            ax_val.text(0.5, 0.5, "no validation score recorded", ha="center", va="center",
                        transform=ax_val.transAxes, color="grey")
            ax_val.set_yticks([])
        if ax is None:
            ax_val.set_xlabel("step")
            ax_val.set_xlim(ax_loss.get_xlim())
            ax_val.grid(alpha=0.3)
    if ax is None:
        for axis in (ax_loss, ax_val):
            if axis.get_legend_handles_labels()[0]:
                axis.legend(fontsize="small", loc="best")
    else:  # one legend for the loss and the twin score axis
        handles, labels = ax_loss.get_legend_handles_labels()
        if ax_val is not None:
            more_handles, more_labels = ax_val.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
        ax_loss.legend(handles, labels, fontsize="small", loc="best")
    if ax is None:
        fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- query and results


def _image_for_display(image, name: str) -> tuple[np.ndarray, dict]:
    """An image and the ``imshow`` options that show it: grey = ink (dark on white), RGB as is."""
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        top = 255 if img.dtype == np.uint8 else 1
        return img, {"cmap": "gray_r", "vmin": 0, "vmax": top}
    if img.ndim == 3 and img.shape[2] in (3, 4):
        return img, {}
    hint = " (channels first? move them last)" if img.ndim == 3 and img.shape[0] in (1, 3, 4) else ""
    raise ValueError(f"result_strip: {name} must be (H, W) ink or (H, W, 3) RGB, got shape {img.shape}{hint}")


def result_strip(query_image, images: Sequence, *, titles: Sequence[str] | None = None,
                 correct: Sequence[bool | None] | None = None, size: float = 1.8):
    """One query and its ranked results in a row.

    Args:
        query_image: the query, drawn first with the title "query".
        images: the top-k results, best first. Images are ``(H, W)`` grey *ink* (1.0 or 255 = ink,
            drawn dark on white; float in [0, 1] or uint8) or ``(H, W, 3)`` RGB (float [0, 1] or uint8).
        titles: one per result (default: the ranks "1", "2", ...).
        correct: one per result: ``True`` frames it green, ``False`` red, ``None`` not at all
            (default: no frames).
        size: inches per image.

    Returns:
        the matplotlib ``Figure``; ``fig.axes`` are the query then the results.
    """
    k = len(images)
    if k == 0:
        raise ValueError("result_strip: images is empty: nothing to show")
    if titles is not None and len(titles) != k:
        raise ValueError(f"result_strip: got {len(titles)} titles for {k} images")
    if correct is not None and len(correct) != k:
        raise ValueError(f"result_strip: got {len(correct)} correct flags for {k} images")
    if not size > 0:
        raise ValueError(f"result_strip: size must be positive (inches), got {size!r}")
    shown = [_image_for_display(query_image, "query_image")]
    shown += [_image_for_display(image, f"images[{i}]") for i, image in enumerate(images)]

    plt = _plt()
    fig, axes = plt.subplots(1, k + 1, figsize=(size * (k + 1), size * 1.15), squeeze=False)
    axes = axes[0]
    for i, (ax, (img, options)) in enumerate(zip(axes, shown)):
        ax.imshow(img, **options)
        ax.set_xticks([])
        ax.set_yticks([])
        frame = None
        if i == 0:
            ax.set_title("query", fontsize="small", fontweight="bold")
        else:
            ax.set_title(str(titles[i - 1]) if titles is not None else str(i), fontsize="small")
            flag = None if correct is None else correct[i - 1]
            if flag is not None:
                frame = CORRECT_COLOUR if flag else WRONG_COLOUR
        for spine in ax.spines.values():
            spine.set_visible(frame is not None or i == 0)
            spine.set_edgecolor(frame or "black")
            spine.set_linewidth(4 if frame else 1)
    fig.tight_layout()
    return fig

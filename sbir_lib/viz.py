"""Figures of the book: embedding maps, retrieval grids, sketch and image grids, a drawing through the steps
of a pipeline, PR and training curves, and the doodle world's gallery.

Every function draws with matplotlib (imported on first use) and returns the ``Axes`` or
``Figure`` it drew on, so notebooks can restyle or save it.

**UMAP cost.** :func:`embed_2d` imports ``umap-learn`` lazily. Measured on the shared 2-core
development machine (umap-learn 0.5.12, numba 0.68): ``import umap`` takes 6-9 s and the first
``fit_transform`` in a process -- even of 300 x 16 points -- 47-56 s, almost all of it numba
compiling UMAP's kernels (a second process was not faster, so budget it per kernel restart);
later fits of small data take ~1 s. ``method="pca"`` (scikit-learn) is the instant fallback, used automatically -- with a
warning -- when umap-learn is missing or there are too few points for UMAP's neighbour graph.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "embed_2d",
    "scatter_by_class",
    "scatter_by_domain",
    "embedding_maps",
    "retrieval_grid",
    "sketch_grid",
    "image_grid",
    "polyline_steps",
    "plot_pr_curves",
    "plot_training_curves",
    "doodleworld_gallery",
    "attention_overlay",
]

CORRECT_COLOUR = "#2ca02c"  # green border: relevant retrieval
WRONG_COLOUR = "#d62728"  # red border: irrelevant retrieval


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize=(5, 5)):
    if ax is not None:
        return ax
    _, ax = _plt().subplots(figsize=figsize)
    return ax


def _points(xy, name: str = "xy") -> np.ndarray:
    arr = np.asarray(xy, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be (N, 2) coordinates, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def embed_2d(
    embeddings, method: str = "umap", *, random_state: int = 0, n_neighbors: int = 15, min_dist: float = 0.1
) -> tuple[np.ndarray, str]:
    """Project ``(N, D)`` embeddings to 2-D for plotting.

    method: ``"umap"`` (umap-learn, ``random_state`` fixed, so the same input gives the same map)
    or ``"pca"``. Returns ``(xy (N, 2) float64, method actually used)``; UMAP falls back to PCA
    with a warning if umap-learn cannot be imported or ``N <= n_neighbors``.
    """
    from .distances import check_embeddings

    x = check_embeddings(embeddings, "embeddings")
    if method not in ("umap", "pca"):
        raise ValueError(f"method={method!r} is not 'umap' or 'pca'")
    if len(x) < 3:
        raise ValueError(f"need at least 3 embeddings to draw a 2-D map, got {len(x)}")
    if method == "umap":
        reason = None
        if len(x) <= n_neighbors:
            reason = f"only {len(x)} points for n_neighbors={n_neighbors}"
        else:
            try:
                import umap
            except ImportError as exc:  # pragma: no cover - umap-learn is a dependency
                reason = f"umap-learn is not importable ({exc})"
        if reason is None:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*n_jobs value.*random_state.*")
                reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist,
                                    random_state=random_state)
                return np.asarray(reducer.fit_transform(x), dtype=np.float64), "umap"
        warnings.warn(f"UMAP unavailable ({reason}); using PCA instead", stacklevel=2)
    from sklearn.decomposition import PCA

    if x.shape[1] < 2:
        raise ValueError("PCA to 2-D needs embeddings of dimension >= 2")
    return PCA(n_components=2, random_state=random_state).fit_transform(x), "pca"


def scatter_by_class(xy, labels, *, ax=None, class_names: Mapping | None = None, s: float = 6.0, legend: bool = True):
    """Scatter ``(N, 2)`` points, one colour (one ``PathCollection``) per class label."""
    xy = _points(xy)
    labels = np.asarray(labels)
    if labels.shape != (len(xy),):
        raise ValueError(f"labels must have shape ({len(xy)},), got {labels.shape}")
    ax = _axes(ax)
    classes = np.unique(labels)
    cmap = _plt().get_cmap("tab20" if len(classes) > 10 else "tab10")
    for i, c in enumerate(classes):
        mask = labels == c
        name = class_names.get(c, c) if class_names else c
        ax.scatter(xy[mask, 0], xy[mask, 1], s=s, color=cmap(i % cmap.N), label=str(name))
    if legend and len(classes) <= 20:
        ax.legend(fontsize="small", markerscale=2, loc="best")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def scatter_by_domain(xy, domains, *, ax=None, colours: Mapping | None = None, s: float = 6.0,
                      markers: Mapping | None = None):
    """Scatter ``(N, 2)`` points coloured by domain (e.g. ``"sketch"``/``"photo"`` or
    ``"vector"``/``"raster"``): one ``PathCollection`` and one colour per domain."""
    xy = _points(xy)
    domains = np.asarray(domains)
    if domains.shape != (len(xy),):
        raise ValueError(f"domains must have shape ({len(xy)},), got {domains.shape}")
    ax = _axes(ax)
    default = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"]
    for i, dom in enumerate(np.unique(domains)):
        mask = domains == dom
        colour = (colours or {}).get(dom, default[i % len(default)])
        marker = (markers or {}).get(dom, "o")
        ax.scatter(xy[mask, 0], xy[mask, 1], s=s, color=colour, marker=marker, label=str(dom), alpha=0.7)
    ax.legend(fontsize="small", markerscale=2, loc="best")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def embedding_maps(embeddings: Mapping[str, np.ndarray], labels, domains, *, method: str = "umap",
                   random_state: int = 0, class_names: Mapping | None = None, size: float = 5.0):
    """2-D maps of the same items embedded at several moments (e.g. before and after training): one
    row per entry of ``embeddings``, its :func:`embed_2d` map coloured by class (left; the legend on
    the last row) and by domain (right), titled ``"<METHOD> by class, <moment>"`` and
    ``"<METHOD> by domain, <moment>"``.

    Args:
        embeddings: ``{moment: (N, D) embeddings}``, the same ``N`` items in every entry.
        labels: ``(N,)`` class label of every item (``class_names`` maps them to legend names).
        domains: ``(N,)`` domain of every item, e.g. ``"sketch"`` / ``"photo"``.
        method, random_state: of :func:`embed_2d` (UMAP falls back to PCA with a warning).
        size: inches per panel (width).

    Returns:
        the (pyplot) ``Figure``; ``fig.axes`` row-major, two per moment.
    """
    if not embeddings:
        raise ValueError("embedding_maps: embeddings is empty: nothing to map")
    sizes = {name: len(z) for name, z in embeddings.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"embedding_maps: every entry must embed the same items, got sizes {sizes}")
    fig, axes = _plt().subplots(len(embeddings), 2, figsize=(2 * size, 0.9 * size * len(embeddings)), squeeze=False)
    for row, (moment, z) in enumerate(embeddings.items()):
        xy, used = embed_2d(z, method, random_state=random_state)
        scatter_by_class(xy, labels, ax=axes[row, 0], class_names=class_names, legend=row == len(embeddings) - 1)
        scatter_by_domain(xy, domains, ax=axes[row, 1])
        axes[row, 0].set_title(f"{used.upper()} by class, {moment}")
        axes[row, 1].set_title(f"{used.upper()} by domain, {moment}")
    fig.tight_layout()
    return fig


def _show_image(ax, image, border=None, cmap: str = "gray"):
    img = np.asarray(image)
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3, 4)):
        raise ValueError(f"images must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got shape {img.shape}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    ax.imshow(img, cmap=cmap if img.ndim == 2 else None, vmin=0 if img.ndim == 2 else None,
              vmax=(255 if img.dtype == np.uint8 else 1) if img.ndim == 2 else None)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(border is not None)
        if border is not None:
            spine.set_edgecolor(border)
            spine.set_linewidth(4)


def retrieval_grid(queries, retrieved, correct, *, titles: Sequence[str] | None = None, size: float = 1.6):
    """The papers' qualitative figure: one row per query -- the query, then its top-k results
    framed green (relevant) or red (not).

    queries: Q images; retrieved: Q sequences of k images (ranked); correct: (Q, k) bool.
    Images are (H, W) grey or (H, W, 3) RGB arrays (uint8 0-255 or float 0-1).
    Returns the Figure; ``fig.axes`` is row-major, ``k + 1`` axes per row.
    """
    correct = np.asarray(correct, dtype=bool)
    if correct.ndim == 1:
        correct = correct[None, :]
        queries, retrieved = [queries], [retrieved]
    n_q, k = correct.shape
    if len(queries) != n_q or len(retrieved) != n_q or any(len(r) != k for r in retrieved):
        raise ValueError(f"need {n_q} queries and {n_q} rows of {k} retrieved images to match correct {correct.shape}")
    plt = _plt()
    fig, axes = plt.subplots(n_q, k + 1, figsize=(size * (k + 1), size * n_q), squeeze=False)
    for row in range(n_q):
        _show_image(axes[row, 0], queries[row], border="black")
        axes[row, 0].set_title(titles[row] if titles else "query", fontsize="small")
        for col in range(k):
            colour = CORRECT_COLOUR if correct[row, col] else WRONG_COLOUR
            _show_image(axes[row, col + 1], retrieved[row][col], border=colour)
            if row == 0:
                axes[row, col + 1].set_title(str(col + 1), fontsize="small")
    fig.tight_layout()
    return fig


def sketch_grid(sketches: Sequence, *, ncols: int = 8, titles: Sequence[str] | None = None,
                size: float = 1.5, linewidth: float = 1.5):
    """Draw stroke-3 sketches (``(N, 3)`` rows ``dx, dy, pen_lifted``) in a grid, one Line2D per
    stroke, y pointing down as on the drawing canvas. Returns the Figure."""
    from .strokes import stroke3_to_polylines

    if len(sketches) == 0:
        raise ValueError("sketches is empty")
    if titles is not None and len(titles) != len(sketches):
        raise ValueError(f"got {len(titles)} titles for {len(sketches)} sketches")
    polylines = [stroke3_to_polylines(s) for s in sketches]
    ncols = max(1, min(ncols, len(sketches)))
    nrows = -(-len(sketches) // ncols)
    plt = _plt()
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= len(polylines):
            ax.axis("off")
            continue
        for line in polylines[i]:
            ax.plot(line[:, 0], line[:, 1], color="black", linewidth=linewidth, solid_capstyle="round",
                    marker="o" if len(line) == 1 else None, markersize=linewidth)
        ax.set_aspect("equal")
        ax.invert_yaxis()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize="small")
    fig.tight_layout()
    return fig


def image_grid(rows: Sequence[Sequence], *, titles: Sequence[Sequence[str] | None] | None = None,
               cmap: str = "gray_r", size: float = 1.8, suptitle: str | None = None):
    """Images in rows, e.g. sketches above the photos they were drawn from, or one sketch rendered
    at several sizes (one row per line width).

    Args:
        rows: one sequence of images per row (rows may differ in length: the grid is as wide as the
            longest row, the cells left over stay blank). An image is ``(H, W)`` grey, drawn with
            ``cmap`` from 0 to 1 (floats) or 0 to 255 (uint8) -- the default ``"gray_r"`` shows
            1 = ink dark on white, ``"gray"`` shows 0 as black -- or ``(H, W, 3)`` RGB.
        titles: one entry per row: ``None`` (no titles on that row) or one title per image.
        size: inches per image.
        suptitle: the figure's title.

    Returns:
        the (pyplot) ``Figure``; ``fig.axes`` is row-major, one per grid cell.
    """
    rows = [list(row) for row in rows]
    if not rows or not any(rows):
        raise ValueError("image_grid: rows is empty: nothing to show")
    if titles is not None:
        if len(titles) != len(rows):
            raise ValueError(f"image_grid: got {len(titles)} rows of titles for {len(rows)} rows of images")
        for r, (row, row_titles) in enumerate(zip(rows, titles)):
            if row_titles is not None and len(row_titles) != len(row):
                raise ValueError(f"image_grid: row {r} has {len(row)} images but {len(row_titles)} titles")
    ncols = max(len(row) for row in rows)
    fig, axes = _plt().subplots(len(rows), ncols, figsize=(size * ncols, size * len(rows) * 1.08), squeeze=False)
    for r, row in enumerate(rows):
        for c, ax in enumerate(axes[r]):
            if c >= len(row):
                ax.axis("off")
                continue
            _show_image(ax, row[c], cmap=cmap)
            if titles is not None and titles[r] is not None:
                ax.set_title(str(titles[r][c]), fontsize="small")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def polyline_steps(steps: Mapping[str, Sequence], *, size: float = 2.6, point_colour: str = "tab:red"):
    """One drawing through the steps of a pipeline, one panel per step from left to right (Chapter 1:
    Quick, Draw!'s simplification -- raw, aligned and scaled, resampled, simplified).

    Every stroke is drawn as a black line with its points as dots, y pointing down as on the canvas,
    each panel titled ``"<step>\n<n> points"`` (the points of all its strokes).

    Args:
        steps: ``{step name: polylines}``, the polylines a list of ``(N_i, 2)`` absolute ``(x, y)``
            arrays, one per stroke.
        size: inches per panel.
        point_colour: the colour of the dots.

    Returns:
        the (pyplot) ``Figure``; panel ``i`` holds two ``Line2D`` per stroke (the line, then its dots).
    """
    from .strokes import validate_polylines

    if not steps:
        raise ValueError("polyline_steps: steps is empty: nothing to show")
    drawings = {str(name): validate_polylines(lines, name=f"steps[{name!r}]") for name, lines in steps.items()}
    fig, axes = _plt().subplots(1, len(drawings), figsize=(size * len(drawings), size * 1.12), squeeze=False)
    for ax, (name, lines) in zip(axes[0], drawings.items()):
        for line in lines:
            ax.plot(line[:, 0], line[:, 1], "-", lw=1, color="black")
            ax.plot(line[:, 0], line[:, 1], ".", ms=2, color=point_colour)
        ax.set_title(f"{name}\n{sum(len(line) for line in lines)} points", fontsize=9)
        ax.invert_yaxis()
        ax.set_aspect("equal")
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_pr_curves(curves: Mapping[str, tuple], *, ax=None, title: str | None = None):
    """Precision-recall curves: ``{name: (recall, precision)}`` (e.g. from
    :func:`sbir_lib.metrics.mean_precision_recall_curve`), one line per name."""
    if not curves:
        raise ValueError("curves is empty")
    ax = _axes(ax)
    for name, (recall, precision) in curves.items():
        recall, precision = np.asarray(recall, float), np.asarray(precision, float)
        if recall.shape != precision.shape or recall.ndim != 1:
            raise ValueError(f"curve {name!r}: recall {recall.shape} and precision {precision.shape} differ")
        ax.plot(recall, precision, marker=".", label=str(name))
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_training_curves(history: Mapping[str, Sequence[float]], *, ax=None, xlabel: str = "epoch",
                         logy: bool = False, title: str | None = None):
    """Training curves: ``{name: values per step/epoch}`` (losses, mAP, ...), one line each."""
    if not history:
        raise ValueError("history is empty")
    ax = _axes(ax, figsize=(6, 4))
    for name, values in history.items():
        y = np.asarray(values, dtype=float)
        if y.ndim != 1 or y.size == 0:
            raise ValueError(f"history[{name!r}] must be a non-empty 1-D sequence")
        ax.plot(np.arange(1, y.size + 1), y, label=str(name))
    ax.set_xlabel(xlabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def doodleworld_gallery(classes: Sequence[str] | None = None, *, seed: int = 0, difficulty: float | None = None,
                        image_size: int = 96, columns: int = 2, max_variants: int = 3):
    """The doodle world's gallery (Chapter 1): for every class, a sketch beside the photo of the same
    instance for each of its variants (up to ``max_variants``), titled ``"<class>: <variant>"``.

    Returns a matplotlib ``Figure`` (no pyplot state). Sketches are drawn as ``(image_size,
    image_size)`` grey images (ink dark on white), photos as ``(image_size, image_size, 3)`` RGB.

    Args:
        classes: class names (default: every class of the world).
        seed, difficulty: the :class:`~sbir_lib.data.doodleworld.DoodleWorld` (difficulty ``None``:
            its ``DEFAULT_DIFFICULTY``).
        image_size: side of every panel's image, in pixels.
        columns: classes side by side per figure row (each class takes ``2 * max_variants`` panels).
    """
    from matplotlib.figure import Figure

    from .data.doodleworld.world import DEFAULT_DIFFICULTY, DoodleWorld
    from .render import rasterize

    if not isinstance(columns, int) or columns < 1 or not isinstance(max_variants, int) or max_variants < 1:
        raise ValueError(f"columns and max_variants must be positive integers, got {columns!r}, {max_variants!r}")
    world = DoodleWorld(seed, DEFAULT_DIFFICULTY if difficulty is None else difficulty, image_size, classes)
    names = world.classes
    per_class = 2 * max_variants
    rows = -(-len(names) // columns)
    fig = Figure(figsize=(1.1 * per_class * columns, 1.25 * rows))
    axes = fig.subplots(rows, per_class * columns, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for c, name in enumerate(names):
        r, col0 = divmod(c, columns)
        col0 *= per_class
        variants = world.instance(name, 0).model.variants[:max_variants]
        for j, v in enumerate(variants):
            inst = world.instance(name, j, variant=v)
            sketch = 1.0 - rasterize(world.sketch(inst), image_size, line_width=1.5, canvas=256)
            ax_s, ax_p = axes[r, col0 + 2 * j], axes[r, col0 + 2 * j + 1]
            ax_s.imshow(sketch, cmap="gray", vmin=0, vmax=1)
            ax_p.imshow(world.photo(inst))
            ax_s.set_title(f"{name}: {v}", fontsize=6, loc="left")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.98, bottom=0.01, wspace=0.05, hspace=0.35)
    return fig


def attention_overlay(images, maps, *, titles: Sequence[str] | None = None, size: float = 1.8, alpha: float = 0.5):
    """Each image with an attention map over it: ``maps`` ``(N, h, w)`` in [0, 1] (e.g. a soft-attention
    mask over a CNN's feature grid) stretched to the image (bilinear) and drawn in ``jet`` with ``alpha``.
    Images as in :func:`retrieval_grid`. Returns the Figure (one row)."""
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3 or len(maps) != len(images) or len(images) == 0:
        raise ValueError(f"need N images and (N, h, w) maps, got {len(images)} images and maps of shape {maps.shape}")
    from PIL import Image

    fig, axes = _plt().subplots(1, len(images), figsize=(size * len(images), size * 1.1), squeeze=False)
    for i, (ax, image) in enumerate(zip(axes[0], images)):
        img = np.asarray(image)
        _show_image(ax, img)
        up = Image.fromarray(maps[i].astype(np.float32)).resize((img.shape[1], img.shape[0]), Image.BILINEAR)
        ax.imshow(np.asarray(up), cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0)
        if titles:
            ax.set_title(titles[i], fontsize="small")
    fig.tight_layout()
    return fig

"""The doodle-world gallery figure (Chapter 1): for every class, sketches beside photos, per variant."""

from __future__ import annotations

from collections.abc import Sequence


from .world import DEFAULT_DIFFICULTY, DoodleWorld

__all__ = ["gallery_figure"]


def gallery_figure(classes: Sequence[str] | None = None, *, seed: int = 0, difficulty: float = DEFAULT_DIFFICULTY,
                   image_size: int = 96, columns: int = 2, max_variants: int = 3):
    """A matplotlib ``Figure`` (no pyplot state): for every class, a sketch beside the photo of
    the same instance for each of its variants (up to ``max_variants``), titled
    ``"<class>: <variant>"``.

    Args:
        classes: class names (default: every class of the world).
        columns: classes side by side per figure row (each class takes ``2 * max_variants`` panels).
    """
    from matplotlib.figure import Figure

    from ...render import rasterize

    world = DoodleWorld(seed, difficulty, image_size, classes)
    names = world.classes
    if not isinstance(columns, int) or columns < 1 or not isinstance(max_variants, int) or max_variants < 1:
        raise ValueError(f"columns and max_variants must be positive integers, got {columns!r}, {max_variants!r}")
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
            sk = 1.0 - rasterize(world.sketch(inst), image_size, line_width=1.5, canvas=256)
            ax_s, ax_p = axes[r, col0 + 2 * j], axes[r, col0 + 2 * j + 1]
            ax_s.imshow(sk, cmap="gray", vmin=0, vmax=1)
            ax_p.imshow(world.photo(inst))
            ax_s.set_title(f"{name}: {v}", fontsize=6, loc="left")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.98, bottom=0.01, wspace=0.05, hspace=0.35)
    return fig

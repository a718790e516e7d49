"""Draw and search: a :class:`~sbir_lib.widgets.SketchPad` whose query is searched after every stroke.

:func:`draw_and_search` is the last section of a retrieval chapter in one call. The reader draws;
after each stroke the chapter's ``search(query)`` runs and its results replace the previous ones
below the pad. Where no browser is attached (papermill, the static book) the displayed widget
carries a static picture -- the pad's query (the stored example until someone draws) and the
results of searching with it -- beside the live widget view, so the book shows a query and its
results once, and a live notebook shows only the live widget.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable

import ipywidgets
import numpy as np

from .widgets import SketchPad

__all__ = ["SketchSearch", "SuggestingSearch", "draw_and_search"]


def _png_of(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


class SketchSearch(ipywidgets.VBox):
    """A drawing pad above the results of searching with its query, searched again after each stroke.

    Args:
        search: ``search(query)`` with ``query`` the pad's stroke-3 sketch ``(N, 3) float32``
            (canvas pixels, or the example's 0..255 pixels until something is drawn); returns a
            matplotlib ``Figure``, or ``(query_image, images, titles)``, drawn with
            :func:`sbir_lib.figures.result_strip` (the first ``k`` images and titles).
        example: the example sketch searched with until the reader draws
            (:func:`sbir_lib.examples.available_examples`).
        width, height: the pad's canvas in pixels.
        k: how many results of a ``(query_image, images, titles)`` answer are shown.

    The first search runs on construction, so an error in ``search`` shows at once. Later
    searches (after a stroke) show their errors below the pad in a live notebook.
    """

    def __init__(self, search: Callable, *, example: str = "shoe", width: int = 256, height: int = 256,
                 k: int = 5, **kwargs):
        if not callable(search):
            raise TypeError(f"draw_and_search: search must be callable, got {type(search).__name__}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"draw_and_search: k must be an int >= 1, got {k!r}")
        if example is None:
            raise ValueError("draw_and_search: example must name an example sketch: headless runs and the "
                             "static book search with it")
        self._pad = SketchPad(width=width, height=height, example=example)
        self._output = ipywidgets.Output()
        super().__init__([self._pad, self._output], **kwargs)
        self._search = search
        self._k = int(k)
        self._results_png: bytes | None = None
        self._n_searches = 0
        self._pad.on_stroke(self._on_stroke)
        self.refresh()

    @property
    def pad(self) -> SketchPad:
        """The drawing pad."""
        return self._pad

    @property
    def output(self) -> ipywidgets.Output:
        """The output area under the pad where the results are shown."""
        return self._output

    @property
    def results_png(self) -> bytes | None:
        """The latest results figure as PNG bytes."""
        return self._results_png

    @property
    def n_searches(self) -> int:
        """How many searches have run (1 after construction, one more per stroke)."""
        return self._n_searches

    def refresh(self):
        """Search with the pad's current query and show the results; returns the (closed) Figure.

        The results replace the output area's state directly rather than being displayed inside
        ``with output:``: under nbclient (papermill, Jupyter Book) output captured by a widget makes
        the client reply to the kernel on the channel it is reading, which can hang the run
        (jupyter/nbclient#312)."""
        fig = self._results_figure(self._search(self._pad.query()))
        self._n_searches += 1
        try:
            self._results_png = _png_of(fig)
            png = base64.b64encode(self._results_png).decode("ascii")
            self._output.outputs = ({"output_type": "display_data", "metadata": {},
                                     "data": {"image/png": png, "text/plain": "search results"}},)
        finally:
            # closed: matplotlib's inline backend would otherwise show it again at the end of the cell
            import matplotlib.pyplot as plt

            plt.close(fig)
        return fig

    def _on_stroke(self, _pad) -> None:
        # Inside the output area: in a live notebook a failing search shows its traceback there.
        with self._output:
            self.refresh()

    def _results_figure(self, answer):
        from matplotlib.figure import Figure

        if isinstance(answer, Figure):
            return answer
        if isinstance(answer, tuple) and len(answer) == 3:
            from .figures import result_strip

            query_image, images, titles = answer
            images = list(images)[: self._k]
            titles = None if titles is None else [str(t) for t in list(titles)[: self._k]]
            return result_strip(query_image, images, titles=titles)
        raise TypeError(f"draw_and_search: search must return a matplotlib Figure or a tuple "
                        f"(query_image, images, titles), got {type(answer).__name__}")

    def __repr__(self) -> str:
        return f"SketchSearch({self._pad!r}, {self._n_searches} searches)"

    def _repr_mimebundle_(self, **kwargs):
        """The live widget view, plus a static picture (the pad's sketch and the latest results) as
        ``text/html`` for a notebook rendered without a browser, and ``text/plain``."""
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        pad_html = self._pad._repr_mimebundle_().get("text/html", "")
        parts = [pad_html]
        if self._results_png is not None:
            png = base64.b64encode(self._results_png).decode("ascii")
            alt = html.escape("search results for the sketch above", quote=True)
            parts.append(f'<img src="data:image/png;base64,{png}" alt="{alt}" style="max-width: 100%"/>')
        bundle["text/html"] = '<div class="sbir-sketch-search">' + "<br/>".join(p for p in parts if p) + "</div>"
        return bundle


class SuggestingSearch(SketchSearch):
    """LiveSketch's loop (Collomosse et al. 2019, Fig. 2) around a pad: draw -> search (results shown in
    ``m`` clusters by ``search``) -> one slider per cluster -> "suggest" draws the suggested sketch back on the
    pad -> search again.

    Args:
        search: as for :class:`SketchSearch` (typically a figure with one row of results per cluster).
        suggest: ``suggest(query, weights)`` with the pad's stroke-3 query and the ``m`` slider values in
            ``[0, 1]``; returns the suggested stroke-3 sketch (any units: it is fitted to the canvas).
        m: number of sliders (clusters).
    """

    def __init__(self, search: Callable, suggest: Callable, *, m: int = 3, example: str = "shoe",
                 width: int = 256, height: int = 256, k: int = 5, **kwargs):
        if not callable(suggest):
            raise TypeError(f"SuggestingSearch: suggest must be callable, got {type(suggest).__name__}")
        if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1:
            raise ValueError(f"SuggestingSearch: m must be an int >= 1, got {m!r}")
        super().__init__(search, example=example, width=width, height=height, k=k, **kwargs)
        self._suggest = suggest
        self._sliders = [ipywidgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description=f"cluster {i + 1}")
                         for i in range(int(m))]
        self._button = ipywidgets.Button(description="suggest a sketch")
        self._button.on_click(lambda _button: self._on_suggest())
        self.children = (self._pad, ipywidgets.HBox([ipywidgets.VBox(self._sliders), self._button]), self._output)
        self._n_suggestions = 0

    @property
    def weights(self) -> np.ndarray:
        """``(m,)`` the sliders' values."""
        return np.array([s.value for s in self._sliders], dtype=np.float64)

    @weights.setter
    def weights(self, values) -> None:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(values) != len(self._sliders):
            raise ValueError(f"SuggestingSearch: need {len(self._sliders)} weights, got {len(values)}")
        for slider, v in zip(self._sliders, values):
            slider.value = float(v)

    @property
    def n_suggestions(self) -> int:
        """How many suggestions have been drawn back on the pad."""
        return self._n_suggestions

    def apply_suggestion(self) -> np.ndarray:
        """Ask for a suggestion with the current query and weights, draw it on the pad (fitted to the canvas),
        search again; returns the suggested stroke-3 sketch."""
        suggestion = self._suggest(self._pad.query(), self.weights)
        self._pad.load(suggestion, fit=True)
        self._n_suggestions += 1
        self.refresh()
        return suggestion

    def _on_suggest(self) -> None:
        with self._output:
            self.apply_suggestion()

    def __repr__(self) -> str:
        return f"SuggestingSearch({self._pad!r}, {self._n_searches} searches, {self._n_suggestions} suggestions)"


def draw_and_search(search: Callable, *, example: str = "shoe", width: int = 256, height: int = 256,
                    k: int = 5) -> None:
    """Display a drawing pad and, under it, the results of ``search`` for its query, redone after every stroke.

    ``search(query)`` gets the pad's stroke-3 sketch and returns a ``Figure`` or
    ``(query_image, images, titles)`` (see :class:`SketchSearch`). The first search runs at once
    with the ``example`` sketch, so the static book shows a query and its results.

    Returns nothing (so that the widget is not shown twice as the cell's value); build a
    :class:`SketchSearch` and display it to keep a handle on the pad.
    """
    from IPython.display import display

    display(SketchSearch(search, example=example, width=width, height=height, k=k))

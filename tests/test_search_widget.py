"""Tests for sbir_lib.search_widget, driven without a browser (strokes sent as the ipycanvas frontend
sends them, see tests/test_widgets.py)."""

from __future__ import annotations

import base64
import io
import re

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from sbir_lib.examples import example_sketch
from sbir_lib.search_widget import SketchSearch, draw_and_search
from sbir_lib.widgets import SketchPad


def send(pad: SketchPad, event: str, x, y) -> None:
    pad.canvas._handle_frontend_event(pad.canvas, {"event": event, "x": x, "y": y}, [])


def drag(pad: SketchPad, points) -> None:
    send(pad, "mouse_down", *points[0])
    for p in points[1:-1]:
        send(pad, "mouse_move", *p)
    send(pad, "mouse_up", *points[-1])


class RecordingSearch:
    """A search that records its queries and answers ``n_strokes + 1`` grey squares."""

    def __init__(self):
        self.queries = []

    def __call__(self, query):
        self.queries.append(np.array(query))
        n = int(np.asarray(query)[:, 2].sum()) + 1
        return np.zeros((8, 8)), [np.ones((8, 8))] * n, [f"r{i}" for i in range(n)]


def png_shape(png: bytes) -> tuple[int, int]:
    """(height, width) of a PNG."""
    return np.asarray(Image.open(io.BytesIO(png))).shape[:2]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_first_search_runs_with_the_example_and_every_stroke_searches_again():
    search = RecordingSearch()
    widget = SketchSearch(search, example="fish", width=200, height=100, k=5)
    assert widget.pad.size == (200, 100) and widget.pad.example == "fish"
    assert widget.n_searches == 1
    np.testing.assert_array_equal(search.queries[0], example_sketch("fish"))

    drag(widget.pad, [(10, 10), (50, 40), (90, 20)])  # the stroke callback path
    assert widget.n_searches == 2
    np.testing.assert_array_equal(search.queries[1], [[10, 10, 0], [40, 30, 0], [40, -20, 1]])
    one_stroke_png = widget.results_png
    drag(widget.pad, [(20, 80), (30, 90)])
    assert widget.n_searches == 3 and len(search.queries) == 3
    # 1 stroke -> query + 2 results, 2 strokes -> query + 3 results: the strip grows by one image
    height_1, width_1 = png_shape(one_stroke_png)
    height_2, width_2 = png_shape(widget.results_png)
    assert height_2 == pytest.approx(height_1, abs=2) and width_2 / width_1 == pytest.approx(4 / 3, rel=0.05)


def test_k_keeps_the_first_k_results_of_a_tuple_answer():
    def search(query):
        return np.zeros((8, 8)), [np.ones((8, 8))] * 9, [str(i) for i in range(9)]

    widget = SketchSearch(search, example="cup", k=3)
    fig = widget.refresh()
    assert [ax.get_title() for ax in fig.axes] == ["query", "0", "1", "2"]
    assert plt.get_fignums() == []  # closed, so the inline backend does not show it a second time


def test_a_figure_answer_is_shown_as_it_is():
    made = []

    def search(query):
        fig, ax = plt.subplots(figsize=(2, 1))
        ax.plot(query[:, 0], query[:, 1])
        made.append(fig)
        return fig

    widget = SketchSearch(search, example="tree")
    assert widget.refresh() is made[-1] and len(made) == 2
    assert widget.results_png.startswith(b"\x89PNG")


def test_static_display_has_the_widget_view_the_query_sketch_and_the_results():
    widget = SketchSearch(RecordingSearch(), example="shoe")
    bundle = widget._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == widget.model_id
    assert bundle["text/plain"] == "SketchSearch(SketchPad(256x256: empty; the 'shoe' example is used until you draw), 1 searches)"
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)"', bundle["text/html"])
    assert len(images) == 2
    assert base64.b64decode(images[0]) == widget.pad.to_png()  # the query (example) sketch
    assert base64.b64decode(images[1]) == widget.results_png  # and its results
    assert 'alt="search results for the sketch above"' in bundle["text/html"]


def test_draw_and_search_displays_the_widget_and_returns_nothing(monkeypatch):
    displayed = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: displayed.extend(objs))
    assert draw_and_search(RecordingSearch(), example="house", k=2) is None
    (widget,) = [obj for obj in displayed if isinstance(obj, SketchSearch)]
    assert isinstance(widget, SketchSearch) and widget.pad.example == "house" and widget.n_searches == 1


def test_arguments_and_answers_are_checked():
    with pytest.raises(TypeError, match="search must be callable, got int"):
        SketchSearch(3)
    with pytest.raises(ValueError, match="k must be an int >= 1, got 0"):
        SketchSearch(RecordingSearch(), k=0)
    with pytest.raises(ValueError, match="example must name an example sketch"):
        SketchSearch(RecordingSearch(), example=None)
    with pytest.raises(KeyError, match="unknown example 'dog'"):
        SketchSearch(RecordingSearch(), example="dog")
    with pytest.raises(TypeError, match=r"search must return a matplotlib Figure or a tuple \(query_image, images, "
                                        r"titles\), got list"):
        SketchSearch(lambda query: [1, 2, 3])


def test_a_failing_search_on_a_stroke_does_not_break_the_pad(caplog):
    calls = []

    def search(query):
        calls.append(len(query))
        if len(calls) > 1:
            raise RuntimeError("index not built")
        return np.zeros((8, 8)), [np.ones((8, 8))], ["a"]

    widget = SketchSearch(search, example="shoe")
    drag(widget.pad, [(10, 10), (20, 20)])  # the error is reported (outside IPython: logged), not raised
    assert len(calls) == 2 and len(widget.pad.polylines) == 1
    assert "index not built" in caplog.text


def test_results_replace_the_output_area_without_capturing_output():
    """The results go into the Output widget's state (no ``with output:`` capture, which can hang nbclient)."""
    import base64

    from sbir_lib.search_widget import SketchSearch

    widget = SketchSearch(lambda q: (np.zeros((8, 8)), [np.ones((8, 8))] * 3, ["a", "b", "c"]), example="house", k=2)
    (out,) = widget.output.outputs
    assert out["output_type"] == "display_data"
    assert base64.b64decode(out["data"]["image/png"]) == widget.results_png
    widget.refresh()
    assert len(widget.output.outputs) == 1 and widget.n_searches == 2


def test_suggesting_search_draws_the_suggestion_back_and_searches_again():
    from sbir_lib.search_widget import SuggestingSearch

    calls = []

    def search(query):
        calls.append(np.asarray(query).copy())
        fig = plt.figure()
        fig.add_subplot().plot([0, 1])
        return fig

    suggested = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 1]], np.float32)     # an L, in any units
    seen = {}

    def suggest(query, weights):
        seen["weights"] = weights.copy()
        return suggested

    widget = SuggestingSearch(search, suggest, m=3, example="house")
    assert widget.n_searches == 1 and widget.weights.tolist() == [0.0, 0.0, 0.0]
    widget.weights = [0.25, 1.0, 0.0]
    out = widget.apply_suggestion()
    assert out is suggested and seen["weights"].tolist() == [0.25, 1.0, 0.0]
    assert widget.n_searches == 2 and widget.n_suggestions == 1
    lines = widget.pad.polylines
    assert len(lines) == 1 and len(lines[0]) == 3                       # the pad now holds the suggestion
    seg = np.diff(lines[0], axis=0)
    assert np.allclose(np.abs(seg[0, 0]), np.abs(seg[1, 1])) and seg[0, 1] == 0 and seg[1, 0] == 0   # same shape
    assert len(calls[-1]) == 3                                           # the second search used the suggestion
    with pytest.raises(ValueError, match="need 3 weights"):
        widget.weights = [1.0]
    with pytest.raises(TypeError, match="suggest must be callable"):
        SuggestingSearch(search, None, example="house")

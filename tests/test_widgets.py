"""Tests for sbir_lib.widgets.SketchPad, driven without a browser.

Events are sent to the canvas exactly as the ipycanvas 0.14 frontend sends them
(``CanvasView.onMouseDown`` etc.: ``model.send({event: "mouse_down", x, y})``, and for touches
``{event: "touch_start", touches: [{x, y}, ...]}`` with ``event.touches``, i.e. the fingers still on
the screen, so ``touch_end`` usually carries an empty list), through the handler that ipycanvas
registers with ``on_msg``: ``Canvas._handle_frontend_event(widget, content, buffers)``.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image

from sbir_lib.errors import SketchFormatError
from sbir_lib.examples import example_sketch
from sbir_lib.strokes import stroke3_to_polylines
from sbir_lib.widgets import SketchPad


def send(pad: SketchPad, event: str, x=None, y=None, touches=None) -> None:
    content = {"event": event}
    if touches is not None:
        content["touches"] = [{"x": tx, "y": ty} for tx, ty in touches]
    else:
        content["x"], content["y"] = x, y
    pad.canvas._handle_frontend_event(pad.canvas, content, [])


def drag(pad: SketchPad, points) -> None:
    """Press at the first point, move through the middle ones, release at the last."""
    send(pad, "mouse_down", *points[0])
    for p in points[1:-1]:
        send(pad, "mouse_move", *p)
    send(pad, "mouse_up", *points[-1])


def png_of(bundle) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(bundle["image/png"]))))


# ----------------------------------------------------------------------------- recording


def test_mouse_stroke_is_recorded_as_polyline_and_stroke3():
    pad = SketchPad()
    assert pad.is_empty and pad.strokes is None and pad.polylines == []
    drag(pad, [(10, 20), (15.5, 22), (30, 40)])
    assert not pad.is_empty
    (line,) = pad.polylines
    assert line.dtype == np.float64
    np.testing.assert_array_equal(line, [[10, 20], [15.5, 22], [30, 40]])
    # stroke-3: first row from the origin, then offsets; pen lifted on the last point
    np.testing.assert_array_equal(pad.strokes, [[10, 20, 0], [5.5, 2, 0], [14.5, 18, 1]])
    assert pad.strokes.dtype == np.float32


def test_two_strokes_give_pen_lifts_at_the_end_of_each():
    pad = SketchPad()
    drag(pad, [(0, 0), (10, 0), (10, 10)])
    drag(pad, [(100, 100), (120, 90)])
    s = pad.strokes
    np.testing.assert_array_equal(s[:, 2], [0, 0, 1, 0, 1])
    np.testing.assert_array_equal(s[3, :2], [90, 90])  # jump from (10, 10) to (100, 100)
    assert [len(p) for p in pad.polylines] == [3, 2]


def test_moves_and_releases_without_a_press_are_ignored():
    calls = []
    pad = SketchPad(on_stroke=calls.append)
    send(pad, "mouse_move", 5, 5)
    send(pad, "mouse_up", 6, 6)
    send(pad, "mouse_out", 7, 7)
    send(pad, "touch_move", touches=[(8, 8)])
    send(pad, "touch_end", touches=[])
    assert pad.is_empty and calls == []
    drag(pad, [(1, 1), (2, 2)])
    send(pad, "mouse_move", 50, 50)  # after the release: hover, not drawing
    np.testing.assert_array_equal(pad.polylines[0], [[1, 1], [2, 2]])


def test_click_without_move_is_a_one_point_stroke_and_repeated_points_are_dropped():
    pad = SketchPad()
    send(pad, "mouse_down", 40, 41)
    send(pad, "mouse_up", 40, 41)
    drag(pad, [(5, 5), (5, 5), (6, 5), (6, 5), (6, 5)])
    assert [p.tolist() for p in pad.polylines] == [[[40, 41]], [[5, 5], [6, 5]]]
    np.testing.assert_array_equal(pad.strokes, [[40, 41, 1], [-35, -36, 0], [1, 0, 1]])


def test_mouse_out_while_drawing_ends_the_stroke_at_the_clipped_exit_point():
    calls = []
    pad = SketchPad(width=200, height=100, on_stroke=calls.append)
    send(pad, "mouse_down", 150, 50)
    send(pad, "mouse_move", 190, 60)
    send(pad, "mouse_out", 201.5, 61)  # the pointer is already a pixel outside
    assert len(calls) == 1
    send(pad, "mouse_move", 100, 10)  # back over the canvas with the button still up
    send(pad, "mouse_up", 100, 10)
    assert len(calls) == 1
    np.testing.assert_array_equal(pad.polylines[0], [[150, 50], [190, 60], [200, 61]])


def test_press_without_release_is_closed_by_the_next_press():
    pad = SketchPad()
    send(pad, "mouse_down", 1, 1)
    send(pad, "mouse_move", 9, 9)
    drag(pad, [(50, 50), (60, 60)])
    assert [p.tolist() for p in pad.polylines] == [[[1, 1], [9, 9]], [[50, 50], [60, 60]]]


def test_non_numeric_coordinates_are_ignored():
    pad = SketchPad()
    send(pad, "mouse_down", None, 3)  # JSON null, e.g. NaN from a zero-size element
    send(pad, "mouse_move", 4, 4)
    assert pad.is_empty
    send(pad, "mouse_down", 1, 2)
    send(pad, "mouse_move", float("nan"), 3)
    send(pad, "mouse_up", 3, 4)
    np.testing.assert_array_equal(pad.polylines[0], [[1, 2], [3, 4]])


def test_touch_events_draw_with_the_first_finger():
    calls = []
    pad = SketchPad(on_stroke=calls.append)
    send(pad, "touch_start", touches=[(20, 30)])
    send(pad, "touch_move", touches=[(25, 35)])
    send(pad, "touch_start", touches=[(25, 35), (200, 200)])  # a second finger: ignored
    send(pad, "touch_move", touches=[(30, 45), (210, 210)])
    send(pad, "touch_end", touches=[])  # ipycanvas sends the fingers still down: none
    assert len(calls) == 1
    np.testing.assert_array_equal(pad.polylines[0], [[20, 30], [25, 35], [30, 45]])
    send(pad, "touch_start", touches=[(100, 100)])
    send(pad, "touch_move", touches=[(110, 100)])
    send(pad, "touch_cancel", touches=[])  # the browser took the gesture over: keep what was drawn
    assert len(calls) == 2
    np.testing.assert_array_equal(pad.polylines[1], [[100, 100], [110, 100]])
    np.testing.assert_array_equal(pad.strokes[:, 2], [0, 0, 1, 0, 1])


# ----------------------------------------------------------------------------- callbacks


def test_each_stroke_calls_every_callback_once_with_the_pad():
    seen_a, seen_b = [], []
    pad = SketchPad(on_stroke=lambda p: seen_a.append((p, len(p.polylines))))
    pad.on_stroke(lambda p: seen_b.append(p.strokes.shape[0]))
    drag(pad, [(0, 0), (1, 1), (2, 2)])
    send(pad, "mouse_move", 3, 3)
    drag(pad, [(5, 5), (6, 6)])
    assert [(p is pad, n) for p, n in seen_a] == [(True, 1), (True, 2)]
    assert seen_b == [3, 5]


def test_callback_can_be_removed_and_a_failing_callback_does_not_stop_the_others(caplog):
    calls = []

    def boom(pad):
        raise RuntimeError("user callback failed")

    pad = SketchPad(on_stroke=boom)
    pad.on_stroke(calls.append)
    with caplog.at_level(logging.WARNING):
        drag(pad, [(0, 0), (1, 1)])
    assert calls == [pad] and len(pad.polylines) == 1
    assert "user callback failed" in caplog.text
    pad.on_stroke(calls.append, remove=True)
    drag(pad, [(2, 2), (3, 3)])
    assert calls == [pad]
    with pytest.raises(TypeError, match="callback must be callable"):
        pad.on_stroke("not a function")


# ----------------------------------------------------------------------------- undo / clear


def test_undo_removes_the_last_stroke_and_clear_removes_all():
    pad = SketchPad()
    drag(pad, [(0, 0), (1, 1)])
    drag(pad, [(10, 10), (11, 11)])
    drag(pad, [(20, 20), (21, 21)])
    pad.undo()
    assert [p[0].tolist() for p in pad.polylines] == [[0, 0], [10, 10]]
    pad.clear()
    assert pad.is_empty and pad.strokes is None
    pad.undo()  # no-op on an empty pad
    assert pad.is_empty


def test_undo_while_drawing_drops_only_the_stroke_in_progress():
    pad = SketchPad()
    drag(pad, [(0, 0), (1, 1)])
    send(pad, "mouse_down", 50, 50)
    send(pad, "mouse_move", 60, 60)
    pad.undo()
    send(pad, "mouse_move", 70, 70)  # ignored: no stroke in progress any more
    send(pad, "mouse_up", 70, 70)
    assert [p.tolist() for p in pad.polylines] == [[[0, 0], [1, 1]]]


def test_buttons_call_undo_and_clear():
    pad = SketchPad()
    drag(pad, [(0, 0), (1, 1)])
    drag(pad, [(5, 5), (6, 6)])
    pad._undo_button.click()
    assert len(pad.polylines) == 1
    pad._clear_button.click()
    assert pad.is_empty


def test_status_line_counts_strokes_and_points():
    pad = SketchPad(example="cup")
    assert "'cup' example" in pad._status.value
    drag(pad, [(0, 0), (1, 1), (2, 1)])
    assert pad._status.value == "1 stroke, 3 points."
    drag(pad, [(5, 5), (6, 6)])
    assert pad._status.value == "2 strokes, 5 points."
    assert repr(pad) == "SketchPad(256x256: 2 strokes, 5 points)"


# ----------------------------------------------------------------------------- canvas drawing


class Recorder:
    def __init__(self, pad, monkeypatch):
        self.calls = []
        for name in ("stroke_line", "stroke_lines", "fill_circle", "clear"):
            monkeypatch.setattr(pad.canvas, name, self._make(name))

    def _make(self, name):
        def record(*args):
            self.calls.append((name, tuple(np.asarray(a).tolist() if isinstance(a, np.ndarray) else a for a in args)))

        return record


def test_strokes_are_drawn_on_the_canvas_as_they_arrive(monkeypatch):
    pad = SketchPad(line_width=4.0)
    rec = Recorder(pad, monkeypatch)
    drag(pad, [(10, 10), (20, 15), (30, 20)])
    assert rec.calls == [
        ("fill_circle", (10.0, 10.0, 2.0)),
        ("stroke_line", (10.0, 10.0, 20.0, 15.0)),
        ("stroke_line", (20.0, 15.0, 30.0, 20.0)),
    ]
    assert pad.canvas.line_width == 4.0 and pad.canvas.line_cap == "round"


def test_client_ready_undo_and_clear_redraw_the_canvas(monkeypatch):
    pad = SketchPad()
    drag(pad, [(10, 10), (20, 15)])
    send(pad, "mouse_down", 40, 40)
    send(pad, "mouse_up", 40, 40)
    rec = Recorder(pad, monkeypatch)
    pad.canvas._handle_frontend_event(pad.canvas, {"event": "client_ready"}, [])  # a new view opens blank
    assert rec.calls == [
        ("clear", ()),
        ("stroke_lines", ([[10.0, 10.0], [20.0, 15.0]],)),
        ("fill_circle", (40.0, 40.0, 1.5)),
    ]
    rec.calls.clear()
    pad.undo()
    assert rec.calls == [("clear", ()), ("stroke_lines", ([[10.0, 10.0], [20.0, 15.0]],))]
    rec.calls.clear()
    pad.clear()
    assert rec.calls == [("clear", ())]


# ----------------------------------------------------------------------------- query / load


def test_query_falls_back_to_the_example_until_something_is_drawn():
    pad = SketchPad(example="fish")
    np.testing.assert_array_equal(pad.query(), example_sketch("fish"))
    drag(pad, [(0, 0), (3, 4)])
    np.testing.assert_array_equal(pad.query(), [[0, 0, 0], [3, 4, 1]])
    pad.clear()
    np.testing.assert_array_equal(pad.query(), example_sketch("fish"))


def test_query_without_example_on_empty_pad_raises():
    pad = SketchPad(example=None)
    with pytest.raises(SketchFormatError, match="nothing has been drawn and the pad has no example"):
        pad.query()


def test_load_prefills_the_pad_and_fit_scales_into_the_canvas():
    pad = SketchPad(width=300, height=200)
    pad.load(np.array([[10, 20, 0], [5, 5, 1], [50, 0, 1]], dtype=np.float32))
    assert [p.tolist() for p in pad.polylines] == [[[10, 20], [15, 25]], [[65, 25]]]
    pad.load(example_sketch("house"), fit=True)
    pts = np.concatenate(pad.polylines)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    # longer relative side fills the canvas minus a 5% margin on each side, centred
    assert hi[1] - lo[1] == pytest.approx(200 * 0.9)
    assert (lo + hi) / 2 == pytest.approx([150, 100])
    assert len(pad.polylines) == len(stroke3_to_polylines(example_sketch("house")))


def test_load_rejects_bad_sketches_and_points_outside_the_canvas():
    pad = SketchPad(width=100, height=100)
    with pytest.raises(SketchFormatError, match="outside the 100x100 canvas; pass fit=True"):
        pad.load(np.array([[50, 50, 0], [80, 0, 1]]))
    with pytest.raises(SketchFormatError, match="expected shape"):
        pad.load(np.zeros((4, 2)))
    with pytest.raises(SketchFormatError, match="NaN"):
        pad.load(np.array([[1, np.nan, 1]]))
    assert pad.is_empty


def test_constructor_checks_its_arguments():
    with pytest.raises(ValueError, match="width must be a positive int"):
        SketchPad(width=0)
    with pytest.raises(ValueError, match="height must be a positive int"):
        SketchPad(height=12.5)
    with pytest.raises(ValueError, match="line_width must be a positive number"):
        SketchPad(line_width=float("nan"))
    with pytest.raises(KeyError, match="unknown example 'dog'; available: house"):
        SketchPad(example="dog")
    with pytest.raises(TypeError, match="on_stroke must be callable"):
        SketchPad(on_stroke=42)


# ----------------------------------------------------------------------------- export


def test_to_ndjson_simplified_line_has_quickdraw_fields_and_int_coordinates():
    pad = SketchPad(width=400, height=300)
    xs = np.linspace(20, 380, 50)
    drag(pad, list(zip(xs, 100 + 40 * np.sin(xs / 40))))
    drag(pad, [(200, 150), (200, 280)])
    when = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)
    line = pad.to_ndjson(word="wave", timestamp=when)
    assert "\n" not in line
    record = json.loads(line)
    assert list(record) == ["word", "countrycode", "timestamp", "recognized", "key_id", "drawing"]
    assert record["word"] == "wave" and record["countrycode"] == "ZZ" and record["recognized"] is False
    assert record["timestamp"] == "2024-05-06 07:08:09.12345 UTC"
    assert re.fullmatch(r"\d{16}", record["key_id"])
    assert len(record["drawing"]) == 2
    values = [v for stroke in record["drawing"] for coords in stroke for v in coords]
    assert all(isinstance(v, int) and 0 <= v <= 255 for v in values)
    assert min(stroke[0][0] for stroke in record["drawing"]) >= 0 and max(values) == 255
    for xs_, ys_ in record["drawing"]:
        assert len(xs_) == len(ys_) >= 2
    # RDP keeps far fewer than the 50 points of the sampled sine
    assert len(record["drawing"][0][0]) < 50
    # same drawing -> same default key_id; explicit key_id kept
    assert json.loads(pad.to_ndjson(word="wave"))["key_id"] == record["key_id"]
    assert json.loads(pad.to_ndjson(key_id="42"))["key_id"] == "42"


def test_to_ndjson_simplifies_a_straight_line_to_its_end_points_scaled_to_255():
    pad = SketchPad()
    drag(pad, [(40 + t, 60 + t / 2) for t in range(0, 101, 5)])  # 21 collinear points, 100 x 50 px
    send(pad, "mouse_down", 250, 200)  # a dot: kept as its point twice
    send(pad, "mouse_up", 250, 200)
    drawing = json.loads(pad.to_ndjson())["drawing"]
    # aligned to the top-left (40, 60), scaled by 255 / 210 (the x extent 40..250):
    # (100, 50) -> (121.4, 60.7) -> (121, 61); (210, 140) -> (255, 170)
    assert drawing == [[[0, 121], [0, 61]], [[255, 255], [170, 170]]]


def test_to_ndjson_raw_layout_keeps_canvas_coordinates_and_times():
    pad = SketchPad()
    drag(pad, [(10.123, 20), (30, 40.5), (50, 60)])
    drag(pad, [(70, 80), (90, 100)])
    record = json.loads(pad.to_ndjson(word="doodle", simplify=False))
    (x0, y0, t0), (x1, y1, t1) = record["drawing"]
    assert x0 == [10.12, 30, 50] and y0 == [20, 40.5, 60] and x1 == [70, 90] and y1 == [80, 100]
    times = t0 + t1
    assert times[0] == 0 and all(b >= a for a, b in zip(times, times[1:]))
    pad.load(np.array([[1, 2, 1]], dtype=np.float32))  # loaded strokes have no times
    assert json.loads(pad.to_ndjson(simplify=False))["drawing"] == [[[1], [2]]]


def test_to_ndjson_rejects_an_empty_pad_and_bad_arguments():
    pad = SketchPad()
    with pytest.raises(SketchFormatError, match="nothing has been drawn"):
        pad.to_ndjson()
    drag(pad, [(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="word must be a non-empty str"):
        pad.to_ndjson(word="")
    with pytest.raises(ValueError, match="key_id must be a str"):
        pad.to_ndjson(key_id=123)


# ----------------------------------------------------------------------------- static display


def test_mimebundle_has_widget_view_and_a_png_of_the_drawing():
    pad = SketchPad(width=240, height=160, line_width=3.0)
    drag(pad, [(20, 100), (120, 100), (200, 100)])
    bundle = pad._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == pad.model_id
    assert bundle["text/plain"] == "SketchPad(240x160: 1 stroke, 3 points)"
    img = png_of(bundle)
    assert img.shape == (160, 240) and img.dtype == np.uint8
    # dark ink on the drawn line (canvas pixel (x, y) is image [y, x]), white elsewhere
    assert img[100, 20:201].max() < 64
    assert img[100, 230:].min() == 255 and img[:90].min() == 255 and img[111:].min() == 255
    assert bundle["image/png"] in bundle["text/html"] and bundle["text/html"].startswith("<img ")
    assert 'width="240" height="160"' in bundle["text/html"]


def test_mimebundle_of_an_empty_pad_shows_the_example_fitted_into_the_canvas():
    pad = SketchPad(width=256, height=256, example="house")
    bundle = pad._repr_mimebundle_()
    assert "'house' example" in bundle["text/plain"]
    ink = png_of(bundle) < 128
    rows, cols = np.nonzero(ink)
    assert ink.sum() > 500
    # the example spans the canvas minus its 5% margins (12.8 px), up to the half line width
    assert rows.min() == pytest.approx(12.8, abs=3) and rows.max() == pytest.approx(243.2, abs=3)
    drag(pad, [(0, 0), (5, 5)])
    pad.clear()
    assert pad._repr_mimebundle_()["image/png"] == bundle["image/png"]


def test_mimebundle_without_example_has_no_picture():
    bundle = SketchPad(example=None)._repr_mimebundle_()
    assert "image/png" not in bundle and "text/html" not in bundle
    assert bundle["text/plain"] == "SketchPad(256x256: empty)"


def test_ipython_display_formatter_uses_the_bundle():
    from IPython.core.formatters import DisplayFormatter

    pad = SketchPad(example="tree")
    data, _ = DisplayFormatter().format(pad)
    assert {"application/vnd.jupyter.widget-view+json", "image/png", "text/html", "text/plain"} <= set(data)
    assert png_of(data).shape == (256, 256)

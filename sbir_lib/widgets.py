"""An ipycanvas drawing pad that records the user's strokes in Python.

:class:`SketchPad` shows a canvas with *Undo* and *Clear* buttons and a status line. Mouse and touch
events sent by the ipycanvas frontend (``mouse_down/move/up/out``, ``touch_start/move/end/cancel``,
each with canvas pixel coordinates) are turned into strokes: a press starts a stroke, moves while
pressed add points, release (or the pointer leaving the canvas, or a touch cancel) ends it. Moves
without a press are ignored. Each stroke is drawn on the canvas as it is recorded, and callbacks
registered with :meth:`SketchPad.on_stroke` run after every completed stroke.

When no browser is attached (a notebook executed by papermill, the static Jupyter Book),
:meth:`SketchPad.query` returns the built-in example sketch and the pad's rich display carries a
PNG picture of the current sketch (or the example) beside the live widget view.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import time
from datetime import datetime, timezone

import ipywidgets
import numpy as np
from ipycanvas import Canvas, hold_canvas

from .errors import SketchFormatError
from .examples import available_examples, example_sketch
from .strokes import polylines_to_quickdraw, polylines_to_stroke3, stroke3_to_polylines

__all__ = ["SketchPad"]

#: Margin (fraction of the canvas side) kept around a sketch that is fitted into the canvas.
FIT_MARGIN = 0.05


class SketchPad(ipywidgets.VBox):
    """A drawing pad: an ipycanvas canvas, *Undo* and *Clear* buttons and a status line.

    Args:
        width, height: canvas size in pixels (positive ints).
        line_width: pen width in canvas pixels, used on the canvas and in the PNG fallback.
        example: name of the built-in example (:func:`sbir_lib.examples.available_examples`) used by
            :meth:`query` and the static display while nothing is drawn; ``None`` for no fallback.
        on_stroke: optional callback ``f(pad)`` run after each completed stroke
            (more can be added with :meth:`on_stroke`).

    Coordinates are canvas pixels, ``x`` to the right and ``y`` down, clipped to
    ``[0, width] x [0, height]`` (the pointer can leave the canvas by a pixel before ``mouse_out``).
    """

    def __init__(
        self,
        width: int = 256,
        height: int = 256,
        line_width: float = 3.0,
        example: str | None = "house",
        on_stroke=None,
        **kwargs,
    ):
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"SketchPad: {name} must be a positive int (pixels), got {value!r}")
        try:
            line_width = float(line_width)
        except (TypeError, ValueError):
            raise ValueError(f"SketchPad: line_width must be a positive number, got {line_width!r}") from None
        if not math.isfinite(line_width) or line_width <= 0:
            raise ValueError(f"SketchPad: line_width must be a positive number, got {line_width!r}")
        if example is not None and example not in available_examples():
            raise KeyError(f"SketchPad: unknown example {example!r}; available: {', '.join(available_examples())}")
        if on_stroke is not None and not callable(on_stroke):
            raise TypeError(f"SketchPad: on_stroke must be callable, got {type(on_stroke).__name__}")

        canvas = Canvas(width=int(width), height=int(height))
        undo_button = ipywidgets.Button(description="Undo", icon="undo", tooltip="Remove the last stroke")
        clear_button = ipywidgets.Button(description="Clear", icon="trash", tooltip="Remove all strokes")
        status = ipywidgets.Label()
        frame = ipywidgets.Box([canvas], layout=ipywidgets.Layout(border="1px solid #999", width="fit-content"))
        super().__init__([frame, ipywidgets.HBox([undo_button, clear_button, status])], **kwargs)

        self._canvas = canvas
        self._status = status
        self._undo_button = undo_button
        self._clear_button = clear_button
        self._width = int(width)
        self._height = int(height)
        self._line_width = line_width
        self._example = example
        self._lines: list[np.ndarray] = []  # completed strokes, (N_i, 2) float64
        self._times: list[np.ndarray | None] = []  # (N_i,) ms since the first point, None if loaded
        self._current: list[tuple[float, float]] | None = None  # stroke in progress
        self._current_times: list[float] = []
        self._t0: float | None = None
        self._stroke_callbacks = ipywidgets.CallbackDispatcher()
        if on_stroke is not None:
            self.on_stroke(on_stroke)

        canvas.on_mouse_down(self._on_mouse_down)
        canvas.on_mouse_move(self._on_mouse_move)
        canvas.on_mouse_up(self._on_mouse_up)
        canvas.on_mouse_out(self._on_mouse_out)
        canvas.on_touch_start(self._on_touch_start)
        canvas.on_touch_move(self._on_touch_move)
        canvas.on_touch_end(self._on_touch_end)
        canvas.on_touch_cancel(self._on_touch_end)
        canvas.on_client_ready(self._redraw)  # a new view starts blank: replay the drawing
        undo_button.on_click(lambda _button: self.undo())
        clear_button.on_click(lambda _button: self.clear())
        self._redraw()

    # ------------------------------------------------------------------ state
    @property
    def canvas(self) -> Canvas:
        """The ipycanvas :class:`~ipycanvas.Canvas` the user draws on."""
        return self._canvas

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of the canvas in pixels."""
        return self._width, self._height

    @property
    def line_width(self) -> float:
        """Pen width in canvas pixels."""
        return self._line_width

    @property
    def example(self) -> str | None:
        """Name of the fallback example sketch (``None``: no fallback)."""
        return self._example

    @property
    def polylines(self) -> list[np.ndarray]:
        """Completed strokes: a list of ``(N_i, 2) float64`` absolute canvas-pixel points (copies).

        A stroke still being drawn is not included until it ends.
        """
        return [line.copy() for line in self._lines]

    @property
    def strokes(self) -> np.ndarray | None:
        """The drawing as ``(N, 3) float32`` stroke-3 rows ``(dx, dy, pen_lifted)`` in canvas pixels,
        or ``None`` when nothing has been drawn (see :meth:`query` for the example fallback)."""
        if not self._lines:
            return None
        return polylines_to_stroke3(self._lines)

    @property
    def is_empty(self) -> bool:
        """True when no stroke has been completed."""
        return not self._lines

    def query(self) -> np.ndarray:
        """The sketch to search with: the drawn stroke-3 (canvas pixels), or, when nothing is drawn,
        the example sketch (stroke-3 in 0..255 pixels). The fallback keeps search cells working when
        the notebook runs without a browser (papermill, the static book).

        Raises:
            SketchFormatError: nothing drawn and ``example`` is ``None``.
        """
        if self._lines:
            return polylines_to_stroke3(self._lines)
        if self._example is None:
            raise SketchFormatError("SketchPad.query: nothing has been drawn and the pad has no example sketch")
        return example_sketch(self._example)

    def clear(self) -> None:
        """Remove every stroke (and any stroke in progress) and blank the canvas."""
        self._lines.clear()
        self._times.clear()
        self._current = None
        self._current_times = []
        self._t0 = None
        self._redraw()

    def undo(self) -> None:
        """Remove the stroke in progress, or else the last completed stroke (no-op when empty)."""
        if self._current is not None:
            self._current = None
            self._current_times = []
        elif self._lines:
            self._lines.pop()
            self._times.pop()
        if not self._lines:
            self._t0 = None
        self._redraw()

    def on_stroke(self, callback, remove: bool = False) -> None:
        """Register ``callback(pad)``, run after each completed stroke (several may be registered;
        ``remove=True`` unregisters). As with ipywidgets' ``Button.on_click``, an exception in one
        callback is reported (traceback in the notebook, a log warning outside IPython) and the
        other callbacks still run."""
        if not callable(callback):
            raise TypeError(f"SketchPad.on_stroke: callback must be callable, got {type(callback).__name__}")
        self._stroke_callbacks.register_callback(callback, remove=remove)

    def load(self, strokes3, *, fit: bool = False) -> None:
        """Replace the drawing by a stroke-3 sketch ``(N, 3)`` (e.g. an example, to pre-fill the pad).

        Args:
            strokes3: ``(N, 3)`` stroke-3 in canvas pixels (or any units when ``fit``).
            fit: scale uniformly and centre the sketch into the canvas (5% margin) instead of
                using its coordinates as canvas pixels.

        Raises:
            SketchFormatError: not a valid stroke-3 sketch, or (``fit=False``) points outside the canvas.
        """
        lines = stroke3_to_polylines(strokes3)
        if fit:
            lines = self._fit_to_canvas(lines)
        else:
            pts = np.concatenate(lines)
            if pts.min() < 0 or np.any(pts.max(axis=0) > (self._width, self._height)):
                lo, hi = pts.min(axis=0), pts.max(axis=0)
                raise SketchFormatError(
                    f"SketchPad.load: points span x {lo[0]:g}..{hi[0]:g}, y {lo[1]:g}..{hi[1]:g}, outside the "
                    f"{self._width}x{self._height} canvas; pass fit=True to scale the sketch into it"
                )
        self._lines = [np.asarray(line, dtype=np.float64) for line in lines]
        self._times = [None] * len(self._lines)
        self._current = None
        self._current_times = []
        self._t0 = None
        self._redraw()

    # ------------------------------------------------------------------ export
    def to_ndjson(
        self,
        word: str = "unknown",
        key_id: str | None = None,
        simplify: bool = True,
        *,
        countrycode: str = "ZZ",
        recognized: bool = False,
        timestamp: datetime | None = None,
    ) -> str:
        """The drawing as one QuickDraw ndjson line (no trailing newline).

        Fields ``word, countrycode, timestamp, recognized, key_id, drawing``, as in Google's files.
        With ``simplify`` (default) ``drawing`` is the *simplified* layout ``[[xs, ys], ...]``: ints in
        0..255 from :func:`sbir_lib.simplify.quickdraw_simplify` (align top-left, scale the max to 255,
        resample every pixel, RDP with epsilon 2). Without it, the *raw* layout: canvas-pixel floats
        (2 decimals) with ``ts`` (ms since the first point, as received by the kernel) as
        ``[[xs, ys, ts], ...]``; strokes put there by :meth:`load` have no times, and then every
        stroke is written as ``[xs, ys]``.

        Args:
            word: the category name.
            key_id: the drawing id; by default 16 digits derived from the drawing (same drawing,
                same id).
            countrycode: ``"ZZ"`` (unknown) by default.
            recognized: QuickDraw's "the game recognised it" flag.
            timestamp: UTC time written as ``"YYYY-MM-DD HH:MM:SS.fffff UTC"`` (default: now).

        Raises:
            SketchFormatError: nothing has been drawn.
        """
        if not isinstance(word, str) or not word:
            raise ValueError(f"SketchPad.to_ndjson: word must be a non-empty str, got {word!r}")
        if key_id is not None and not isinstance(key_id, str):
            raise ValueError(f"SketchPad.to_ndjson: key_id must be a str or None, got {type(key_id).__name__}")
        if not self._lines:
            raise SketchFormatError("SketchPad.to_ndjson: nothing has been drawn (the pad is empty)")
        if simplify:
            from .simplify import quickdraw_simplify

            drawing = polylines_to_quickdraw(quickdraw_simplify(self.polylines, layout="polylines"))
        else:
            lines = [np.round(line, 2) for line in self._lines]
            times = None
            if all(t is not None for t in self._times):
                times = [np.round(t, 1) for t in self._times]
            drawing = polylines_to_quickdraw(lines, round_to_int=False, times=times)
        if key_id is None:
            digest = hashlib.sha256(json.dumps(drawing).encode()).hexdigest()
            key_id = str(int(digest, 16) % 10**16).zfill(16)
        when = timestamp if timestamp is not None else datetime.now(timezone.utc)
        record = {
            "word": word,
            "countrycode": countrycode,
            "timestamp": when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-1] + " UTC",
            "recognized": bool(recognized),
            "key_id": key_id,
            "drawing": drawing,
        }
        return json.dumps(record, separators=(",", ":"))

    def to_image(self) -> np.ndarray:
        """The drawing, or the example when empty, as a ``(height, width) float32`` image in [0, 1]
        (1 = ink), the way it sits on the canvas (the example is fitted into the canvas).

        Raises:
            SketchFormatError: nothing drawn and no example.
        """
        from .render import rasterize

        sketch = self._sketch_for_display()
        if sketch is None:
            raise SketchFormatError("SketchPad.to_image: nothing has been drawn and the pad has no example sketch")
        return rasterize(
            sketch, (self._height, self._width), self._line_width, canvas=(self._width, self._height)
        )

    def to_png(self) -> bytes:
        """:meth:`to_image` encoded as PNG bytes (dark strokes on white)."""
        from .render import to_png_bytes

        return to_png_bytes(self.to_image())

    def _sketch_for_display(self) -> np.ndarray | None:
        """Stroke-3 in canvas pixels: the drawing, the example fitted into the canvas, or None."""
        if self._lines:
            return polylines_to_stroke3(self._lines)
        if self._example is None:
            return None
        return polylines_to_stroke3(self._fit_to_canvas(stroke3_to_polylines(example_sketch(self._example))))

    def _describe(self) -> str:
        if self._lines:
            n_points = sum(len(line) for line in self._lines)
            return f"{len(self._lines)} stroke{'s' * (len(self._lines) != 1)}, {n_points} points"
        if self._example is None:
            return "empty"
        return f"empty; the {self._example!r} example is used until you draw"

    def __repr__(self) -> str:
        return f"SketchPad({self._width}x{self._height}: {self._describe()})"

    def _repr_mimebundle_(self, **kwargs):
        """The live widget view plus a static picture (``image/png``, ``text/html``) and ``text/plain``,
        so that a notebook executed without a browser still shows the sketch when rendered."""
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = repr(self)
        if self._sketch_for_display() is not None:
            png = base64.b64encode(self.to_png()).decode("ascii")
            alt = html.escape(f"sketch ({self._describe()})", quote=True)
            bundle["image/png"] = png
            bundle["text/html"] = (
                f'<img src="data:image/png;base64,{png}" alt="{alt}" '
                f'width="{self._width}" height="{self._height}" style="border: 1px solid #999"/>'
            )
        return bundle

    # ------------------------------------------------------------------ drawing
    def _fit_to_canvas(self, lines: list[np.ndarray]) -> list[np.ndarray]:
        """Scale uniformly and centre polylines into the canvas, keeping a FIT_MARGIN border."""
        pts = np.concatenate(lines)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        extent = hi - lo
        box = np.array([self._width, self._height], dtype=np.float64) * (1 - 2 * FIT_MARGIN)
        scale = float(np.min(box / np.maximum(extent, 1e-12))) if extent.max() > 0 else 1.0
        offset = np.array([self._width, self._height]) / 2 - (lo + hi) / 2 * scale
        return [line * scale + offset for line in lines]

    def _setup_style(self) -> None:
        c = self._canvas
        c.stroke_style = "black"
        c.fill_style = "black"
        c.line_width = self._line_width
        c.line_cap = "round"
        c.line_join = "round"

    def _draw_line(self, line: np.ndarray) -> None:
        if len(line) == 1:
            self._canvas.fill_circle(float(line[0, 0]), float(line[0, 1]), self._line_width / 2)
        else:
            self._canvas.stroke_lines(line)

    def _redraw(self) -> None:
        """Clear the canvas and draw every stroke again (also on a new frontend's ``client_ready``)."""
        with hold_canvas():
            self._setup_style()
            self._canvas.clear()
            for line in self._lines:
                self._draw_line(line)
            if self._current is not None:
                self._draw_line(np.asarray(self._current))
        self._update_status()

    def _update_status(self) -> None:
        if self._lines:
            self._status.value = self._describe() + "."
        elif self._example is None:
            self._status.value = "Draw with the mouse or a finger."
        else:
            self._status.value = f"Draw with the mouse or a finger; until then the {self._example!r} example is used."

    # ------------------------------------------------------------------ events
    def _point(self, x, y) -> tuple[float, float] | None:
        """A frontend coordinate pair clipped to the canvas, or None if it is not a finite number."""
        try:
            x, y = float(x), float(y)
        except (TypeError, ValueError):
            return None
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        return min(max(x, 0.0), float(self._width)), min(max(y, 0.0), float(self._height))

    def _now_ms(self) -> float:
        now = time.monotonic() * 1000.0
        if self._t0 is None:
            self._t0 = now
        return now - self._t0

    def _begin(self, x, y) -> None:
        if self._current is not None:  # a release we never saw: close that stroke first
            self._end()
        p = self._point(x, y)
        if p is None:
            return
        self._current = [p]
        self._current_times = [self._now_ms()]
        self._canvas.fill_circle(p[0], p[1], self._line_width / 2)

    def _extend(self, x, y) -> None:
        if self._current is None:
            return  # a move without a press
        p = self._point(x, y)
        if p is None or p == self._current[-1]:
            return
        last = self._current[-1]
        self._current.append(p)
        self._current_times.append(self._now_ms())
        self._canvas.stroke_line(last[0], last[1], p[0], p[1])

    def _end(self) -> None:
        if self._current is None:
            return
        self._lines.append(np.asarray(self._current, dtype=np.float64))
        self._times.append(np.asarray(self._current_times, dtype=np.float64))
        self._current = None
        self._current_times = []
        self._update_status()
        self._stroke_callbacks(self)

    def _on_mouse_down(self, x, y) -> None:
        self._begin(x, y)

    def _on_mouse_move(self, x, y) -> None:
        self._extend(x, y)

    def _on_mouse_up(self, x, y) -> None:
        self._extend(x, y)
        self._end()

    _on_mouse_out = _on_mouse_up  # leaving the canvas while drawing ends the stroke

    # ipycanvas sends ``event.touches``: the fingers still on the screen, as [(x, y), ...].
    # The first finger draws; touch_end / touch_cancel (often with an empty list) end the stroke.
    def _on_touch_start(self, touches) -> None:
        if self._current is None and touches:
            self._begin(*touches[0])

    def _on_touch_move(self, touches) -> None:
        if touches:
            self._extend(*touches[0])

    def _on_touch_end(self, touches) -> None:
        self._end()

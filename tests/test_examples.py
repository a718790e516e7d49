"""Tests for sbir_lib.examples: the built-in hand-drawn example sketches."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sbir_lib import examples
from sbir_lib.errors import DataError
from sbir_lib.strokes import quickdraw_to_stroke3, stroke3_to_polylines

NAMES = ["house", "shoe", "fish", "cup", "tree", "chair"]


def test_available_examples_lists_the_six_objects_in_file_order():
    assert examples.available_examples() == NAMES


def test_asset_is_quickdraw_simplified_ndjson(repo_root):
    path = repo_root / "sbir_lib" / "assets" / examples.EXAMPLES_FILE
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["word"] for r in records] == NAMES
    for r in records:
        assert set(r) == {"word", "countrycode", "timestamp", "recognized", "key_id", "drawing"}
        for xs, ys in r["drawing"]:
            assert len(xs) == len(ys) >= 2
            assert all(isinstance(v, int) for v in xs + ys)


@pytest.mark.parametrize("name", NAMES)
def test_example_is_stroke3_with_several_strokes_inside_0_255(name):
    sketch = examples.example_sketch(name)
    assert sketch.dtype == np.float32 and sketch.ndim == 2 and sketch.shape[1] == 3
    assert set(np.unique(sketch[:, 2])) == {0.0, 1.0} and sketch[-1, 2] == 1.0
    lines = stroke3_to_polylines(sketch)
    assert len(lines) >= 5, f"{name}: only {len(lines)} strokes"
    pts = np.concatenate(lines)
    assert np.array_equal(pts, np.round(pts))
    # QuickDraw simplified alignment: top-left at 0, longer side spans exactly 0..255.
    assert pts.min(axis=0).tolist() == [0.0, 0.0]
    assert pts.max() == 255.0


@pytest.mark.parametrize("name", NAMES)
def test_example_sketch_matches_its_drawing(name):
    drawing = examples.example_drawing(name)
    np.testing.assert_array_equal(examples.example_sketch(name), quickdraw_to_stroke3(drawing))
    # the first point of the first stroke is the first stroke-3 row (offset from the origin)
    first = examples.example_sketch(name)[0]
    assert first[:2].tolist() == [drawing[0][0][0], drawing[0][1][0]]


def test_returned_copies_do_not_change_the_stored_examples():
    sketch = examples.example_sketch("fish")
    sketch[:] = 0
    drawing = examples.example_drawing("fish")
    drawing[0][0][0] = -999
    assert examples.example_sketch("fish")[:, 2].sum() > 0
    assert examples.example_drawing("fish")[0][0][0] != -999


def test_examples_differ_from_each_other():
    shapes = {name: examples.example_sketch(name) for name in NAMES}
    for a in NAMES:
        for b in NAMES:
            if a < b:
                assert shapes[a].shape != shapes[b].shape or not np.array_equal(shapes[a], shapes[b])


def test_unknown_name_raises_key_error_listing_available_names():
    with pytest.raises(KeyError, match=r"unknown example sketch 'dog'; available: house, shoe, fish, cup, tree, chair"):
        examples.example_sketch("dog")
    with pytest.raises(KeyError, match="available: house"):
        examples.example_drawing("Dog")


GOOD = '{"word":"line","countrycode":"ZZ","timestamp":"t","recognized":true,"key_id":"1","drawing":[[[0,255],[0,10]]]}'


def test_parse_examples_reads_good_lines_and_skips_blank_lines():
    parsed = examples._parse_examples(GOOD + "\n\n", "mem.ndjson")
    assert parsed == {"line": [[[0, 255], [0, 10]]]}


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", r"mem\.ndjson, line 1: not valid JSON"),
        (GOOD + "\n" + '{"word":"x","drawing":[[[0],[0]]]}', r"line 2: missing QuickDraw field\(s\) \['countrycode'"),
        (GOOD.replace("[[[0,255],[0,10]]]", "[[[0,1],[0]]]"), r"line 1: bad drawing .*different lengths"),
        (GOOD.replace("[[[0,255],[0,10]]]", "[]"), r"line 1: bad drawing .*empty drawing"),
        (GOOD.replace("255", "256"), r"line 1: coordinates must be integers in 0\.\.255"),
        (GOOD.replace("255", "12.5"), r"line 1: coordinates must be integers in 0\.\.255"),
        (GOOD + "\n" + GOOD, r"line 2: duplicate example name 'line'"),
        ("\n\n", r"mem\.ndjson: no example sketches"),
    ],
)
def test_parse_examples_rejects_malformed_files_naming_file_and_line(text, message):
    with pytest.raises(DataError, match=message):
        examples._parse_examples(text, "mem.ndjson")

"""Tests of the doodle world (sbir_lib.data.doodleworld): class models, sketches, photos, splits."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from sbir_lib.data import doodleworld as dw
from sbir_lib.data.doodleworld.parts import Part, amateur_strokes, ellipse, line, rect
from sbir_lib.errors import DataError
from sbir_lib.strokes import stroke3_to_polylines, validate_stroke3

TINY = dict(progress=False)


# ---------------------------------------------------------------------------------------------- classes
def test_at_least_40_classes_named_after_quickdraw_categories(quickdraw_dir):
    names = {p.name[: -len(".ndjson")] for p in (quickdraw_dir / "simplified").glob("*.ndjson")}
    assert len(dw.CLASS_NAMES) >= 40
    assert set(dw.CLASS_NAMES) <= names, sorted(set(dw.CLASS_NAMES) - names)
    for required in ("house", "tree", "car", "fish", "cup", "shoe", "chair", "clock", "umbrella"):
        assert required in dw.CLASS_NAMES


def test_every_class_has_2_to_5_variants_and_builds_every_variant():
    rng = np.random.default_rng(0)
    for name, model in dw.CLASS_MODELS.items():
        assert 2 <= len(model.variants) <= 5, name
        for v in model.variants:
            parts = model.parts(model.sample_attributes(rng), v)
            assert parts and all(isinstance(p, Part) for p in parts), name
            assert any(p.level == 0 for p in parts), f"{name}/{v} has no outline part"
            pts = np.concatenate([p.points for p in parts])
            assert np.isfinite(pts).all() and pts.shape[1] == 2


def test_fine_grained_classes_have_at_least_6_attributes():
    for name in ("shoe", "chair"):
        assert name in dw.FINE_GRAINED_CLASSES
        assert len(dw.get_class(name).attributes) >= 6


def test_attributes_change_the_geometry():
    shoe = dw.get_class("shoe")
    rng = np.random.default_rng(0)
    a = shoe.sample_attributes(rng, heel_height=0.0, heel_type="block")
    b = dict(a, heel_height=0.5)
    heel_a = [p for p in shoe.parts(a, "low shoe") if p.kind == "heel"]
    heel_b = [p for p in shoe.parts(b, "low shoe") if p.kind == "heel"]
    assert heel_a == [] and len(heel_b) == 1  # no heel part for a flat shoe
    # the heel is 0.5 units high: from the raised heel bottom (0.6 - 0.5) down to the ground (+ sole)
    assert heel_b[0].points[:, 1].max() - heel_b[0].points[:, 1].min() == pytest.approx(0.5 + a["sole_thickness"])


def test_unknown_class_impossible_attributes_and_variants_raise_clear_errors():
    with pytest.raises(ValueError, match=r"unknown doodle-world class 'hous'.*did you mean \['house'"):
        dw.get_class("hous")
    world = dw.DoodleWorld(seed=0)
    with pytest.raises(ValueError, match="unknown doodle-world class 'spaceship'"):
        world.instance("spaceship", 0)
    with pytest.raises(ValueError, match=r"shoe: unknown attribute 'colour'"):
        world.instance("shoe", 0, colour="red")
    with pytest.raises(ValueError, match=r"shoe: attribute 'heel_height' must lie in \[0.0, 0.5\], got 2"):
        world.instance("shoe", 0, heel_height=2)
    with pytest.raises(ValueError, match=r"shoe: attribute 'toe_shape' must be one of \['round', 'pointed', 'square'\]"):
        world.instance("shoe", 0, toe_shape="oval")
    with pytest.raises(ValueError, match=r"shoe: attribute 'laces' must be an integer, got 2.5"):
        world.instance("shoe", 0, laces=2.5)
    with pytest.raises(ValueError, match=r"must be a number, got 'high'"):
        world.instance("shoe", 0, heel_height="high")
    with pytest.raises(ValueError, match=r"must lie in .* got nan"):
        world.instance("shoe", 0, heel_height=float("nan"))
    with pytest.raises(ValueError, match=r"shoe: unknown variant 'slipper'"):
        world.instance("shoe", 0, variant="slipper")
    for bad in (-1, 2**63):
        with pytest.raises(ValueError, match=r"instance_id must be an integer in \[0, 2\*\*63\)"):
            world.instance("shoe", bad)
    with pytest.raises(ValueError, match=r"missing attributes \['toe_shape'"):
        dw.get_class("shoe").check_attributes({"heel_height": 0.1})


def test_world_arguments_are_checked():
    with pytest.raises(ValueError, match=r"difficulty must lie in \[0, 1\], got 1.5"):
        dw.DoodleWorld(difficulty=1.5)
    for bad in (-3, 2**63):
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63\)"):
            dw.DoodleWorld(seed=bad)
    with pytest.raises(ValueError, match="image_size must be an integer"):
        dw.DoodleWorld(image_size=8)


# ---------------------------------------------------------------------------------------------- drawing
def test_amateur_strokes_imperfect_closure_overshoot_and_gaps():
    rng = np.random.default_rng(1)
    square = rect(-1, -1, 1, 1, "wall")
    (stroke,) = amateur_strokes(square, rng, wobble=0.0, overshoot=0.2, gap_prob=0.0)
    # closed outline: starts at a vertex, walks all four sides, and ends within overshoot of its start
    # but (almost surely) not exactly on it
    gap = np.linalg.norm(stroke[-1] - stroke[0])
    assert 0 < gap <= 0.2 + 1e-9
    seg = line(0, 0, 1, 0, "pole")
    (open_stroke,) = amateur_strokes(seg, rng, wobble=0.0, overshoot=0.3, gap_prob=0.0)
    assert open_stroke[0, 0] <= 0 and open_stroke[-1, 0] >= 1  # overshoot extends both ends along the line
    assert np.allclose(open_stroke[:, 1], 0)  # no wobble asked, none given
    pieces = amateur_strokes(ellipse(0, 0, 1, 1, "face"), rng, gap_prob=1.0)
    assert len(pieces) == 2  # a pen lift and a gap


def test_sketch_is_valid_stroke3_on_the_256_canvas_and_deterministic():
    world = dw.DoodleWorld(seed=3)
    inst = world.instance("house", 5)
    s = world.sketch(inst)
    assert s.dtype == np.float32 and s.shape[1] == 3
    validate_stroke3(s)
    lines = stroke3_to_polylines(s)
    assert len(lines) >= 2
    pts = np.concatenate(lines)
    assert pts.min() >= -1e-3 and pts.max() <= 256
    np.testing.assert_array_equal(s, dw.DoodleWorld(seed=3).sketch(dw.DoodleWorld(seed=3).instance("house", 5)))
    assert not np.array_equal(s, world.sketch(inst, drawer=1))  # another amateur draws it differently
    assert not np.array_equal(s, dw.DoodleWorld(seed=4).sketch(dw.DoodleWorld(seed=4).instance("house", 5)))


def test_higher_difficulty_drops_details_and_wobbles_more():
    def stats(d):
        world = dw.DoodleWorld(seed=0, difficulty=d)
        n_strokes = [int(world.sketch(world.instance("castle", k))[:, 2].sum()) for k in range(15)]
        return np.mean(n_strokes)

    assert stats(1.0) < stats(0.0)


def test_photo_is_rgb_uint8_deterministic_and_unlike_the_sketch():
    world = dw.DoodleWorld(seed=0, image_size=64)
    item = world.item("car", 2)
    assert item.photo.shape == (64, 64, 3) and item.photo.dtype == np.uint8
    assert item.photo.std() > 10  # a scene, not a blank
    np.testing.assert_array_equal(item.photo, dw.DoodleWorld(seed=0, image_size=64).item("car", 2).photo)
    assert item.class_name == "car" and item.label == world.classes.index("car")
    assert item.variant_name == dw.get_class("car").variants[item.variant]
    assert set(item.attributes) == set(dw.get_class("car").attribute_names)


def test_random_streams_do_not_depend_on_call_order_or_thread():
    # generators are reused per stream and thread: interleaved calls and other threads must not leak state
    from concurrent.futures import ThreadPoolExecutor

    world = dw.DoodleWorld(seed=5, image_size=32)
    keys = [("shoe", 1), ("house", 2), ("chair", 3)]
    serial = [(world.sketch(world.instance(c, k)), world.photo(world.instance(c, k))) for c, k in keys]
    for (c, k), (s, p) in zip(reversed(keys), reversed(serial)):
        inst = world.instance(c, k)
        photo = world.photo(inst)
        world.remembered_attributes(world.instance("car", 9), drawer=2)  # another stream in between
        np.testing.assert_array_equal(world.sketch(inst), s)
        np.testing.assert_array_equal(photo, p)
    with ThreadPoolExecutor(3) as pool:
        threaded = list(pool.map(lambda ck: world.photo(world.instance(*ck)), keys * 4))
    for i, p in enumerate(threaded):
        np.testing.assert_array_equal(p, serial[i % len(keys)][1])


def test_photo_painter_fills_parts_where_the_camera_puts_them():
    from sbir_lib.data.doodleworld._kernels import kernels
    from sbir_lib.data.doodleworld.photos import _tiles

    paint = kernels()[1]
    tile = _tiles(128)
    square = rect(-1, -1, 1, 1, "wall")
    part_u = np.array([[0.0, 1.0, 0.0, 0.0]])  # weakest shading, untextured
    view = np.array([0.5, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0])  # half the image, centred, no distortion
    role_colour = np.array([[0.9, 0.1, 0.1]] * 5)
    img = paint(128, square.points, np.array([0, 4]), np.array([True]), np.array([0.06]), np.array([0]), role_colour, part_u,
                np.zeros((0, 19)), 0, 0, view, np.zeros(17), 0.0, tile).astype(int)
    red = img[..., 0] - img[..., 1] > 100
    assert red[34:94, 34:94].all()  # the square covers pixels 32..95
    red[30:98, 30:98] = False
    assert not red.any()  # and nothing else
    # an open part is painted as a thick path, an occluder in front of the object hides it
    bar = line(-1, 0, 1, 0, "pole")
    img = paint(128, bar.points, np.array([0, 2]), np.array([False]), np.array([0.2]), np.array([0]), role_colour, part_u,
                np.zeros((0, 19)), 0, 0, view, np.zeros(17), 0.0, tile).astype(int)
    rows = np.flatnonzero((img[..., 0] - img[..., 1] > 100).any(axis=1))
    assert 4 <= len(rows) <= 8 and abs(rows.mean() - 63.5) < 1  # 0.2 units * 32 px/unit = 6.4 px, centred
    occluder = np.zeros((1, 19))
    occluder[0, :3] = [0.5, 0.5, 1.0]  # an ellipse (radii 12.8 and 5.1 px at difficulty 0) at the centre, near black
    img = paint(128, square.points, np.array([0, 4]), np.array([True]), np.array([0.06]), np.array([0]), role_colour, part_u,
                occluder, 0, 1, view, np.zeros(17), 0.0, tile).astype(int)
    assert img[64, 64, 0] < 60 and img[36, 36, 0] > 150


# ---------------------------------------------------------------------------------------------- triplets, semantics
def test_noise_free_triplets_follow_attribute_distance():
    # photos on a line at 0, 1, ..., 11; sketch 0 is at 0.4 (drawn from photo 0), sketch 1 at 10.8 (photo 11)
    photos = np.arange(12, dtype=float)[:, None]
    sketches = np.array([[0.4], [10.8]])
    rng = np.random.default_rng(0)
    cand = dw.candidate_photos(sketches, photos, [0, 11], rng, feature_noise=0.0)
    np.testing.assert_array_equal(cand[0], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(cand[1], [11, 10, 9, 8, 7, 6, 5, 4, 3, 2])
    merged = dw.annotate_triplets(sketches, photos, [0, 11], cand, rng, noise=0.0)
    assert merged.shape == (2, 45, 2)
    assert np.all(merged[0, :, 0] < merged[0, :, 1])  # nearer photo (smaller index) always preferred
    votes = dw.annotate_triplets(sketches, photos, [0, 11], cand, rng, noise=0.0, merge=False)
    assert votes.shape == (2, 135, 2)
    with pytest.raises(ValueError, match="candidates must have shape"):
        dw.annotate_triplets(sketches, photos, [0, 11], cand[:, :5], rng)
    with pytest.raises(ValueError, match="true_photo indices must lie in"):
        dw.candidate_photos(sketches, photos, [0, 12], rng)


def test_class_semantics_reflect_shared_parts():
    names = ["car", "bus", "flower", "tree"]
    sem = dw.class_semantics(names)
    assert sem.shape == (4, len(dw.semantic_feature_names()))
    np.testing.assert_allclose(np.linalg.norm(sem, axis=1), 1.0, rtol=1e-5)
    sim = sem @ sem.T
    assert sim[0, 1] > sim[0, 2] and sim[2, 3] > sim[2, 0]  # car~bus (wheels, windows), flower~tree (leaves)


def test_zero_shot_classes_are_disjoint_and_share_parts_with_seen():
    seen, unseen = dw.zero_shot_classes(seed=0, n_unseen=12)
    assert len(unseen) == 12 and not set(seen) & set(unseen)
    assert set(seen) | set(unseen) == set(dw.CLASS_NAMES)
    seen_parts = set().union(*(dw.class_parts(c) for c in seen))
    assert all(len(dw.class_parts(c) & seen_parts) >= 2 for c in unseen)
    assert dw.zero_shot_classes(seed=0, n_unseen=12) == (seen, unseen)
    with pytest.raises(ValueError, match="n_unseen must be an integer"):
        dw.zero_shot_classes(n_unseen=0)


# ---------------------------------------------------------------------------------------------- splits
def test_split_requests_are_checked(tmp_path):
    with pytest.raises(ValueError, match="unknown split kind 'fine'"):
        dw.make_split("fine", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown split part 'val'"):
        dw.make_split("category", "val", cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"fine_grained splits need category in \['shoe', 'chair'\], got 'car'"):
        dw.make_split("fine_grained", "test", category="car", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="category= is only used by fine_grained"):
        dw.make_split("category", "test", category="shoe", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown size 'n'"):
        dw.make_split("category", "test", sizes={"n": 3}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="size 'per_class' must be a non-negative integer"):
        dw.make_split("category", "test", sizes={"per_class": -1}, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="difficulty must lie in"):
        dw.make_split("category", "test", difficulty=-0.1, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_category_split_items_and_disjoint_instances(tmp_path):
    train = dw.make_split("category", "train", sizes={"per_class": 1}, cache_dir=tmp_path, **TINY)
    test = dw.make_split("category", "test", sizes={"per_class": 1}, cache_dir=tmp_path, **TINY)
    assert len(train) == len(dw.CLASS_NAMES) == len(test.photos)
    assert sorted(train.sketch_labels.tolist()) == list(range(len(dw.CLASS_NAMES)))
    assert not set(train.sketch_instances.tolist()) & set(test.sketch_instances.tolist())
    item = test[3]
    assert item.split == "category/test" and item.class_name == dw.CLASS_NAMES[item.label]
    validate_stroke3(item.sketch)
    assert item.photo.shape == (128, 128, 3)
    # the item is the world's own instance: regenerating it gives the same photo and sketch
    world = dw.DoodleWorld(seed=0)
    again = world.item(item.class_name, item.instance_id)
    np.testing.assert_array_equal(again.photo, item.photo)
    np.testing.assert_array_equal(again.sketch, item.sketch)


def test_fine_grained_split_has_qmul_style_triplets(tmp_path):
    te = dw.make_split("fine_grained", "test", category="chair", sizes={"chair": 20}, cache_dir=tmp_path, **TINY)
    tr = dw.make_split("fine_grained", "train", category="chair", sizes={"chair": 20}, cache_dir=tmp_path, **TINY)
    assert te.triplets.shape == (20, 45, 2) and tr.triplets.shape == (20, 135, 2)
    np.testing.assert_array_equal(te.sketch_photo, np.arange(20))
    first = []
    for i in range(20):
        assert i in te.candidates[i] and len(set(te.candidates[i].tolist())) == 10
        assert set(te.triplets[i].ravel().tolist()) == set(te.candidates[i].tolist())
        with_true = te.triplets[i][(te.triplets[i] == i).any(axis=1)]
        assert len(with_true) == 9
        first.append(np.mean(with_true[:, 0] == i))
    assert np.mean(first) > 0.85  # the true match is judged more similar in most pairs (QMUL: ~98%)
    assert set(te.attributes(0)) == set(dw.get_class("chair").attribute_names)


def test_splits_as_paired_splits(tmp_path):
    from sbir_lib.edges import photo_edges

    te = dw.make_split("fine_grained", "test", category="chair", sizes={"chair": 10}, cache_dir=tmp_path, **TINY)
    rgb = te.paired()
    assert (rgb.name, rgb.split, rgb.photo_kind, rgb.classes) == ("doodleworld_fine_grained", "test", "rgb", te.class_names)
    assert rgb.photos is te.photos and rgb.sketch_format == "stroke3" and len(rgb) == 10
    np.testing.assert_array_equal(rgb.sketches[4], te.sketch(4))
    np.testing.assert_array_equal(rgb.sketch_photo, np.arange(10))
    assert len(rgb.triplets) == 10 and all(np.array_equal(rgb.triplets[i], te.triplets[i]) for i in range(10))
    assert rgb.meta["category"] == "chair"
    edges = te.paired("edges", edge_options={"sigma": 2.0})
    assert edges.photos.shape == te.photos.shape[:3] and edges.photos.dtype == np.uint8
    expected = np.where(photo_edges(te.photos[2], sigma=2.0) > 0, 0, 255)          # dark edges on white
    np.testing.assert_array_equal(edges.photos[2], expected)
    # category-level kinds carry no annotations; mid-grain distractors keep label -1
    mt = dw.make_split("mid_grain", "test", sizes={"queries_per_variant": 1, "gallery_per_variant": 0, "distractors": 2},
                       cache_dir=tmp_path, **TINY).paired()
    assert all(t.shape == (0, 2) for t in mt.triplets) and (mt.photo_labels == -1).sum() == 2
    with pytest.raises(ValueError, match="photos must be 'rgb' or 'edges', got 'grey'"):
        te.paired("grey")
    with pytest.raises(ValueError, match="edge_options are only used with photos='edges'"):
        te.paired("rgb", edge_options={"sigma": 1.0})


def test_zero_shot_and_mid_grain_splits(tmp_path):
    zs = dw.make_split("zero_shot", "test", sizes={"per_class": 1, "n_unseen": 5}, cache_dir=tmp_path, **TINY)
    unseen = zs.meta["unseen_classes"]
    assert {zs.class_names[l] for l in zs.sketch_labels} == set(unseen) and len(unseen) == 5
    assert zs.semantics.shape[0] == len(dw.CLASS_NAMES)
    mg = dw.make_split("mid_grain", "train", sizes={"per_variant": 1, "fine_photos": 1, "sketches_per_photo": 3}, cache_dir=tmp_path, **TINY)
    fine = mg.correspondence
    assert fine.sum() == 3 * len(dw.CLASS_NAMES)
    assert np.all(np.bincount(mg.sketch_photo[fine]) [np.unique(mg.sketch_photo[fine])] == 3)  # 3 sketches per fine photo
    n_variants = sum(len(m.variants) for m in dw.CLASS_MODELS.values())
    assert (~fine).sum() == n_variants
    mt = dw.make_split("mid_grain", "test", sizes={"queries_per_variant": 1, "gallery_per_variant": 1, "distractors": 4}, cache_dir=tmp_path, **TINY)
    assert (mt.photo_labels == -1).sum() == 4 and len(mt) == n_variants
    assert mt.attributes(int(np.flatnonzero(mt.photo_labels == -1)[0])) == {}
    for i in range(len(mt)):
        assert mt.sketch_variants[i] == mt.photo_variants[mt.sketch_photo[i]]


def test_splits_are_cached_atomically_without_pickle(tmp_path):
    kw = dict(sizes={"shoe": 12}, category="shoe", cache_dir=tmp_path, **TINY)
    a = dw.make_split("fine_grained", "test", **kw)
    path = dw.split_cache_path("fine_grained", "test", category="shoe", sizes={"shoe": 12}, cache_dir=tmp_path)
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    with np.load(path, allow_pickle=False) as z:
        assert "photos" in z.files
    b = dw.make_split("fine_grained", "test", **kw)
    np.testing.assert_array_equal(a.photos, b.photos)
    np.testing.assert_array_equal(a.triplets, b.triplets)
    np.testing.assert_array_equal(a.sketch_points, b.sketch_points)
    assert path != dw.split_cache_path("fine_grained", "test", category="shoe", sizes={"shoe": 12}, seed=1, cache_dir=tmp_path)
    assert path != dw.split_cache_path("fine_grained", "test", category="shoe", sizes={"shoe": 12}, difficulty=0.3, cache_dir=tmp_path)
    # a damaged cache file is regenerated, with a warning
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="regenerating a damaged cache file"):
        c = dw.make_split("fine_grained", "test", **kw)
    np.testing.assert_array_equal(a.photos, c.photos)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"junk")
    with pytest.raises(DataError, match="bad.npz: not a readable doodle-world split"):
        dw.DoodleSplit.load(bad)
    with pytest.raises(DataError, match="missing.npz: no such doodle-world split file"):
        dw.DoodleSplit.load(tmp_path / "missing.npz")


def test_import_stays_light():
    code = "import sys, sbir_lib.data.doodleworld; print(sorted(m for m in ('numba', 'torch', 'matplotlib', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"

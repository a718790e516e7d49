"""Canny photo edges and the coarse crop-and-resize alignment."""

import numpy as np
import pytest

from sbir_lib.edges import clear_border, crop_and_resize, crop_to_ink, ink_bbox, ink_from_uint8, photo_edges


def test_photo_edges_find_the_square_outline():
    img = np.zeros((64, 64, 3), np.uint8)
    img[16:48, 16:48] = (200, 30, 30)
    e = photo_edges(img, sigma=1.0)
    assert e.dtype == np.float32 and set(np.unique(e)) <= {0.0, 1.0}
    ys, xs = np.nonzero(e)
    assert 14 <= ys.min() <= 17 and 46 <= ys.max() <= 49 and 14 <= xs.min() <= 17
    assert e[30:34, 30:34].sum() == 0 and e[:8].sum() == 0          # flat areas have no edges
    assert photo_edges(img, sigma=1.0, dilate=1).sum() > e.sum()
    with pytest.raises(ValueError, match="shape"):
        photo_edges(np.zeros((4, 4, 4, 4)))
    with pytest.raises(ValueError, match="low_threshold"):
        photo_edges(img, low_threshold=0.5, high_threshold=0.1)


def test_crop_and_resize_aligns_ink():
    img = np.zeros((100, 100), np.float32)
    img[20:40, 50:90] = 1.0
    assert ink_bbox(img) == (20, 40, 50, 90)
    assert crop_to_ink(img, margin=0).shape == (20, 40)
    out = crop_and_resize(img, 32, margin=0)
    assert out.shape == (32, 32) and out.min() > 0.9                # stretched to fill the square
    kept = crop_and_resize(img, 32, margin=0, keep_aspect=True)
    assert kept[0].max() < 0.1 and kept[16].min() > 0.9             # centred, padded rows
    assert crop_and_resize(np.zeros((2, 10, 10)), 8).sum() == 0     # blank stays blank
    with pytest.raises(ValueError, match="no ink"):
        ink_bbox(np.zeros((5, 5)))
    with pytest.raises(ValueError, match="uint8"):
        ink_from_uint8(np.zeros((3, 3)))
    assert np.allclose(ink_from_uint8(np.array([[0, 255]], np.uint8)), [[1.0, 0.0]])


def test_clear_border_removes_a_frame_that_would_capture_the_crop():
    img = np.zeros((2, 40, 40), np.float32)
    img[:, :3, :] = img[:, -3:, :] = img[:, :, :3] = img[:, :, -3:] = 0.15   # faint frame
    img[:, 10:20, 15:30] = 1.0                                               # the object
    assert ink_bbox(img[0]) == (0, 40, 0, 40)                                # the frame wins
    out = clear_border(img, 3)
    assert ink_bbox(out[1]) == (10, 20, 15, 30) and img[0, 0, 0] == np.float32(0.15)   # a copy
    assert np.array_equal(out[:, 3:-3, 3:-3], img[:, 3:-3, 3:-3]) and out[:, :3].sum() == 0
    assert np.array_equal(clear_border(img, 0), img)
    with pytest.raises(ValueError, match="border width"):
        clear_border(img, 20)
    with pytest.raises(ValueError, match="border width"):
        clear_border(img, -1)


def test_qmul_edge_maps_have_a_faint_frame(shared_data):
    """The released edge maps: frame <= 0.18 in the outer 3 px, empty ring inside it (see clear_border)."""
    from sbir_lib.data.qmul import load_qmul_v1

    edges = ink_from_uint8(load_qmul_v1("shoes", "test", root=shared_data / "qmul_shoes_v1").photos)
    frame = np.concatenate([edges[:, :3].reshape(len(edges), -1), edges[:, :, :3].reshape(len(edges), -1)], 1)
    assert 0.1 < frame.max() < 0.2
    assert edges[:, 3:8, 8:-8].max() < 0.01
    assert all(ink_bbox(e) == (0, 256, 0, 256) for e in edges[:5])
    assert all(ink_bbox(e)[0] > 0 for e in clear_border(edges[:5], 3))

"""Tests for sbir_lib.figures: training curves and a query's result strip."""

from __future__ import annotations

from dataclasses import dataclass, field

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex

from sbir_lib.figures import CORRECT_COLOUR, WRONG_COLOUR, moving_average, plot_history, result_strip


@dataclass
class FakeHistory:
    losses: list = field(default_factory=list)
    val: list = field(default_factory=list)
    best_step: int = 0


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def lines_by_label(ax) -> dict:
    return {line.get_label(): line for line in ax.get_lines()}


# ----------------------------------------------------------------------------- plot_history


def test_moving_average_is_the_mean_of_each_window():
    np.testing.assert_allclose(moving_average([1, 2, 3, 4, 5], 2), [1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(moving_average([1, 2, 3], 10), [2.0])  # window capped at the length


def test_plot_history_draws_the_loss_its_moving_average_and_the_kept_step():
    losses = [4.0, 3.0, 2.0, 1.0, 1.0, 0.5]
    history = FakeHistory(losses, val=[(2, 0.30), (4, 0.55), (6, 0.50)], best_step=4)
    fig = plot_history(history, smooth=3, title="step 4")
    assert isinstance(fig, matplotlib.figure.Figure)
    ax_loss, ax_val = fig.axes
    loss_lines = lines_by_label(ax_loss)
    raw, avg = loss_lines["loss"], loss_lines["loss, mean of 3 steps"]
    np.testing.assert_array_equal(raw.get_xdata(), [1, 2, 3, 4, 5, 6])
    # steps 3..6 carry the mean of the 3 steps ending there
    np.testing.assert_array_equal(avg.get_xdata(), [3, 4, 5, 6])
    np.testing.assert_allclose(avg.get_ydata(), [3.0, 2.0, 4 / 3, 2.5 / 3])
    val_lines = lines_by_label(ax_val)
    np.testing.assert_array_equal(val_lines["validation"].get_xdata(), [2, 4, 6])
    np.testing.assert_array_equal(val_lines["validation"].get_ydata(), [0.30, 0.55, 0.50])
    kept = val_lines["kept: step 4"]
    assert list(kept.get_xdata()) == [4] and list(kept.get_ydata()) == [0.55] and kept.get_marker() == "*"
    assert fig._suptitle.get_text() == "step 4"
    assert ax_loss.get_xlabel() == "step" and ax_val.get_ylabel() == "validation score"


def test_plot_history_on_one_axes_puts_the_score_on_a_twin_axis_with_one_legend():
    fig, ax = plt.subplots()
    history = FakeHistory([1.0] * 20, val=[(10, 0.2), (20, 0.4)], best_step=20)
    assert plot_history(history, ax=ax, smooth=5) is fig
    assert len(fig.axes) == 2 and fig.axes[0] is ax
    twin = fig.axes[1]
    assert ax.get_shared_x_axes().joined(ax, twin)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "loss", "loss, mean of 5 steps", "validation", "kept: step 20"]


def test_plot_history_without_validation_says_so_and_smooth_1_draws_the_raw_loss_only():
    fig = plot_history(FakeHistory([3.0, 2.0, 1.0]), smooth=1)
    ax_loss, ax_val = fig.axes
    assert list(lines_by_label(ax_loss)) == ["loss"]
    assert [t.get_text() for t in ax_val.texts] == ["no validation score recorded"]


def test_plot_history_errors_name_the_problem():
    with pytest.raises(TypeError, match="history must have losses, val and best_step.*dict has no losses, val, best_step"):
        plot_history({"losses": [1.0]})
    with pytest.raises(ValueError, match="history.losses is empty: nothing was trained"):
        plot_history(FakeHistory([]))
    with pytest.raises(ValueError, match=r"non-finite values at steps \[2\]"):
        plot_history(FakeHistory([1.0, float("nan"), 0.5]))
    with pytest.raises(ValueError, match="smooth must be an int >= 1"):
        plot_history(FakeHistory([1.0]), smooth=0)


# ----------------------------------------------------------------------------- result_strip


def ink_square(size=16) -> np.ndarray:
    img = np.zeros((size, size), np.float32)
    img[4:12, 4:12] = 1.0
    return img


def test_result_strip_shows_the_query_then_the_results_with_green_and_red_frames():
    photo = np.full((16, 16, 3), 200, np.uint8)
    fig = result_strip(ink_square(), [photo, ink_square(), photo], titles=["shoe 3", "shoe 7", "shoe 1"],
                       correct=[True, False, None])
    axes = fig.axes
    assert len(axes) == 4
    assert [ax.get_title() for ax in axes] == ["query", "shoe 3", "shoe 7", "shoe 1"]
    frames = [{to_hex(s.get_edgecolor()) for s in ax.spines.values() if s.get_visible()} for ax in axes]
    assert frames == [{"#000000"}, {CORRECT_COLOUR}, {WRONG_COLOUR}, set()]
    # grey images are ink: drawn dark on white (reversed grey map, 0..1)
    query = axes[0].get_images()[0]
    assert query.get_cmap().name == "gray_r" and query.get_clim() == (0, 1)
    assert axes[1].get_images()[0].get_array().shape == (16, 16, 3)


def test_result_strip_default_titles_are_the_ranks_and_uint8_ink_uses_0_to_255():
    fig = result_strip((ink_square() * 255).astype(np.uint8), [ink_square(), ink_square()])
    assert [ax.get_title() for ax in fig.axes] == ["query", "1", "2"]
    assert fig.axes[0].get_images()[0].get_clim() == (0, 255)


def test_result_strip_errors_name_the_argument():
    with pytest.raises(ValueError, match="images is empty"):
        result_strip(ink_square(), [])
    with pytest.raises(ValueError, match="got 1 titles for 2 images"):
        result_strip(ink_square(), [ink_square(), ink_square()], titles=["a"])
    with pytest.raises(ValueError, match="got 3 correct flags for 2 images"):
        result_strip(ink_square(), [ink_square(), ink_square()], correct=[True, True, False])
    with pytest.raises(ValueError, match=r"images\[1\] must be \(H, W\) ink or \(H, W, 3\) RGB, got shape "
                                         r"\(3, 16, 16\) \(channels first\? move them last\)"):
        result_strip(ink_square(), [ink_square(), np.zeros((3, 16, 16))])
    with pytest.raises(ValueError, match=r"query_image must be .* got shape \(16,\)"):
        result_strip(np.zeros(16), [ink_square()])

"""Figures fit the book's column: ``lib.plots.fit_column`` (called by ``save_figure``)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lib.plots import COLUMN_INCHES, MIN_POINTS, fit_column  # noqa: E402


def _texts(fig):
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_text()]


def test_a_wide_row_of_panels_is_reflowed_into_rows_with_legible_text():
    fig, axes = plt.subplots(1, 5, figsize=(16, 3.5))
    for i, ax in enumerate(axes):
        ax.plot(np.arange(5) * i, label="mean")
        ax.set_title(f"panel {i}", fontsize=6)
        ax.legend(fontsize=7)
    fit_column(fig)
    assert fig.get_size_inches()[0] == COLUMN_INCHES
    rows = {ax.get_subplotspec().rowspan.start for ax in fig.axes}
    assert rows == {0, 1} and [ax.get_title() for ax in fig.axes] == [f"panel {i}" for i in range(5)]
    assert min(t.get_fontsize() for t in _texts(fig)) >= MIN_POINTS
    plt.close(fig)


def test_a_wide_figure_that_is_not_one_row_is_narrowed_and_a_narrow_one_keeps_its_size():
    fig, _ = plt.subplots(2, 2, figsize=(13, 6))
    fit_column(fig)
    assert fig.get_size_inches()[0] == COLUMN_INCHES and fig.get_size_inches()[1] < 6
    narrow, ax = plt.subplots(figsize=(6, 3))
    ax.set_xlabel("x", fontsize=12)
    fit_column(narrow)
    assert tuple(narrow.get_size_inches()) == (6, 3) and ax.xaxis.label.get_fontsize() == 12
    plt.close("all")

import numpy as np
import pytest
import torch

from course_utils.plotting import plot_curves, plot_heatmap, plot_loss_curves, plot_projection, project_2d


def test_plot_loss_curves_draws_one_labelled_line_per_history():
    ax = plot_loss_curves({"post-LN": [3, 2, 1], "pre-LN": [3, 1.5, 0.5, 0.2]}, smooth=2, title="Loss")
    assert [line.get_label() for line in ax.get_lines()] == ["post-LN", "pre-LN"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [3, 2.5, 1.5])  # running mean over 2 steps
    assert ax.get_title() == "Loss" and ax.get_xlabel() == "step" and ax.get_ylabel() == "loss"


def test_plot_loss_curves_bad_input():
    with pytest.raises(ValueError, match="empty"):
        plot_loss_curves({})
    with pytest.raises(ValueError, match="'a' must be a non-empty"):
        plot_loss_curves({"a": []})
    with pytest.raises(ValueError, match="smooth"):
        plot_loss_curves({"a": [1.0]}, smooth=0)


def test_plot_curves_checks_lengths_and_scales():
    ax = plot_curves([10, 100, 1000], {"full softmax": [1, 10, 100]}, title="t", xlabel="V", ylabel="ms",
                     logx=True, logy=True)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [10, 100, 1000])
    with pytest.raises(ValueError, match="has 2 values but x has 3"):
        plot_curves([1, 2, 3], {"s": [1, 2]}, title="t", xlabel="x", ylabel="y")
    with pytest.raises(ValueError, match="empty"):
        plot_curves([1], {}, title="t", xlabel="x", ylabel="y")


def test_plot_heatmap_labels_rows_columns_and_values():
    weights = torch.tensor([[0.9, 0.1], [0.3, 0.7]])
    ax = plot_heatmap(weights, row_labels=["the", "dog"], col_labels=["le", "chien"], title="attention")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["le", "chien"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["the", "dog"]
    assert sorted(t.get_text() for t in ax.texts) == ["0.10", "0.30", "0.70", "0.90"]
    np.testing.assert_allclose(ax.get_images()[0].get_array(), weights.numpy())


def test_plot_heatmap_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        plot_heatmap(np.zeros(3))
    with pytest.raises(ValueError, match="3 row labels for 2 rows"):
        plot_heatmap(np.zeros((2, 2)), row_labels=["a", "b", "c"])
    with pytest.raises(ValueError, match="1 column labels for 2 columns"):
        plot_heatmap(np.zeros((2, 2)), col_labels=["a"])
    with pytest.raises(ValueError, match="NaN"):
        plot_heatmap(np.array([[np.nan, 1.0], [0.0, 1.0]]))


def test_project_2d_pca_matches_sklearn_and_tsne_runs():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    points = rng.normal(size=(12, 5))
    np.testing.assert_allclose(project_2d(points), PCA(n_components=2, random_state=0).fit_transform(points))
    assert project_2d(points, method="tsne").shape == (12, 2)
    with pytest.raises(ValueError, match="unknown projection method 'umap'"):
        project_2d(points, method="umap")
    with pytest.raises(ValueError, match="at least 3"):
        project_2d(points[:2])
    with pytest.raises(ValueError, match="2-D"):
        project_2d(points[0])


def test_plot_projection_labels_every_point_and_colours_groups():
    points = np.eye(4)
    ax = plot_projection(points, ["king", "queen", "paris", "rome"], groups=["royal", "royal", "city", "city"])
    assert [t.get_text() for t in ax.texts] == ["king", "queen", "paris", "rome"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["royal", "city"]
    with pytest.raises(ValueError, match="3 labels for 4 vectors"):
        plot_projection(points, ["a", "b", "c"])
    with pytest.raises(ValueError, match="1 groups for 4 vectors"):
        plot_projection(points, list("abcd"), groups=["x"])

"""Plots the notebooks share: loss curves, labelled heatmaps, curves against a parameter, 2-D projections.

Every function draws on a given matplotlib ``ax`` (or a new figure), labels its axes and title, and
returns the axes so a notebook can add to it. Matplotlib's non-interactive backend works headless.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["plot_loss_curves", "plot_curves", "plot_heatmap", "project_2d", "plot_projection"]


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _running_mean(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    lo = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    hi = np.arange(1, len(values) + 1)
    return (cumulative[hi] - cumulative[lo]) / (hi - lo)


def plot_loss_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    title: str = "Training loss",
    xlabel: str = "step",
    ylabel: str = "loss",
    smooth: int = 1,
    logy: bool = False,
    ax=None,
    figsize=(6, 3.5),
):
    """One line per named loss history; ``smooth`` > 1 draws a running mean over that many steps."""
    if not curves:
        raise ValueError("curves is empty: pass at least one named loss history")
    if smooth < 1:
        raise ValueError(f"smooth must be at least 1, got {smooth}")
    ax = _axes(ax, figsize)
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        if values.ndim != 1 or len(values) == 0:
            raise ValueError(f"curve {name!r} must be a non-empty 1-D sequence of losses")
        ax.plot(np.arange(1, len(values) + 1), _running_mean(values, smooth), label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_curves(
    x: Sequence[float],
    ys: Mapping[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = False,
    logy: bool = False,
    marker: str = "o",
    ax=None,
    figsize=(6, 3.5),
):
    """Named series measured at the same ``x`` values (e.g. time per step against vocabulary size)."""
    x = np.asarray(x, dtype=float)
    if not ys:
        raise ValueError("ys is empty: pass at least one named series")
    ax = _axes(ax, figsize)
    for name, values in ys.items():
        values = np.asarray(values, dtype=float)
        if values.shape != x.shape:
            raise ValueError(f"series {name!r} has {values.shape[0] if values.ndim else 0} values but x has {len(x)}")
        ax.plot(x, values, marker=marker, label=name)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_heatmap(
    matrix,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    annotate: bool | None = None,
    fmt: str = ".2f",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
    ax=None,
    figsize=None,
):
    """A matrix as a heatmap with labelled rows and columns (attention weights, similarity matrices).

    ``annotate`` writes each value in its cell; by default it does so for matrices up to 12×12.
    """
    values = np.asarray(matrix.detach().cpu() if hasattr(matrix, "detach") else matrix, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"plot_heatmap needs a 2-D matrix, got shape {values.shape}")
    rows, cols = values.shape
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for {rows} rows")
    if col_labels is not None and len(col_labels) != cols:
        raise ValueError(f"{len(col_labels)} column labels for {cols} columns")
    if not np.all(np.isfinite(values)):
        raise ValueError("the matrix contains NaN or infinite values")
    if figsize is None:
        figsize = (min(1.0 + 0.55 * cols, 12), min(0.8 + 0.45 * rows, 10))
    ax = _axes(ax, figsize)
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    if col_labels is not None:
        ax.set_xticks(range(cols), labels=list(col_labels), rotation=45, ha="right")
    if row_labels is not None:
        ax.set_yticks(range(rows), labels=list(row_labels))
    if annotate is None:
        annotate = rows <= 12 and cols <= 12
    if annotate:
        middle = (np.nanmin(values) + np.nanmax(values)) / 2
        for i in range(rows):
            for j in range(cols):
                colour = "black" if values[i, j] > middle else "white"
                ax.text(j, i, format(values[i, j], fmt), ha="center", va="center", color=colour, fontsize=8)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def project_2d(vectors, *, method: str = "pca", seed: int = 0, perplexity: float | None = None) -> np.ndarray:
    """Project row vectors to 2-D with PCA or t-SNE (as an embedding projector does)."""
    points = np.asarray(vectors.detach().cpu() if hasattr(vectors, "detach") else vectors, dtype=float)
    if points.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array (items × dimensions), got shape {points.shape}")
    if len(points) < 3:
        raise ValueError(f"need at least 3 vectors to project, got {len(points)}")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(points)
    if method == "tsne":
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        perplexity = perplexity if perplexity is not None else min(30.0, (len(points) - 1) / 3)
        # For the few hundred points shown here, one BLAS/OpenMP thread is fastest; more threads only
        # contend (badly so on a busy 2-core machine).
        with threadpool_limits(1):
            return TSNE(n_components=2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(points)
    raise ValueError(f"unknown projection method {method!r}; use 'pca' or 'tsne'")


def plot_projection(
    vectors,
    labels: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    method: str = "pca",
    title: str | None = None,
    seed: int = 0,
    ax=None,
    figsize=(7, 5.5),
):
    """Scatter vectors in 2-D with a text label per point, coloured by ``groups`` when given."""
    points = project_2d(vectors, method=method, seed=seed)
    if len(labels) != len(points):
        raise ValueError(f"{len(labels)} labels for {len(points)} vectors")
    if groups is not None and len(groups) != len(points):
        raise ValueError(f"{len(groups)} groups for {len(points)} vectors")
    ax = _axes(ax, figsize)
    group_names = list(dict.fromkeys(groups)) if groups is not None else [None]
    for name in group_names:
        mask = np.array([g == name for g in groups]) if groups is not None else np.ones(len(points), bool)
        ax.scatter(points[mask, 0], points[mask, 1], label=name, s=25)
    for (x, y), label in zip(points, labels):
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=8)
    if groups is not None:
        ax.legend(fontsize=8)
    ax.set(title=title or f"2-D {method.upper()} projection", xlabel=f"{method} 1", ylabel=f"{method} 2")
    return ax

"""Figures without a display: new axes on a plain ``Figure`` unless pyplot is in use (notebooks),
closed after saving. Matplotlib is an optional extra (``hbjax[plots]``)."""

from __future__ import annotations

import sys

__all__ = ["close_figure", "new_axes", "require_matplotlib"]


def require_matplotlib():
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError("plots need matplotlib: pip install hbjax[plots]") from err
    return matplotlib


def new_axes(ax, figsize=(8, 5)):
    """``(figure, axes)``: ``ax``'s own, or a new figure's."""
    if ax is not None:
        return ax.figure, ax
    require_matplotlib()
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot()


def close_figure(fig) -> None:
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        plt.close(fig)

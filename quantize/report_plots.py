"""Report plots: PNGs drawn from the report dict, returned as base64 data URIs.

Only the report dict goes in (histogram counts, curves, confusion matrices), so the
pictures show exactly the numbers the JSON holds. Figures are drawn on matplotlib's
Agg canvas directly, never through pyplot: no GUI backend, no global state changed in
the caller's process, nothing fetched from the network.
"""

from __future__ import annotations

import base64
import io

import numpy as np

FLOAT_COLOR = "#3b6ea8"
INT_COLOR = "#e07b39"
RANGE_COLOR = "#c0392b"
DPI = 96


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _data_uri(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _style(ax, title: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _mark_range(ax, lo: float, hi: float, label: str) -> None:
    """Shade what lies outside the integer grid: values there saturate."""
    left, right = ax.get_xlim()
    ax.axvspan(min(left, lo), lo, color=RANGE_COLOR, alpha=0.08, lw=0)
    ax.axvspan(hi, max(right, hi), color=RANGE_COLOR, alpha=0.08, lw=0)
    ax.axvline(lo, color=RANGE_COLOR, ls="--", lw=1, label=label)
    ax.axvline(hi, color=RANGE_COLOR, ls="--", lw=1)
    ax.set_xlim(left, right)


def _grid(fig, n: int, ncols: int):
    nrows = -(-n // ncols)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).reshape(-1)
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


def weight_histograms(entry: dict) -> str:
    """One layer: float weights per gate (columns) and path (rows), int8 range marked."""
    panels = entry["panels"]
    ncols = len(panels) // 2 if entry["kind"] not in ("dense", "conv1d") else 1
    fig = _figure(2.6 * ncols + 0.4, 1.9 * (len(panels) // ncols) + 0.3)
    for ax, panel in zip(_grid(fig, len(panels), ncols), panels):
        edges = np.asarray(panel["edges"])
        ax.stairs(panel["counts"], edges, fill=True, color=FLOAT_COLOR, alpha=0.75, label="float weights")
        ax.set_xlim(edges[0], edges[-1])
        _mark_range(ax, *panel["range"], "int8 range ±127·scale")
        _style(ax, panel["title"])
    axes = fig.get_axes()
    axes[0].legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle(f"{entry['layer']} ({entry['kind']}) weights", fontsize=10)
    return _data_uri(fig)


def activation_histograms(entry: dict) -> str:
    """One layer: float vs dequantized int values per tensor, on bins around the int range."""
    panels = entry["panels"]
    n = len(panels)
    ncols = 3 if n in (5, 6) else min(n, 4)
    fig = _figure(3.2 * ncols + 0.4, 2.2 * (-(-n // ncols)) + 0.3)
    for ax, panel in zip(_grid(fig, n, ncols), panels):
        edges = np.asarray(panel["edges"])
        # Log counts: a handful of saturated values beside 10^5 ordinary ones stays visible.
        ax.set_yscale("log")
        ax.stairs(panel["float"], edges, fill=True, color=FLOAT_COLOR, alpha=0.55, label="float", baseline=0.7)
        ax.stairs(panel["int"], edges, color=INT_COLOR, lw=1.0, label="int (dequantized)", baseline=0.7)
        ax.set_ylim(bottom=0.7)
        ax.set_xlim(edges[0], edges[-1])
        _mark_range(ax, *panel["range"], "int range")
        _style(ax, panel["title"])
    fig.get_axes()[0].legend(fontsize=7, frameon=False, loc="upper left")
    fig.suptitle(f"{entry['layer']} ({entry['kind']}) activations", fontsize=10)
    return _data_uri(fig)


def error_over_time(layers: list) -> str | None:
    """Per-step RMS error of each recurrent layer's hidden state: does the error accumulate?"""
    curves = [(e["name"], e["error_over_time"]) for e in layers if e.get("error_over_time")]
    if not curves:
        return None
    fig = _figure(10.0, 3.0)
    ax_abs, ax_rel = fig.subplots(1, 2)
    for name, curve in curves:
        err, ref = np.asarray(curve["rms_error"], float), np.asarray(curve["rms_float"], float)
        steps = np.arange(1, err.size + 1)
        ax_abs.plot(steps, err, lw=1.5, label=name)
        ax_rel.plot(steps, 100.0 * err / np.where(ref > 0, ref, np.nan), lw=1.5, label=name)
    _style(ax_abs, "hidden state RMS error per time step")
    _style(ax_rel, "relative to float RMS (%)")
    for ax in (ax_abs, ax_rel):
        ax.set_xlabel("time step", fontsize=8)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    ax_abs.legend(fontsize=7, frameon=False)
    return _data_uri(fig)


def per_class_accuracy(acc: dict) -> str | None:
    if not acc or acc.get("float") is None:
        return None
    classes = acc["classes"]
    pos = np.arange(len(classes))
    fig = _figure(min(10.0, 1.2 + 0.9 * len(classes)), 3.0)
    ax = fig.subplots()
    for offset, key, color in ((-0.2, "float", FLOAT_COLOR), (0.2, "int8", INT_COLOR)):
        vals = [100.0 * v if v is not None else 0.0 for v in acc["per_class"][key]]
        ax.bar(pos + offset, vals, width=0.4, color=color, label=key)
    long_names = max(map(len, classes)) > 6
    ax.set_xticks(pos, classes, rotation=30 if long_names else 0, ha="right" if long_names else "center")
    ax.set_ylim(0, 105)
    ax.set_ylabel("recall (%)", fontsize=8)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    _style(ax, "per-class accuracy (recall)")
    return _data_uri(fig)


def confusion_matrices(acc: dict) -> str | None:
    """Float and int8 side by side; colour is the row-normalized rate, text the count."""
    if not acc or acc.get("float") is None:
        return None
    classes = acc["classes"]
    n = len(classes)
    side = min(5.0, 2.0 + 0.4 * n)
    fig = _figure(2 * side + 0.6, side)
    for ax, key in zip(fig.subplots(1, 2), ("float", "int8")):
        cm = np.asarray(acc["confusion"][key], float)
        rate = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        ax.imshow(rate, cmap="Blues", vmin=0, vmax=1)
        if n <= 16:  # beyond that the numbers no longer fit the cells
            for (i, j), v in np.ndenumerate(cm):
                ax.text(j, i, f"{int(v)}", ha="center", va="center", fontsize=8, color="white" if rate[i, j] > 0.6 else "black")
        ax.set_xticks(range(n), classes, rotation=90 if max(map(len, classes)) > 3 else 0, fontsize=8)
        ax.set_yticks(range(n), classes, fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        ax.set_title(f"{key} confusion matrix", fontsize=10)
    return _data_uri(fig)


def no_plots(reason: str) -> dict:
    return {"unavailable": reason, "weights": [], "activations": [], "error_over_time": None, "per_class": None, "confusion": None}


def render_plots(report: dict) -> dict:
    """All plots as data URIs; {"unavailable": reason} when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return no_plots("plots need matplotlib: pip install tinyrnn[report]")
    hist = report["histograms"]
    return {
        "unavailable": None,
        "weights": [weight_histograms(e) for e in hist["weights"]],
        "activations": [activation_histograms(e) for e in hist["activations"]],
        "error_over_time": error_over_time(report["fidelity"]["layers"]),
        "per_class": per_class_accuracy(report["accuracy"]),
        "confusion": confusion_matrices(report["accuracy"]),
    }

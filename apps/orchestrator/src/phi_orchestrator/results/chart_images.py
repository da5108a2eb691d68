"""Chart descriptions drawn as PNG images, for email (inline) and the PDF.

matplotlib with its non-interactive Agg backend (no display, no fonts fetched: DejaVu Sans
ships inside matplotlib). A null value is a gap: NaN breaks a line and leaves a bar out.
Figures in docs/benchmarks.md ("Report charts and PDF").
"""

from __future__ import annotations

import io
import math
import threading
from typing import Any

from phi_orchestrator.results.spec import Chart

# The web app's palette (tailwind slate/sky), so the email looks like the page.
VALUE_COLOURS = ("#0284c7", "#7c3aed", "#059669")
BASELINE_COLOUR = "#94a3b8"

# pyplot keeps global state; figures are built through the object API, but matplotlib's
# font cache and text layout are not thread-safe, so one chart is drawn at a time.
_lock = threading.Lock()


def _figure_module() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure


def _values(values: list[float | None]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def chart_png(chart: Chart, width_px: int = 640, height_px: int = 300, dpi: int = 100) -> bytes:
    """One chart as PNG bytes (``width_px`` x ``height_px`` at ``dpi``)."""
    figure_class = _figure_module()
    with _lock:
        fig = figure_class(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
        ax = fig.add_subplot()
        positions = list(range(len(chart.labels)))
        values = [s for s in chart.series if s.role == "value"]
        baselines = [s for s in chart.series if s.role == "baseline"]
        if chart.kind == "bar":
            # Value bars side by side; each baseline as a short dark tick over its category.
            width = 0.8 / max(len(values), 1)
            for i, series in enumerate(values):
                offset = (i - (len(values) - 1) / 2) * width
                ax.bar(
                    [p + offset for p in positions],
                    _values(series.values),
                    width=width * 0.92,
                    color=VALUE_COLOURS[i % len(VALUE_COLOURS)],
                    label=series.name,
                )
            for series in baselines:
                ax.scatter(
                    positions,
                    _values(series.values),
                    marker="_",
                    s=700,
                    linewidths=2.5,
                    color="#334155",
                    label=series.name,
                    zorder=3,
                )
        else:
            for series in baselines:
                ax.plot(
                    positions,
                    _values(series.values),
                    linestyle="--",
                    linewidth=1.8,
                    color=BASELINE_COLOUR,
                    label=series.name,
                )
            for i, series in enumerate(values):
                ax.plot(
                    positions,
                    _values(series.values),
                    marker="o",
                    markersize=3.5,
                    linewidth=2,
                    color=VALUE_COLOURS[i % len(VALUE_COLOURS)],
                    label=series.name,
                )
        step = max(1, math.ceil(len(positions) / 10))
        ax.set_xticks(positions[::step], chart.labels[::step], fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_ylabel(chart.unit, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.set_title(chart.title, fontsize=11, loc="left", pad=18)
        ax.grid(axis="y", color="#e2e8f0", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(
            fontsize=8,
            frameon=False,
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncol=len(chart.series),
            handlelength=1.6,
            markerscale=0.5,
        )
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png")
        return out.getvalue()

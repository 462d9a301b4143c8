"""Small server-side SVG charts (no JavaScript, no network): stacked columns and horizontal bars."""

from __future__ import annotations

from markupsafe import Markup, escape

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac"]
FONT = "font-family='sans-serif' font-size='11'"


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _nice_max(value: float) -> float:
    """A round axis maximum at or above value (1, 2, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def stacked_columns(labels: list[str], series: dict[str, list[float]], *, chart_id: str,
                    width: int = 760, height: int = 260) -> Markup:
    """Columns per label, one stacked segment per series, with a legend; hover titles give the numbers."""
    left, right, top, bottom = 40, 10, 10, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top_value = _nice_max(max(totals, default=0))
    slot = plot_w / max(len(labels), 1)
    bar_w = max(min(slot * 0.7, 40), 2)
    parts = [f"<svg id='{chart_id}' class='chart' role='img' viewBox='0 0 {width} {height + 20 * len(series)}' "
             f"width='{width}' xmlns='http://www.w3.org/2000/svg'>"]
    for tick in (0, 0.5, 1):
        y = top + plot_h * (1 - tick)
        parts.append(f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' stroke='#ddd'/>")
        parts.append(f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end' {FONT}>{top_value * tick:g}</text>")
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        base = top + plot_h
        for s, (name, values) in enumerate(series.items()):
            if not values[i]:
                continue
            h = plot_h * values[i] / top_value
            base -= h
            parts.append(f"<rect x='{x:.1f}' y='{base:.1f}' width='{bar_w:.1f}' height='{h:.1f}' fill='{color(s)}'>"
                         f"<title>{escape(label)} · {escape(name)}: {values[i]:g}</title></rect>")
        cx = x + bar_w / 2
        parts.append(f"<text x='{cx:.1f}' y='{top + plot_h + 8}' transform='rotate(45 {cx:.1f} {top + plot_h + 8})' "
                     f"{FONT}>{escape(label)}</text>")
    for s, name in enumerate(series):
        y = height + 20 * s
        parts.append(f"<rect x='{left}' y='{y - 10}' width='12' height='12' fill='{color(s)}'/>"
                     f"<text class='legend' x='{left + 18}' y='{y}' {FONT}>{escape(name)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(labels: list[str], values: list[float], *, chart_id: str, value_format: str = "{:g}",
                    max_value: float | None = None, width: int = 760, label_width: int = 260) -> Markup:
    """One bar per label, longest first as given, the formatted value at the end of each bar."""
    row_h, top = 22, 6
    height = top * 2 + row_h * max(len(labels), 1)
    plot_w = width - label_width - 70
    scale = max_value or _nice_max(max(values, default=0))
    parts = [f"<svg id='{chart_id}' class='chart' role='img' viewBox='0 0 {width} {height}' width='{width}' "
             f"xmlns='http://www.w3.org/2000/svg'>"]
    for i, (label, value) in enumerate(zip(labels, values)):
        y = top + row_h * i
        w = max(plot_w * value / scale, 1)
        shown = label if len(label) <= 28 else label[:27] + "…"
        parts.append(f"<text x='{label_width - 6}' y='{y + 15}' text-anchor='end' {FONT}>"
                     f"<title>{escape(label)}</title>{escape(shown)}</text>")
        parts.append(f"<rect x='{label_width}' y='{y + 3}' width='{w:.1f}' height='{row_h - 6}' fill='{color(0)}'>"
                     f"<title>{escape(label)}: {escape(value_format.format(value))}</title></rect>")
        parts.append(f"<text x='{label_width + w + 4:.1f}' y='{y + 15}' {FONT}>"
                     f"{escape(value_format.format(value))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))

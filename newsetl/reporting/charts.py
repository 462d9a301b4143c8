"""Small server-side SVG charts (no JavaScript, no network): stacked columns on a time axis, horizontal bars.

Every value that reaches the SVG text is escaped here (`markupsafe.escape`); the result is `Markup`, the only
HTML the report template does not escape itself.
"""

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


def _label_step(count: int, max_labels: int) -> int:
    """Show every n-th axis label so that at most about `max_labels` are drawn."""
    return max(1, -(-count // max_labels))


def stacked_columns(labels: list[str], series: dict[str, list[float]], *, chart_id: str, x_title: str,
                    y_title: str, width: int = 760, height: int = 280, max_labels: int = 24) -> Markup:
    """Columns per label (an axis slot each, empty ones included), one stacked segment per series, a legend.

    Every slot is a `<g class='slot'>` with `data-label` and `data-total`; an empty slot (a gap) is drawn as a
    thin grey mark on the baseline, so gaps stay visible. Axis titles name the units. The first and last labels
    are always drawn; the ones between are thinned to about `max_labels`. Hover titles give the numbers.
    """
    left, right, top, bottom = 56, 44, 10, 86
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top_value = _nice_max(max(totals, default=0))
    slot = plot_w / max(len(labels), 1)
    bar_w = max(min(slot * 0.7, 40), 1)
    step = _label_step(len(labels), max_labels)
    parts = [f"<svg id='{chart_id}' class='chart' role='img' viewBox='0 0 {width} {height + 16 + 20 * len(series)}' "
             f"width='{width}' xmlns='http://www.w3.org/2000/svg'>"]
    for tick in (0, 0.5, 1):
        y = top + plot_h * (1 - tick)
        parts.append(f"<line x1='{left}' x2='{width - right}' y1='{y:.1f}' y2='{y:.1f}' stroke='#ddd'/>")
        parts.append(f"<text x='{left - 4}' y='{y + 4:.1f}' text-anchor='end' {FONT}>{top_value * tick:g}</text>")
    parts.append(f"<text class='axis-title y' x='12' y='{top + plot_h / 2:.1f}' text-anchor='middle' "
                 f"transform='rotate(-90 12 {top + plot_h / 2:.1f})' {FONT}>{escape(y_title)}</text>")
    parts.append(f"<text class='axis-title x' x='{left + plot_w / 2:.1f}' y='{height - 4}' text-anchor='middle' "
                 f"{FONT}>{escape(x_title)}</text>")
    base_y = top + plot_h
    for i, label in enumerate(labels):
        x = left + slot * i + (slot - bar_w) / 2
        parts.append(f"<g class='slot' data-label='{escape(label)}' data-total='{totals[i]:g}'>")
        if not totals[i]:
            parts.append(f"<rect class='gap' x='{x:.1f}' y='{base_y - 2:.1f}' width='{bar_w:.1f}' height='2' "
                         f"fill='#bbb'><title>{escape(label)}: 0 {escape(y_title)}</title></rect>")
        base = base_y
        for s, (name, values) in enumerate(series.items()):
            if not values[i]:
                continue
            h = plot_h * values[i] / top_value
            base -= h
            parts.append(f"<rect x='{x:.1f}' y='{base:.1f}' width='{bar_w:.1f}' height='{h:.1f}' fill='{color(s)}'>"
                         f"<title>{escape(label)} · {escape(name)}: {values[i]:g} {escape(y_title)}</title></rect>")
        parts.append("</g>")
        if i % step == 0 or i == len(labels) - 1:
            cx = x + bar_w / 2
            parts.append(f"<text class='tick' x='{cx:.1f}' y='{base_y + 8}' "
                         f"transform='rotate(45 {cx:.1f} {base_y + 8})' {FONT}>{escape(label)}</text>")
    for s, name in enumerate(series):
        y = height + 16 + 20 * s
        parts.append(f"<rect x='{left}' y='{y - 10}' width='12' height='12' fill='{color(s)}'/>"
                     f"<text class='legend' x='{left + 18}' y='{y}' {FONT}>{escape(name)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bars(labels: list[str], series: dict[str, list[float]], *, chart_id: str, unit: str,
                 colors: list[str] | None = None, width: int = 760, label_width: int = 200) -> Markup:
    """One horizontal bar per label, one segment per series (e.g. fetched / failed / refused), a legend and a
    caption naming the unit; hover titles give each segment's number."""
    row_h, top = 22, 6
    colors = colors or [color(i) for i in range(len(series))]
    height = top * 2 + row_h * max(len(labels), 1)
    plot_w = width - label_width - 70
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    scale = _nice_max(max(totals, default=0))
    legend_y = height + 16
    parts = [f"<svg id='{chart_id}' class='chart' role='img' viewBox='0 0 {width} {legend_y + 24}' width='{width}' "
             f"xmlns='http://www.w3.org/2000/svg'>"]
    for i, label in enumerate(labels):
        y = top + row_h * i
        shown = label if len(label) <= 28 else label[:27] + "…"
        parts.append(f"<text x='{label_width - 6}' y='{y + 15}' text-anchor='end' {FONT}>"
                     f"<title>{escape(label)}</title>{escape(shown)}</text>")
        x = float(label_width)
        for s, (name, values) in enumerate(series.items()):
            if not values[i]:
                continue
            w = max(plot_w * values[i] / scale, 1)
            parts.append(f"<rect x='{x:.1f}' y='{y + 3}' width='{w:.1f}' height='{row_h - 6}' fill='{colors[s]}'>"
                         f"<title>{escape(label)} · {escape(name)}: {values[i]:g} {escape(unit)}</title></rect>")
            x += w
        parts.append(f"<text x='{x + 4:.1f}' y='{y + 15}' {FONT}>{totals[i]:g}</text>")
    x = float(label_width)
    for s, name in enumerate(series):
        parts.append(f"<rect x='{x:.1f}' y='{legend_y - 10}' width='12' height='12' fill='{colors[s]}'/>"
                     f"<text class='legend' x='{x + 18:.1f}' y='{legend_y}' {FONT}>{escape(name)}</text>")
        x += 30 + 7 * len(name)
    parts.append(f"<text class='axis-title x' x='{width - 10}' y='{legend_y}' text-anchor='end' {FONT}>"
                 f"{escape(unit)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(labels: list[str], values: list[float], *, chart_id: str, unit: str, value_format: str = "{:g}",
                    max_value: float | None = None, width: int = 760, label_width: int = 260) -> Markup:
    """One bar per label, longest first as given, the formatted value at the end of each bar, and a caption
    naming the unit of the values."""
    row_h, top = 22, 6
    height = top * 2 + row_h * max(len(labels), 1)
    plot_w = width - label_width - 70
    scale = max_value or _nice_max(max(values, default=0))
    parts = [f"<svg id='{chart_id}' class='chart' role='img' viewBox='0 0 {width} {height + 20}' width='{width}' "
             f"xmlns='http://www.w3.org/2000/svg'>",
             f"<text class='axis-title x' x='{width - 10}' y='{height + 14}' text-anchor='end' {FONT}>"
             f"{escape(unit)}</text>"]
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

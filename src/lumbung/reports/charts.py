"""Charts as inline SVG, drawn here: the report must open offline, with no script or CDN.

Each function returns one ``<svg>`` element (valid XML, so the page stays parseable) with a
``<title>`` for screen readers and the values written on the chart itself.
"""

from __future__ import annotations

from html import escape

PALETTE = ("#2f6f9f", "#d9822b", "#4c9a2a", "#b83b5e", "#7a5195", "#8c6d31", "#3b8686",
           "#c44e52")
FONT = "font-family:sans-serif;font-size:12px"


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def bar_chart(title: str, items: list[tuple[str, float]], unit: str = "",
              color: str = PALETTE[0]) -> str:
    """Horizontal bars, one per item, largest scale = largest value."""
    if not items:
        return ""
    label_w, bar_w, row_h, top = 260, 380, 22, 26
    height = top + row_h * len(items) + 8
    items = [(label, float(v)) for label, v in items]
    peak = max(v for _, v in items) or 1
    parts = [
        f'<svg role="img" width="{label_w + bar_w + 90}" '
        f'height="{height}" style="{FONT}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" style="font-weight:bold">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = top + i * row_h
        width = max(1.0, bar_w * value / peak) if value else 0
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">'
                     f"{escape(label)}</text>")
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{width:.1f}" height="{row_h - 6}" '
                     f'fill="{color}"/>')
        parts.append(f'<text x="{label_w + width + 4:.1f}" y="{y + 15}">'
                     f"{escape(_number(value) + unit)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def line_chart(title: str, x_labels: list[str], series: dict[str, list[float | None]],
               unit: str = "") -> str:
    """One line per series over the x labels (days), through the days that have a value."""
    if not x_labels or not series:
        return ""
    left, right, top, bottom, width, height = 60, 150, 30, 50, 760, 260
    plot_w, plot_h = width - left - right, height - top - bottom
    # counts from the database arrive as Decimal, computed shares as float: plot floats
    series = {name: [None if v is None else float(v) for v in vs]
              for name, vs in series.items()}
    values = [v for vs in series.values() for v in vs if v is not None]
    peak = max(values, default=0) or 1
    step = plot_w / max(1, len(x_labels) - 1)

    def x(i: int) -> float:
        return left + (i * step if len(x_labels) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / peak

    parts = [
        f'<svg role="img" width="{width}" '
        f'height="{height}" style="{FONT}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" style="font-weight:bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">'
        f"{escape(_number(peak) + unit)}</text>",
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0{escape(unit)}</text>',
    ]
    every = max(1, len(x_labels) // 8)  # at most about eight date labels
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == len(x_labels) - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                         f"{escape(label)}</text>")
    for n, (name, vs) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        points = []
        for i, v in enumerate(vs):
            if v is None:  # no landing that day: not a zero, the line goes past it
                continue
            points.append(f"{x(i):.1f},{y(v):.1f}")
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                         f"<title>{escape(f'{name} {x_labels[i]}: {_number(v)}{unit}')}"
                         "</title></circle>")
        if len(points) > 1:
            parts.append(f'<polyline points="{" ".join(points)}" fill="none" '
                         f'stroke="{color}" stroke-width="2"/>')
        ly = top + 14 * n
        parts.append(f'<rect x="{width - right + 10}" y="{ly}" width="10" height="10" '
                     f'fill="{color}"/>')
        parts.append(f'<text x="{width - right + 24}" y="{ly + 9}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)

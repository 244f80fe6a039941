#!/usr/bin/python3
"""Draws training curves from tools/train_family.py logs as one SVG.

    /usr/bin/python3 tools/plot_training.py OUT.svg LOG [LOG ...]

Reads every "<model> step N/M loss L (ema E) ..." line (later lines of a model replace earlier
ones at the same step, so a log of a resumed run reads as one curve) and plots the loss EMA
(nats per predicted byte, the training batches' own loss, not held-out) against the step, one
polyline per model. Standard library only.
"""
import re
import sys

LINE = re.compile(r"^\S+ (\S+) step +(\d+)/(\d+) loss [0-9.]+ \(ema ([0-9.]+)\)")
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def curves(paths):
    out = {}
    for p in paths:
        for line in open(p, errors="replace"):
            m = LINE.match(line)
            if m and m.group(1) not in ("warmup", "bench"):
                out.setdefault(m.group(1), {})[int(m.group(2))] = float(m.group(4))
    return {k: sorted(v.items()) for k, v in out.items() if len(v) >= 2}


def svg(series, width=720, height=420):
    left, right, top, bottom = 60, 160, 20, 50
    xs = [s for pts in series.values() for s, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    x0, x1 = 0, max(xs)
    y0, y1 = min(ys), max(ys)
    pad = 0.05 * (y1 - y0 or 1)
    y0, y1 = y0 - pad, y1 + pad

    def px(x):
        return left + (x - x0) / (x1 - x0 or 1) * (width - left - right)

    def py(y):
        return top + (y1 - y) / (y1 - y0) * (height - top - bottom)

    e = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
         'font-size="12">' % (width, height),
         '<rect width="100%" height="100%" fill="white"/>']
    for i in range(6):
        y = y0 + (y1 - y0) * i / 5
        e.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (
            left, width - right, py(y), py(y)))
        e.append('<text x="%d" y="%.1f" text-anchor="end">%.2f</text>' % (left - 6, py(y) + 4, y))
    for i in range(6):
        x = x0 + (x1 - x0) * i / 5
        e.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (px(x), height - bottom + 16, x))
    e.append('<text x="%d" y="%d" text-anchor="middle">training step</text>' % (
        (left + width - right) // 2, height - 12))
    e.append('<text x="14" y="%d" transform="rotate(-90 14 %d)" text-anchor="middle">'
             'training loss EMA, nats/byte</text>' % ((top + height - bottom) // 2, (top + height - bottom) // 2))
    for i, (name, pts) in enumerate(sorted(series.items())):
        c = COLOURS[i % len(COLOURS)]
        e.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>' % (
            c, " ".join("%.1f,%.1f" % (px(x), py(y)) for x, y in pts)))
        e.append('<text x="%d" y="%d" fill="%s">%s</text>' % (width - right + 10, top + 16 * (i + 1), c, name))
    e.append("</svg>")
    return "\n".join(e) + "\n"


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    series = curves(sys.argv[2:])
    if not series:
        raise SystemExit("no training steps found in %s" % ", ".join(sys.argv[2:]))
    with open(sys.argv[1], "w") as f:
        f.write(svg(series))
    for name, pts in sorted(series.items()):
        print("%s: steps %d..%d, loss EMA %.4f -> %.4f" % (name, pts[0][0], pts[-1][0], pts[0][1], pts[-1][1]))


if __name__ == "__main__":
    main()

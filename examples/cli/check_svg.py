# SPDX-FileCopyrightText: 2026 The droidspeak authors
# SPDX-License-Identifier: Apache-2.0
"""Checks an SVG the droidspeak tool wrote: well-formed XML, an <svg> root with a size, a
title, and the groups and elements its kind of picture must hold.
Usage: python3 check_svg.py grid|pareto|timeline|load FILE"""
import sys
import xml.etree.ElementTree as ET

NS = "{http://www.w3.org/2000/svg}"
GROUPS = {
    "grid": ["cells", "axes", "legend"],
    "pareto": ["axes", "threshold", "points", "front", "marks", "legend"],
    "timeline": ["axes", "phases", "full", "legend"],
    "load": ["axes", "lines", "legend"],
}
TEXTS = {
    "grid": ["first recomputed layer (start)", "last recomputed layer (end)", "selected plan"],
    "pareto": ["layers recomputed by the receiver", "Pareto front", "full reuse", "full recompute", "selected plan"],
    "timeline": ["E transfer", "KV transfer", "recompute", "suffix", "full prefill",
                 "time since the receiver's prefill began (ms)"],
    "load": ["arrival rate / full-prefill capacity", "time to first token", "full prefill",
             "full reuse", "selected plan", "run-time policy", "p50", "p99"],
}


def main(kind, path):
    root = ET.parse(path).getroot()  # raises on malformed XML
    assert root.tag == NS + "svg", root.tag
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    groups = {g.get("id"): g for g in root.iter(NS + "g")}
    for g in GROUPS[kind]:
        assert g in groups, f"missing group {g}"
    texts = [t.text or "" for t in root.iter(NS + "text")]
    for t in TEXTS[kind]:
        assert any(t in x for x in texts), f"missing text {t!r}"
    shapes = {"grid": ("cells", NS + "rect", 3), "pareto": ("points", NS + "circle", 3),
              "timeline": ("phases", NS + "rect", 2), "load": ("lines", NS + "circle", 8)}[kind]
    found = len(list(groups[shapes[0]].iter(shapes[1])))
    assert found >= shapes[2], f"group {shapes[0]} holds {found} shapes"
    print(f"{path}: {kind} ok ({found} shapes in {shapes[0]}, {len(texts)} texts)")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

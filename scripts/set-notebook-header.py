#!/usr/bin/env python3
"""Writes the package-loading first code cell into notebooks (keeps every other cell as it is).

    scripts/set-notebook-header.py VERSION notebooks/*.ipynb
"""
import json, sys

version, paths = sys.argv[1], sys.argv[2:]
header = [
    f'#r "nuget: XaiLab.Interactive, {version}"\n',
    '// the feed is artifacts/feed (notebooks/nuget.config); elsewhere: #i "nuget: /path/to/xailab/artifacts/feed"\n',
    'var lab = XaiLab.Interactive.Lab.Session;\n',
    'lab',
]
for p in paths:
    nb = json.load(open(p, encoding="utf-8"))
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    if first["source"] != header:
        first["source"] = header
        with open(p, "w", encoding="utf-8") as f:
            json.dump(nb, f, indent=1, ensure_ascii=False)
            f.write("\n")
        print("updated", p)

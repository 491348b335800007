#!/usr/bin/env python3
"""Check a Grafana dashboard against a real Prometheus scrape: the file is valid JSON with
panels, every panel has at least one query, and every heddle_* metric name a query uses is
present in the scrape: as a sample name (histograms show _bucket, _sum and _count) or as a
family the scrape declares (# TYPE) without samples on this machine, as the temperature of
nodes without a thermal sensor (absent is not zero).
Usage: check_grafana.py DASHBOARD.json SCRAPE.txt   (exit 0 when it matches)"""
import json
import re
import sys


def exprs(node):
    """Every "expr" string anywhere in the dashboard (panels, rows, templating)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "expr" and isinstance(v, str):
                yield v
            else:
                yield from exprs(v)
    elif isinstance(node, list):
        for v in node:
            yield from exprs(v)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        dash = json.load(f)  # raises (exit 1) on invalid JSON
    scraped = set()
    with open(sys.argv[2]) as f:
        for line in f:
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split()
                scraped.add(name)
                if kind == "histogram":
                    scraped.update(name + s for s in ("_bucket", "_sum", "_count"))
            elif line.strip() and not line.startswith("#"):
                scraped.add(line.split("{")[0].split(" ")[0])
    panels = dash.get("panels") or []
    if not dash.get("title") or not panels:
        sys.exit("no title or no panels")
    bad = [p.get("title") for p in panels if not list(exprs(p))]
    if bad:
        sys.exit("panels without a query: %s" % bad)
    used = set()
    for e in exprs(dash):
        used.update(re.findall(r"\bheddle_[a-zA-Z0-9_]+", e))
    missing = sorted(used - scraped)
    if missing:
        sys.exit("metric names used by panels but absent from the scrape: %s" % missing)
    print("%d panels, %d metric names, all in the scrape" % (len(panels), len(used)))


if __name__ == "__main__":
    main()

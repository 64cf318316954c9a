#!/usr/bin/env python3
"""Wall time of short commands, two builds alternated (issue 20's figures).

    benches/startup.py OLD_BIN NEW_BIN [--runs 61]

Runs `--version`, `rules list` and the README's offline demo check with each
binary in turn, run by run, and prints the medians (stdout and stderr to
/dev/null). Run from the repository root.
"""

import argparse
import statistics
import subprocess
import time

COMMANDS = {
    "--version": ["--version"],
    "rules list": ["rules", "list"],
    "offline demo check": "check --data fixtures/demo --account 1001 --customer 2002 "
    "--order fixtures/orders/nce-order.json".split(),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--runs", type=int, default=61)
    a = ap.parse_args()
    bins = {"old": a.old, "new": a.new}
    times = {(b, c): [] for b in bins for c in COMMANDS}
    for _ in range(a.runs):
        for c, args in COMMANDS.items():
            for b, path in bins.items():
                start = time.perf_counter()
                subprocess.run([path] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times[(b, c)].append(time.perf_counter() - start)
    for c in COMMANDS:
        cells = [f"{b} {statistics.median(times[(b, c)]) * 1000:.2f} ms" for b in bins]
        print(f"{c}: " + ", ".join(cells))


if __name__ == "__main__":
    main()

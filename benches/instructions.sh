#!/usr/bin/env bash
# Instructions per call of a function in a bench, counted by callgrind: a
# figure that does not move with the machine's load, for before/after
# comparisons of engine changes (wall-clock medians on a busy 2-core machine
# can move by 2x between runs).
#
# Usage: benches/instructions.sh BENCH FILTER FUNCTION
#   benches/instructions.sh ruleset passing-20-items ion_preflight::rules::eval::evaluate
#   benches/instructions.sh load generated ion_preflight::rules::compile::load_on_this_thread
set -euo pipefail
bench=$1 filter=$2 func=$3
cd "$(dirname "$0")/.."
exe=$(cargo bench --bench "$bench" --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["kind"]==["bench"]: print(m["executable"])' | tail -1)
out=$(mktemp)
valgrind --tool=callgrind --callgrind-out-file="$out" "$exe" --bench --profile-time 1 "$filter" >/dev/null 2>&1
callgrind_annotate --inclusive=yes --tree=caller "$out" 2>/dev/null | python3 -c '
import re, sys
func = sys.argv[1]
best = None  # (inclusive, calls) of the entry for func with the most calls
callers = []
for line in sys.stdin:
    caller = re.match(r"\s*[\d,]+ \([^)]*\)\s+<\s+.*?:\S+ \((\d[\d,]*)x\)", line)
    entry = re.match(r"\s*([\d,]+) \([^)]*\)\s+\*\s+.*?:(\S+)(?:\s|$)", line)
    if caller:
        callers.append(int(caller.group(1).replace(",", "")))
    elif entry:
        calls = sum(callers)
        if entry.group(2) == func and calls and (best is None or calls > best[1]):
            best = (int(entry.group(1).replace(",", "")), calls)
    elif not line.strip():
        callers = []
if best is None:
    sys.exit(f"{func} not found")
print(f"{func}: {best[0] // best[1]:,} instructions per call ({best[1]} calls)")
' "$func"
rm -f "$out"

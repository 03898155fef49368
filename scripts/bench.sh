#!/usr/bin/env bash
# Runs every wasmgraph benchmark of issue 6 and writes the figures to
# target/bench/results.tsv and target/bench/results.md (the tables that
# BENCHMARKS.md quotes), with the machine, its load and each target of
# issue 6 met or missed. A full run (all four benches, no --quick) also
# replaces the figures in BENCHMARKS.md between its results markers.
#
# Usage: scripts/bench.sh [--quick] [operator|graph|mqtt|footprint|kafka|peer|cluster ...]
#   --quick   short runs, to check that the benches work (figures are noisy)
#   names     run only these benches (default: all four, in that order)
#
# Builds what it needs: the bench binaries (release), and the example
# operators and test guests (scripts/build-examples.sh) when a .wasm is missing.
# Needs mosquitto for the mqtt bench (scripts/setup.sh installs it).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

quick=()
benches=()
for a in "$@"; do
    case "$a" in
        --quick) quick=(--quick) ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        operator|graph|mqtt|footprint|kafka|peer|cluster) benches+=("$a") ;;  # kafka, peer, cluster: opt-in (tansu; a Bytewax venv; cluster: 1 vs 2 processes, BENCHMARKS.md#cluster)
        *) echo "unknown argument: $a" >&2; exit 2 ;;
    esac
done
((${#benches[@]})) || benches=(operator graph mqtt footprint)

need=(
    examples/operators/temperature/bin/x86_64/release/temperature.wasm
    examples/operators/window/bin/x86_64/release/window.wasm
    examples/operators/humidity/bin/x86_64/release/humidity.wasm
    examples/operators/collection/bin/x86_64/release/collection.wasm
    examples/operators/enrichment/bin/x86_64/release/enrichment.wasm
    crates/test-guests/passthrough/bin/x86_64/release/test-guest-passthrough.wasm
    crates/test-guests/panic-every-third/bin/x86_64/release/test-guest-panic-every-third.wasm
)
missing=()
for f in "${need[@]}"; do [[ -f "$f" ]] || missing+=("$(echo "$f" | sed -E 's#/bin/x86_64/release/.*##')"); done
if ((${#missing[@]})); then
    echo "building ${missing[*]}..." >&2
    scripts/build-examples.sh "${missing[@]}"
fi
for py in map_py filter_py; do
    if [[ ! -f examples/operators/$py/bin/x86_64/release/$py.wasm ]]; then
        echo "building the Python operator $py (componentize-py)..." >&2
        cargo build -q -p wasmgraph-cli
        "${CARGO_TARGET_DIR:-target}/debug/wasmgraph" build --lang python examples/operators/$py || echo "($py did not build; its figures will be missing)" >&2
    fi
done

# The peer of bench-peer: Bytewax in a venv of its own, made once.
peer_args=()
if [[ " ${benches[*]} " == *" peer "* ]]; then
    venv="${WASMGRAPH_BENCH_VENV:-$HOME/.cache/wasmgraph/bench-venv}"
    if ! "$venv/bin/python" -c 'import bytewax' 2>/dev/null; then
        echo "installing bytewax==0.21.1 into $venv..." >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q bytewax==0.21.1
    fi
    peer_args=(--python "$venv/bin/python")
fi

if [[ ! -f crates/bench/guests/f2c/bin/x86_64/release/bench-f2c.wasm ]]; then
    echo "building the bench guest crates/bench/guests/f2c..." >&2
    cargo build -q -p wasmgraph-cli
    "${CARGO_TARGET_DIR:-target}/debug/wasmgraph" build crates/bench/guests/f2c
fi

echo "building the benches (release)..." >&2
cargo build --release -q -p wasmgraph-bench

# Backtrace capture is opt-in for users; with RUST_BACKTRACE set, every error
# value (a trap, for one) captures a host backtrace, which the figures must not
# include.
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

out=target/bench
mkdir -p "$out"
tsv="$out/results.tsv"
log="$out/results.log"
: > "$tsv"
: > "$log"
for b in "${benches[@]}"; do
    echo "running bench-$b (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    extra=()
    [[ "$b" == peer ]] && extra=("${peer_args[@]}")
    "${CARGO_TARGET_DIR:-target}/release/bench-$b" "${quick[@]}" "${extra[@]}" | tee -a "$log" | grep '^FIGURE' | cut -f2- >> "$tsv" || {
        echo "bench-$b failed" >&2
        exit 1
    }
done

# The machine, the figures, the targets; BENCHMARKS.md gets the same text
# between its "results" markers (only for full runs of all four benches).
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
mem="$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
header="Run: \`scripts/bench.sh${quick:+ --quick}\` at $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown).
Machine: $(nproc) CPUs ($cpu), $mem memory. Load average (1, 5, 15 min) at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg); at the start of each bench: see the \`*.load\` rows."
HEADER="$header" python3 - "$tsv" "$out/results.md" <<'PY'
import os, sys
tsv, md = sys.argv[1], sys.argv[2]
rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
val = {r[0]: float(r[1]) for r in rows}
out = [os.environ["HEADER"], "", "| figure | value | unit | what |", "| --- | ---: | --- | --- |"]
out += [f"| `{k}` | {v} | {u} | {w} |" for k, v, u, w in rows]
targets = [
    ("F->C JSON map through the full interface", "operator.f2c.ratio", "<=", 3, "x native"),
    ("  (lean F->C guest, same logic as native)", "operator.lean_f2c.ratio", "<=", 3, "x native"),
    ("Passthrough map on one worker (full message record)", "operator.passthrough.rate", ">=", 1_000_000, "records/s"),
    ("  (bare buffer-or-bytes data model)", "operator.passthrough_bare.rate", ">=", 1_000_000, "records/s"),
    ("Graph throughput 1 -> 2 workers (F->C map + filter)", "graph.f2c.scaling", ">=", 1.8, "x"),
    ("  (passthrough map + filter)", "graph.passthrough.scaling", ">=", 1.8, "x"),
    ("MQTT end to end vs broker-only relay", "mqtt.ratio", ">=", 0.8, "of broker"),
    ("  (vs plain two-hop relay, same broker work)", "mqtt.ratio_two_hop", ">=", 0.8, "of relay"),
    ("MQTT p99 latency at half load", "mqtt.graph_p99_ms", "<", 5, "ms"),
    ("Start to first record, warm cache, complex example", "start.first_record_ms", "<", 50, "ms"),
    ("Re-creation of a trapped instance (drop, instantiate, init)", "recreate.recreate_us", "<", 50, "us"),
    ("  (everything a trap costs: trap, message, backtrace, re-creation)", "recreate.cost_us", "<", 50, "us"),
]
out += ["", "| target | figure | measured | target | met? |", "| --- | --- | ---: | --- | --- |"]
for name, key, op, limit, unit in targets:
    if key not in val:
        out.append(f"| {name} | `{key}` | not measured | {op} {limit:,} {unit} | - |")
        continue
    v = val[key]
    ok = v <= limit if op == "<=" else v >= limit if op == ">=" else v < limit
    out.append(f"| {name} | `{key}` | {v:,} | {op} {limit:,} {unit} | {'met' if ok else 'missed'} |")
open(md, "w").write("\n".join(out) + "\n")
PY
if ((${#quick[@]} == 0 && ${#benches[@]} == 4)) && grep -q '<!-- results:begin -->' BENCHMARKS.md 2>/dev/null; then
    python3 - "$out/results.md" <<'PY'
import sys
res = open(sys.argv[1]).read()
doc = open("BENCHMARKS.md").read()
a, b = doc.index("<!-- results:begin -->"), doc.index("<!-- results:end -->")
doc = doc[:a] + "<!-- results:begin -->\n" + res + doc[b:]
open("BENCHMARKS.md", "w").write(doc)
PY
    echo "BENCHMARKS.md updated" >&2
fi
echo >&2
cat "$out/results.md"

#!/usr/bin/env bash
# Runs every wasmgraph benchmark of issue 6 and writes the figures to
# target/bench/results.tsv and target/bench/results.md (the tables that
# BENCHMARKS.md quotes), with the machine and its load.
#
# Usage: scripts/bench.sh [--quick] [operator|graph|mqtt|footprint ...]
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
        operator|graph|mqtt|footprint) benches+=("$a") ;;
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
if [[ ! -f examples/operators/map_py/bin/x86_64/release/map_py.wasm ]]; then
    echo "building the Python map (componentize-py)..." >&2
    cargo build -q -p wasmgraph-cli
    target/debug/wasmgraph build --lang python examples/operators/map_py || echo "(the Python map did not build; its figures will be missing)" >&2
fi

if [[ ! -f crates/bench/guests/f2c/bin/x86_64/release/bench-f2c.wasm ]]; then
    echo "building the bench guest crates/bench/guests/f2c..." >&2
    cargo build -q -p wasmgraph-cli
    target/debug/wasmgraph build crates/bench/guests/f2c
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
    "target/release/bench-$b" "${quick[@]}" | tee -a "$log" | grep '^FIGURE' | cut -f2- >> "$tsv" || {
        echo "bench-$b failed" >&2
        exit 1
    }
done

# The machine, and the markdown tables.
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
mem="$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
{
    echo "Run: \`scripts/bench.sh${quick:+ --quick}\` at $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo
    echo "Machine: $(nproc) CPUs, $cpu, $mem memory; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "| figure | value | unit | what |"
    echo "| --- | ---: | --- | --- |"
    awk -F'\t' '{printf "| `%s` | %s | %s | %s |\n", $1, $2, $3, $4}' "$tsv"
} > "$out/results.md"
echo >&2
cat "$out/results.md"

#!/usr/bin/env bash
# The simple example graph (Fahrenheit -> Celsius) on live MQTT messages, end
# to end, with no broker installed: `wasmgraph run` starts its embedded broker
# for examples/deployments/temperature.yaml, `wasmgraph publish` sends the
# sample temperature readings, the converted results are printed, and SIGTERM
# stops the run cleanly (everything in flight written and acknowledged).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q -p wasmgraph-cli
# The CLI just built (CARGO_TARGET_DIR is honoured, as cargo honours it).
wasmgraph="${CARGO_TARGET_DIR:-target}/debug/wasmgraph"
if [ ! -f examples/operators/temperature/bin/x86_64/release/temperature.wasm ]; then
    bash scripts/build-examples.sh
fi
work=$(mktemp -d)
"$wasmgraph" run examples/deployments/temperature.yaml --echo \
    >"$work/results.jsonl" 2>"$work/wasmgraph.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

for _ in $(seq 600); do
    grep -q "wasmgraph: reading " "$work/wasmgraph.log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/wasmgraph.log"; exit 1; }
    sleep 0.2
done
grep -q "wasmgraph: reading " "$work/wasmgraph.log" || { cat "$work/wasmgraph.log"; exit 1; }
echo "== wasmgraph run examples/deployments/temperature.yaml --echo"
cat "$work/wasmgraph.log"
port=$(sed -n 's/^wasmgraph: embedded MQTT 5 broker on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/wasmgraph.log")

readings=$(ls examples/data/mixed/*_temperature.json | head -n 5)
count=$(echo "$readings" | wc -l)
echo "== wasmgraph publish --port $port --topic sensors/1/temperature ($count readings from examples/data/mixed)"
# shellcheck disable=SC2086
"$wasmgraph" publish --port "$port" --topic sensors/1/temperature $readings

for _ in $(seq 100); do
    [ "$(wc -l <"$work/results.jsonl")" -ge "$count" ] && break
    sleep 0.1
done
echo "== results (topic processed/sensors/1/temperature)"
cat "$work/results.jsonl"
kill -TERM "$pid"
wait "$pid"
echo "== summary"
sed -n '/^operation/,$p' "$work/wasmgraph.log"
[ "$(wc -l <"$work/results.jsonl")" -ge "$count" ]

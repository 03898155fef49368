#!/usr/bin/env bash
# Set up, build the example operators from source, run the complex example graph
# over the sample readings in examples/data/mixed with the file source, then the
# simple graph on live MQTT messages through the embedded broker.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "== building wasmgraph"
cargo build -q -p wasmgraph-cli
# The CLI just built (CARGO_TARGET_DIR is honoured, as cargo honours it).
wasmgraph="${CARGO_TARGET_DIR:-target}/debug/wasmgraph"
echo "== building the example operators (WebAssembly components)"
bash scripts/build-examples.sh
echo "== running examples/graphs/complex.yaml over examples/data/mixed"
"$wasmgraph" run examples/graphs/complex.yaml \
    --modules examples/operators --input examples/data/mixed --output output/complex --workers 2
echo "== first records of output/complex/output.jsonl"
head -n 3 output/complex/output.jsonl
echo "== live: the simple graph on MQTT messages through the embedded broker"
bash scripts/live-demo.sh

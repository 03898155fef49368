#!/usr/bin/env bash
# The whole test suite: set-up, example and fixture components built from
# source, every crate's tests (operators' native unit tests included), and the
# example graphs' test cases through the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "== building the CLI"
cargo build -q -p wasmgraph-cli
echo "== building example and fixture components from source"
bash scripts/build-examples.sh
echo "== cargo test"
cargo test --workspace --no-fail-fast
echo "== wasmgraph test examples/"
cargo run -q -p wasmgraph-cli -- test examples/ --modules examples/operators

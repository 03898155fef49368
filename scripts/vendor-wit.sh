#!/usr/bin/env bash
# Copies the repository's WIT package (wit/) into the SDK crate (crates/sdk/wit/),
# which a published wasm_graph_sdk carries because it cannot reach wit/. Run it
# after every change to wit/; `cargo test -p wasm_graph_sdk` fails while the two
# differ (src/wit_check.rs).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/wit"
dst="$root/crates/sdk/wit"

mkdir -p "$dst"
# Files that are no longer in wit/ go too.
find "$dst" -maxdepth 1 -type f -name '*.wit' -delete
cp -p "$src"/*.wit "$dst"/
echo "vendor-wit: copied $(ls "$src"/*.wit | wc -l) files from wit/ to crates/sdk/wit/"

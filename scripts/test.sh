#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need (only when missing,
# so a second run is fast), starts a throwaway PostgreSQL cluster for loyalty-cloud's tests
# (stopped and removed on exit), then runs every test target — unit, property, integration and
# the benchmarks' correctness checks — against one shared build.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests use. `mount` (util-linux) and `setpriv` come with Debian; the
# storage-failure tests use them to make a real full disk and a real read-only directory.
# The cashier page is tested in headless Chromium over WebDriver (chromium-driver); the tray
# (cargo feature `tray`) builds against GTK and appindicator and runs under Xvfb with a session
# bus (xvfb, xauth, dbus).
need=()
for pkg in util-linux chromium chromium-driver xvfb xauth dbus fonts-dejavu-core \
    libgtk-3-dev libayatana-appindicator3-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# loyalty-cloud's tests run against PostgreSQL too (a cluster is started below from its binaries).
if [ -z "${LOYALTY_TEST_DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    need+=(postgresql-15)
fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
    else
        echo "missing packages: ${need[*]} (run as root or install them)" >&2
        exit 1
    fi
fi

# A throwaway PostgreSQL: initdb in a temp dir, listening on 127.0.0.1 and a free port, its
# socket in the same dir. As root the server runs as the `postgres` user (it refuses root).
start_postgres() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
        echo "PostgreSQL binaries not found under /usr/lib/postgresql" >&2
        return 1
    fi
    PG_DIR=$(mktemp -d /tmp/loyalty-pg.XXXXXX)
    local as=()
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PG_DIR"
        as=(runuser -u postgres --)
    fi
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo $((20000 + RANDOM % 20000)))
    "${as[@]}" "$bin/initdb" -D "$PG_DIR/db" -A trust -U postgres >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    # fsync off: a test cluster holds nothing worth a power cut, and the tests run faster.
    "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/db" -w -t 60 -l "$PG_DIR/log" \
        -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null \
        || { cat "$PG_DIR/log" >&2; return 1; }
    PG_STOP=("${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/db" -m immediate stop)
    export LOYALTY_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    echo "test PostgreSQL: $LOYALTY_TEST_DATABASE_URL"
}
stop_postgres() {
    if [ -n "${PG_DIR:-}" ]; then
        "${PG_STOP[@]}" >/dev/null 2>&1 || true
        rm -rf "$PG_DIR"
    fi
}
if [ -z "${LOYALTY_TEST_DATABASE_URL:-}" ]; then
    trap stop_postgres EXIT
    # A signal (Ctrl-C, a closed output pipe, a timeout) becomes an exit, so the cluster goes too.
    trap 'exit 130' INT TERM HUP PIPE
    if ! start_postgres; then
        # Without CI the PostgreSQL variants skip; under CI they fail (tests/it/cloud_support.rs).
        echo "could not start a test PostgreSQL; its tests will skip (or fail under CI)" >&2
    fi
fi

# The Debian package test (tests/it/package.rs) builds the .deb with cargo-deb.
if ! command -v cargo-deb >/dev/null 2>&1; then
    cargo install --locked --quiet cargo-deb
fi

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# One build with every feature a release package has (the tray included), shared by all tests.
features=(--features tray)
if [ $# -gt 0 ]; then
    # A subset, with the same set-up: `bash scripts/test.sh --test it cloud`.
    cargo test --locked "${features[@]}" "$@"
else
    cargo test --locked "${features[@]}" --all-targets -- --test-threads "${TEST_THREADS:-4}"
fi

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
# openssl makes the test cluster's TLS certificates.
for pkg in util-linux chromium chromium-driver xvfb xauth dbus fonts-dejavu-core openssl \
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

# The test cluster's TLS files in DIR: a throwaway CA (ca.pem), a server certificate it signed
# for localhost and 127.0.0.1 (server.pem, server.key), and a second, unrelated CA
# (other-ca.pem) for the test that a certificate from the wrong CA is refused. Short-lived
# P-256 keys: they live as long as the cluster.
make_test_certificates() {
    local dir=$1
    mkdir -p "$dir"
    (
        cd "$dir"
        local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
        openssl req -x509 "${ec[@]}" -days 3 -subj "/CN=loyalty test CA" -keyout ca.key -out ca.pem \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        openssl req -x509 "${ec[@]}" -days 3 -subj "/CN=another CA" -keyout other-ca.key -out other-ca.pem \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        openssl req -new "${ec[@]}" -subj "/CN=localhost" -keyout server.key -out server.csr
        printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
            -days 3 -extfile server.ext -out server.pem
        rm -f server.csr server.ext ca.key other-ca.key
        # PostgreSQL refuses a key others can read; the certificates are public.
        chmod 600 server.key
        chmod 644 ca.pem other-ca.pem server.pem
    ) >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log" >&2; return 1; }
}

# A throwaway PostgreSQL: initdb in a temp dir, listening on 127.0.0.1 and a free port, its
# socket in the same dir, with TLS on (ssl=on and the certificates above) beside plain
# connections. As root the server runs as the `postgres` user (it refuses root), which then
# owns the key.
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
    local tls="$PG_DIR/tls"
    make_test_certificates "$tls" || return 1
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres: "$tls"
    fi
    # fsync off: a test cluster holds nothing worth a power cut, and the tests run faster.
    "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/db" -w -t 60 -l "$PG_DIR/log" \
        -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 \
            -c ssl=on -c ssl_cert_file=$tls/server.pem -c ssl_key_file=$tls/server.key" start >/dev/null \
        || { cat "$PG_DIR/log" >&2; return 1; }
    PG_STOP=("${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/db" -m immediate stop)
    export LOYALTY_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
    # The same cluster over TLS, checked against the test CA (tests/it/cloud_postgres_tls.rs),
    # and the CA that did not sign its certificate.
    export LOYALTY_TEST_DATABASE_URL_TLS="postgres://postgres@localhost:$port/postgres?sslmode=verify-full&sslrootcert=$tls/ca.pem"
    export LOYALTY_TEST_PG_OTHER_CA="$tls/other-ca.pem"
    echo "test PostgreSQL: $LOYALTY_TEST_DATABASE_URL (TLS: $LOYALTY_TEST_DATABASE_URL_TLS)"
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

# Shared by the scripts: install what the build and the tests need on a fresh Debian machine.
# Sourced, not run.

# The rocksdb crate generates its bindings with bindgen, which needs libclang, and compiles
# RocksDB's C++ with the system compiler; the tests signal servers with kill(1) from procps.
ensure_build_deps() {
    command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install the Rust toolchain with rustup" >&2; exit 2; }
    local missing=()
    dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
    command -v c++ >/dev/null 2>&1 || missing+=(g++)
    [ -x /bin/kill ] || [ -x /usr/bin/kill ] || missing+=(procps)
    if [ ${#missing[@]} -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
    # rustup's minimal profile has neither; scripts/test needs both.
    if command -v rustup >/dev/null 2>&1; then
        for c in rustfmt clippy; do
            rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c" >&2
        done
    fi
}

# The browser tests (tests/browser_harness.rs, tests/common/browser.rs) drive headless Chromium;
# Debian's package installs /usr/bin/chromium. LOTLINE_CHROMIUM names another binary instead.
ensure_chromium() {
    if [ -n "${LOTLINE_CHROMIUM:-}" ]; then
        [ -x "$LOTLINE_CHROMIUM" ] || { echo "LOTLINE_CHROMIUM=$LOTLINE_CHROMIUM is not executable" >&2; exit 2; }
        return 0
    fi
    command -v chromium >/dev/null 2>&1 || apt_install chromium
    # The edge's clerk page is checked (and screenshotted) in Khmer too: without a Khmer font
    # Chromium draws empty boxes.
    fc-list 2>/dev/null | grep -qi khmer || apt_install fonts-khmeros
}

# The API tests (tests/it/openapi.rs) run schemathesis against the server and read /metrics with
# the Prometheus project's own parser, both from PyPI, into a virtualenv of their own (pinned
# major versions; the CLI and the report format are what the tests rely on). Exports
# LOTLINE_PYTHON, the interpreter the tests run.
ensure_python_tools() {
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/lotline-venv"
    if ! "$venv/bin/python" -c 'import schemathesis, prometheus_client' >/dev/null 2>&1; then
        echo "==> installing schemathesis and prometheus_client into $venv" >&2
        python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
        "$venv/bin/pip" install -q 'schemathesis>=4.32,<5' 'prometheus_client>=0.20,<1' >&2
    fi
    export LOTLINE_PYTHON="$venv/bin/python"
}

# Installs Debian packages, with sudo when not root.
apt_install() {
    echo "==> installing $*" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "need root or sudo to install: $*" >&2; exit 2; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# Where cargo puts build output (honours CARGO_TARGET_DIR and cargo config).
target_dir() {
    cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'
}

# The replicated deployment's packages (tests/it/replication.rs, tests/it/cluster.rs and
# scripts/cluster): PostgreSQL 15, Patroni with its etcd client, etcd, and curl and jq, with which
# scripts/cluster reads Patroni's REST API.
ensure_replication_deps() {
    local missing=()
    [ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
    [ -x /usr/bin/patroni ] || missing+=(patroni)
    [ -x /usr/bin/etcd ] || missing+=(etcd-server)
    [ -x /usr/bin/etcdctl ] || missing+=(etcd-client)
    [ -d /usr/lib/python3/dist-packages/etcd ] || missing+=(python3-etcd)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v jq >/dev/null 2>&1 || missing+=(jq)
    if [ ${#missing[@]} -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
}

# Starts a throwaway PostgreSQL 15 on a free loopback port with its data in $1 (as the
# `postgres` user when root: PostgreSQL refuses to run as root) and prints its base URL.
start_test_postgres() {
    local dir=$1 bin=/usr/lib/postgresql/15/bin port as=()
    [ "$(id -u)" -ne 0 ] || as=(runuser -u postgres --)
    mkdir -p "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$dir"
    "${as[@]}" "$bin/initdb" -U postgres --auth=trust -E UTF8 --no-sync -D "$dir/pg" >/dev/null
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${as[@]}" "$bin/pg_ctl" -D "$dir/pg" -l "$dir/log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=64MB" start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port"
}

stop_test_postgres() {
    local dir=$1 as=()
    [ "$(id -u)" -ne 0 ] || as=(runuser -u postgres --)
    [ -d "$dir/pg" ] && "${as[@]}" /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/pg" -m immediate stop >/dev/null 2>&1 || true
}

# scripts/fuzz: the nightly toolchain (libFuzzer's instrumentation needs it) and cargo-fuzz.
ensure_fuzz_deps() {
    command -v rustup >/dev/null 2>&1 || { echo "rustup not found: the fuzz targets need the nightly toolchain" >&2; exit 2; }
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal >&2
    command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked >&2
}

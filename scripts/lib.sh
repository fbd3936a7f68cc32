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

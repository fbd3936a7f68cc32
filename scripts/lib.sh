# Shared by the scripts: install what the build needs on a fresh Debian machine.
# Sourced, not run.

# The rocksdb crate generates its bindings with bindgen, which needs libclang; it compiles
# RocksDB's C++ with the system C++ compiler.
ensure_build_deps() {
    local missing=()
    dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
    command -v c++ >/dev/null 2>&1 || missing+=(g++)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing ${missing[*]}" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install the Rust toolchain (rustup)" >&2; exit 2; }
}

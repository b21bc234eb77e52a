# Shared by boards/build, boards/check, boards/ci-arm and boards/render-units (source it).
# shellcheck shell=bash

BOARDS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BOARDS_DIR")
HOST_TRIPLE=x86_64-unknown-linux-gnu
# Keys every boards/<board>/board.env must set (boards/check enforces it).
# The limits and cipher order are also src/board_profile.rs's (`board = NAME` in the config
# file); a unit test holds the two together.
BOARD_KEYS=(DESCRIPTION TRIPLE TARGET_CPU TARGET_FEATURES RAM_MB AES CIPHER_ORDER MAX_CONNECTIONS GOP_CACHE_KIB
            PLAYER_QUEUE WORKER_STACK_KIB MEMORY_MAX TASKS_MAX)

die() { printf '%s: error: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }

# All board names (folders holding a board.env), sorted.
board_names() {
    local f
    for f in "$BOARDS_DIR"/*/board.env; do
        [[ -e $f ]] && basename "$(dirname "$f")"
    done
}

# load_board NAME: source boards/NAME/board.env into the current shell (after clearing the keys).
load_board() {
    local env="$BOARDS_DIR/$1/board.env" k
    [[ -f $env ]] || die "unknown board '$1' (boards: $(board_names | tr '\n' ' '))"
    for k in "${BOARD_KEYS[@]}"; do unset "$k"; done
    # shellcheck source=/dev/null
    source "$env"
}

# LLVM's linker for the ARM boards (boards/install-cross installs lld-16).
LLD_DIR=/usr/lib/llvm-16/bin

# RUSTFLAGS for the loaded board.
#
# Relative relocations are packed as DT_RELR (glibc >= 2.36: Debian 12 and Raspberry Pi OS
# bookworm, which the binary needs anyway): a PIE's relocation table shrinks from ~110 KB to
# ~1 KB on aarch64. Debian 12's cross binutils (2.40) ignore `-z pack-relative-relocs` for
# ARM, so the ARM boards link with lld; the x86_64 host's own ld does it.
board_rustflags() {
    printf -- '-C target-cpu=%s' "$TARGET_CPU"
    [[ -n ${TARGET_FEATURES:-} ]] && printf -- ' -C target-feature=%s' "$TARGET_FEATURES"
    [[ $TRIPLE != "$HOST_TRIPLE" ]] &&
        printf -- ' -C link-arg=-fuse-ld=lld -C link-arg=-B%s' "$LLD_DIR"
    printf -- ' -C link-arg=-Wl,-z,pack-relative-relocs'
}

# gcc-style prefix of the cross binutils for a Rust triple.
gnu_prefix() {
    case $1 in
        aarch64-unknown-linux-gnu) echo aarch64-linux-gnu ;;
        armv7-unknown-linux-gnueabihf) echo arm-linux-gnueabihf ;;
        "$HOST_TRIPLE") echo x86_64-linux-gnu ;;
        *) die "no cross binutils known for $1" ;;
    esac
}

# qemu-user program for a Rust triple. Never pass -L (see cross-compile.md pitfall 3).
qemu_for() {
    case $1 in
        aarch64-unknown-linux-gnu) echo qemu-aarch64 ;;
        armv7-unknown-linux-gnueabihf) echo qemu-arm ;;
        *) die "no qemu-user program known for $1" ;;
    esac
}

# CARGO_TARGET_<TRIPLE>_ variable prefix.
cargo_target_var() { printf 'CARGO_TARGET_%s' "$(tr 'a-z.-' 'A-Z__' <<<"$1")"; }

# toolchain_for TRIPLE -> host | rustup | debian
#   host:   the triple is this machine's; use `cargo` from PATH (rustup's).
#   rustup: `rustup target list --installed` has the triple; `cargo --target` from PATH.
#   debian: Debian's rustc-web (boards/install-cross): /usr/bin/cargo with RUSTC=/usr/bin/rustc.
# BOARDS_TOOLCHAIN=rustup|debian forces a choice for cross triples.
toolchain_for() {
    local t=$1
    if [[ $t == "$HOST_TRIPLE" ]]; then echo host; return; fi
    case ${BOARDS_TOOLCHAIN:-} in
        rustup | debian) echo "$BOARDS_TOOLCHAIN"; return ;;
        "") ;;
        *) die "BOARDS_TOOLCHAIN must be rustup or debian, not '$BOARDS_TOOLCHAIN'" ;;
    esac
    if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$t"; then
        echo rustup
    else
        echo debian
    fi
}

# cross_env TRIPLE: export linker + qemu runner for TRIPLE, and for the debian toolchain also
# RUSTC/RUSTDOC and its own target dir (rustup-1.95 and Debian-1.85 artifacts kept apart).
# Sets CARGO_BIN, the cargo to run. Env vars rather than a .cargo/config.toml: a
# [target.aarch64-*] table would also apply to native builds on a Pi, where its qemu runner
# would break `cargo test`.
# shellcheck disable=SC2034 # CARGO_BIN is read by the scripts that source this file
cross_env() {
    local t=$1 var prefix tc
    var=$(cargo_target_var "$t")
    tc=$(toolchain_for "$t") || exit 1
    case $tc in
        host)
            CARGO_BIN=cargo
            return ;;
        rustup)
            CARGO_BIN=cargo ;;
        debian)
            [[ -x /usr/bin/cargo && -d /usr/lib/rustlib/$t/lib ]] ||
                die "no Debian cross toolchain for $t: run boards/install-cross (as root)"
            CARGO_BIN=/usr/bin/cargo
            export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
            export CARGO_TARGET_DIR=${CROSS_TARGET_DIR:-$ROOT/target/cross} ;;
    esac
    prefix=$(gnu_prefix "$t")
    export "${var}_LINKER=${prefix}-gcc"
    export "${var}_RUNNER=$(qemu_for "$t")"
}

# render_config BOARD: the config file the board's package installs as /etc/rtmpsd/rtmpsd.toml:
# rtmpsd.example.toml with `board` and `listen` (port 443, as the unit's capability allows)
# set and every other key left commented.
render_config() {
    local board=$1 line seen_board=no seen_listen=no
    printf '# Installed by the rtmpsd package for %s as /etc/rtmpsd/rtmpsd.toml.\n#\n' "$board"
    while IFS= read -r line || [[ -n $line ]]; do
        case $line in
            '# board = '*) line="board = \"$board\""; seen_board=yes ;;
            '# listen = '*) line='listen = "[::]:443"'; seen_listen=yes ;;
        esac
        printf '%s\n' "$line"
    done <"$ROOT/rtmpsd.example.toml"
    [[ $seen_board == yes && $seen_listen == yes ]] ||
        die "rtmpsd.example.toml lacks the '# board = ' or '# listen = ' line render_config sets"
}

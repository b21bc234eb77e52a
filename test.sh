#!/usr/bin/env bash
# The test command: installs the two real clients the integration tests drive and the
# nginx-rtmp upstream the push tests use (only what is missing), points the tests at them,
# then runs `cargo test`.
#
#   ./test.sh [extra cargo test args...]     e.g. ./test.sh --test play -- --nocapture
#
# - RTMPSD_FFMPEG_DEBIAN: Debian's ffmpeg 5.1 (GnuTLS, no certificate checks),
#   installed with apt if `ffmpeg` is not on PATH.
# - RTMPSD_FFMPEG_MODERN: ffmpeg 9 (OpenSSL, enhanced RTMP) from the
#   imageio-ffmpeg wheel, installed with pip if python3 cannot import it.
# Either variable may be set beforehand to use another binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

IMAGEIO_FFMPEG_PIN="imageio-ffmpeg==0.8.1" # bundles ffmpeg 9.0.2

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian image hooks delete downloaded .debs between dpkg calls; keep them in
# our own archive folder (see the apt notes). `apt-get update` runs once per call.
apt_install() {
    local archives="$HOME/.cache/apt-archives"
    mkdir -p "$archives/partial"
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -qq
        -o "Dir::Cache::archives=$archives" -o DPkg::Lock::Timeout=300)
    echo "test.sh: installing $* with apt" >&2
    # A mirror mid-sync fails one index now and then; the install may still work.
    as_root "${apt[@]}" update || echo "test.sh: apt-get update reported errors; installing anyway" >&2
    as_root "${apt[@]}" install -y --no-install-recommends "$@" >/dev/null
}

if [ -z "${RTMPSD_FFMPEG_DEBIAN:-}" ]; then
    if ! command -v ffmpeg >/dev/null 2>&1; then
        apt_install ffmpeg
    fi
    RTMPSD_FFMPEG_DEBIAN=$(command -v ffmpeg)
fi

modern_ffmpeg() {
    python3 -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())' 2>/dev/null
}
if [ -z "${RTMPSD_FFMPEG_MODERN:-}" ]; then
    if ! modern_ffmpeg >/dev/null; then
        if ! python3 -m pip --version >/dev/null 2>&1; then
            apt_install python3-pip
        fi
        echo "test.sh: installing $IMAGEIO_FFMPEG_PIN with pip" >&2
        # Debian's own python3 refuses plain installs (PEP 668): fall back to
        # the user site, which that python3 still imports from.
        python3 -m pip install --quiet --disable-pip-version-check "$IMAGEIO_FFMPEG_PIN" 2>/dev/null ||
            python3 -m pip install --quiet --disable-pip-version-check \
                --user --break-system-packages "$IMAGEIO_FFMPEG_PIN"
    fi
    RTMPSD_FFMPEG_MODERN=$(modern_ffmpeg)
fi

for f in "$RTMPSD_FFMPEG_DEBIAN" "$RTMPSD_FFMPEG_MODERN"; do
    if [ ! -x "$f" ]; then
        echo "test.sh: $f is not an executable ffmpeg" >&2
        exit 1
    fi
done
RTMPSD_FFMPEG_DEBIAN=$(realpath "$RTMPSD_FFMPEG_DEBIAN")
RTMPSD_FFMPEG_MODERN=$(realpath "$RTMPSD_FFMPEG_MODERN")
export RTMPSD_FFMPEG_DEBIAN RTMPSD_FFMPEG_MODERN

# nginx-rtmp behind nginx's stream TLS: the reference upstream of tests/push_e2e.rs.
tests/peers/install-nginx

exec cargo test --locked "$@"

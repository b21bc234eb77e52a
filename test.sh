#!/usr/bin/env bash
# The test command: installs the real clients the integration tests drive (only what is
# missing), points the tests at them, then runs `cargo test`.
#
#   ./test.sh [extra cargo test args...]     e.g. ./test.sh --test play -- --nocapture
#
# - RTMPSD_FFMPEG_DEBIAN: Debian's ffmpeg 5.1 (GnuTLS, no certificate checks),
#   installed with apt if `ffmpeg` is not on PATH.
# - rtmpdump (librtmp) and GStreamer (rtmp2sink, librtmp's rtmpsink), installed with apt
#   when missing.
# - nginx with the rtmp and stream modules (the push tests' upstream), installed with apt
#   when tests/peers/missing-nginx-packages names any.
# - TEST_SH_INSTALL_ONLY=1: install what is missing, then stop (no tests).
# - RTMPSD_FFMPEG_MODERN: ffmpeg 9 (OpenSSL, enhanced RTMP) from the
#   imageio-ffmpeg wheel, installed with pip if python3 cannot import it.
# - RTMPSD_CHROMIUM: Debian's chromium, for the status-page test (headless
#   --dump-dom and --screenshot), installed with apt (in the same run as the
#   others) if `chromium` is not on PATH.
# - prometheus_client (Python), whose parser checks /metrics, installed with pip
#   if python3 cannot import it.
# Any of the variables may be set beforehand to use another binary.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

IMAGEIO_FFMPEG_PIN="imageio-ffmpeg==0.8.1" # bundles ffmpeg 9.0.2
PROMETHEUS_CLIENT_PIN="prometheus-client==0.26.0"

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

# Debian packages of the real clients, each wanted when its check fails; one apt run for all.
apt_missing=()
need() { # need CHECK PACKAGE...: CHECK is a command that succeeds when the client is there
    if ! eval "$1" >/dev/null 2>&1; then
        shift
        apt_missing+=("$@")
    fi
}
# GStreamer with what the tests' pipelines use: rtmp2sink, and librtmp's rtmpsink.
GST_ELEMENTS="videotestsrc audiotestsrc x264enc h264parse voaacenc aacparse flvmux rtmp2sink rtmpsink"
gst_ready() {
    command -v gst-launch-1.0 && command -v gst-inspect-1.0 || return 1
    local e
    for e in $GST_ELEMENTS; do gst-inspect-1.0 --exists "$e" || return 1; done
}
[ -n "${RTMPSD_FFMPEG_DEBIAN:-}" ] || need 'command -v ffmpeg && command -v ffprobe' ffmpeg
# nginx-rtmp behind nginx's stream TLS: the reference upstream of tests/push_e2e.rs.
read -r -a nginx_missing <<<"$(tests/peers/missing-nginx-packages)"
apt_missing+=("${nginx_missing[@]}")
need 'command -v rtmpdump' rtmpdump
# Chromium for the status-page test; fonts so its screenshot shows text.
[ -n "${RTMPSD_CHROMIUM:-}" ] || need 'command -v chromium' chromium fonts-dejavu-core
need gst_ready gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
if [ ${#apt_missing[@]} -gt 0 ]; then
    apt_install "${apt_missing[@]}"
fi
gst_ready >/dev/null 2>&1 || { echo "test.sh: GStreamer lacks one of: $GST_ELEMENTS" >&2; exit 1; }
command -v rtmpdump >/dev/null || { echo "test.sh: rtmpdump is missing" >&2; exit 1; }
[ -z "$(tests/peers/missing-nginx-packages)" ] ||
    { echo "test.sh: still missing: $(tests/peers/missing-nginx-packages)" >&2; exit 1; }
RTMPSD_FFMPEG_DEBIAN=${RTMPSD_FFMPEG_DEBIAN:-$(command -v ffmpeg)}
RTMPSD_CHROMIUM=${RTMPSD_CHROMIUM:-$(command -v chromium || true)}

# Debian's own python3 refuses plain installs (PEP 668): fall back to the user
# site, which that python3 still imports from.
pip_install() {
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip
    fi
    echo "test.sh: installing $1 with pip" >&2
    python3 -m pip install --quiet --disable-pip-version-check "$1" 2>/dev/null ||
        python3 -m pip install --quiet --disable-pip-version-check \
            --user --break-system-packages "$1"
}

modern_ffmpeg() {
    python3 -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())' 2>/dev/null
}
if [ -z "${RTMPSD_FFMPEG_MODERN:-}" ]; then
    if ! modern_ffmpeg >/dev/null; then
        pip_install "$IMAGEIO_FFMPEG_PIN"
    fi
    RTMPSD_FFMPEG_MODERN=$(modern_ffmpeg)
fi

if ! python3 -c 'import prometheus_client' 2>/dev/null; then
    pip_install "$PROMETHEUS_CLIENT_PIN"
fi

for f in "$RTMPSD_FFMPEG_DEBIAN" "$RTMPSD_FFMPEG_MODERN" "$RTMPSD_CHROMIUM"; do
    if [ ! -x "$f" ]; then
        echo "test.sh: $f is not an executable" >&2
        exit 1
    fi
done
RTMPSD_FFMPEG_DEBIAN=$(realpath "$RTMPSD_FFMPEG_DEBIAN")
RTMPSD_FFMPEG_MODERN=$(realpath "$RTMPSD_FFMPEG_MODERN")
RTMPSD_CHROMIUM=$(realpath "$RTMPSD_CHROMIUM")
export RTMPSD_FFMPEG_DEBIAN RTMPSD_FFMPEG_MODERN RTMPSD_CHROMIUM

if [ "${TEST_SH_INSTALL_ONLY:-0}" = 1 ]; then
    echo "test.sh: clients ready: $RTMPSD_FFMPEG_DEBIAN, $RTMPSD_FFMPEG_MODERN, rtmpdump, GStreamer," \
        "$RTMPSD_CHROMIUM, prometheus_client" >&2
    exit 0
fi
exec cargo test --locked "$@"

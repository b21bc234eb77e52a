# Version choice for boards/install-cross, kept apart so boards/check can test it against saved
# `apt-cache madison` listings (boards/testdata/madison/). Source it.
# shellcheck shell=bash

# madison_versions: the versions in an `apt-cache madison` listing on stdin, one per line, unique.
madison_versions() { awk -F'|' 'NF >= 3 {gsub(/ /, "", $2); print $2}' | sort -u; }

# pick_series_version SERIES LISTING...: the highest version of the SERIES (e.g. 1.85) that every
# LISTING (the text of one `apt-cache madison PKG[:ARCH]`) offers; nothing when there is none.
# The series is filtered first: a newer series offered for some architectures (a security
# update that reached amd64 only, or all of them) must not hide an older one offered for all.
pick_series_version() {
    local series=$1 listing common=
    shift
    local first=yes
    for listing in "$@"; do
        local these
        these=$(madison_versions <<<"$listing" | grep "^${series//./\\.}\." || true)
        if [[ $first == yes ]]; then
            common=$these
            first=no
        else
            common=$(comm -12 <(printf '%s\n' "$common" | sed '/^$/d' | sort) \
                              <(printf '%s\n' "$these" | sed '/^$/d' | sort))
        fi
    done
    printf '%s\n' "$common" | sed '/^$/d' | sort -V | tail -n 1
}

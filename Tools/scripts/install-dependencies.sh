#!/usr/bin/env bash
# Installs the Debian packages Linecard builds and tests with, when any is missing.
# Used by `make run` and `make test`; safe to run again. Given package names, installs those
# instead (Tools/dahdi-guest/run.sh asks for its own this way).
set -euo pipefail

packages=(
    pkg-config
    libspandsp-dev   # DTMF, tones, fax (spandsp 0.0.6)
    libtiff-dev      # spandsp.h includes tiffio.h
    libasound2-dev   # ALSA backend
    dahdi-source     # the kernel's dahdi/user.h, to check our DAHDI ABI against
    espeak-ng        # speech for the DTMF talk-off test
    libespeak-ng-dev # the gateway's text to speech
    libsamplerate0-dev # speech from 22.05 kHz down to the line's 8 kHz
    libsqlite3-dev   # the gateway's durable call queue
    libpng-dev       # linecard plot writes PNG pictures
    libsndfile1-dev  # reading audio files (WAV in every encoding libsndfile knows)
    libpri-dev       # ISDN call control (Q.921/Q.931), in LinecardISDN only
    python3          # the reference HTTP client, in the gateway tests
    postgresql       # the shared call queue's server, started by the gateway tests
    wrk              # the load generator of make bench-gateway
)
if (($#)); then packages=("$@"); fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
    echo "Installing Debian packages: ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "error: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "note: swift is not on PATH; add /opt/swift/usr/bin to PATH" >&2
    else
        echo "error: no Swift toolchain found (Swift 6.0 or later is needed: https://swift.org/install)" >&2
    fi
    exit 1
fi

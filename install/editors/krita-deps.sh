#!/usr/bin/env bash
# Krita and a virtual screen for the real-Krita tests and the screenshots (`make test-krita`, docs/krita.md).
# Idempotent: does nothing when kritarunner and xvfb-run are already there. Debian/Ubuntu (apt-get), needs root.
# python3-zmq lets the plugin use pyzmq inside Krita (without it the bridge's pure-Python client is used).
set -euo pipefail

if command -v kritarunner >/dev/null && command -v xvfb-run >/dev/null; then
    echo "krita-deps: kritarunner and xvfb-run are installed"
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "krita-deps: install Krita (with kritarunner) and Xvfb with your system's package manager" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    krita python3-pyqt5 python3-sip python3-zmq xvfb xauth >/dev/null
echo "krita-deps: installed $(dpkg-query -W -f='krita ${Version}' krita)"

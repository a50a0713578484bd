#!/usr/bin/env bash
# Shared set-up for scripts/demo and scripts/test: Debian packages when missing,
# then a virtualenv in .venv with the project installed (editable) and its extras.
# Sourced, not run: it leaves VENV set for the caller.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"

# Debian packages: the broker, the C headers pyalsaaudio and systemd-python build against,
need_pkgs=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_pkgs+=(mosquitto)
# iptables and iperf3: the line tests drop packets in a namespace and compare with iperf3.
# pulseaudio and libasound2-plugins: the audio tests' real ALSA path (the `pulse` plugin
# into a PulseAudio null sink and its monitor source) on a machine without a sound card.
# postgresql: the hub's store is tested against a private PostgreSQL cluster as well as SQLite.
# chromium and chromium-driver: the dashboard's browser tests; poppler-utils: pdftotext reads
# the monthly report's PDF back to check its Vietnamese text. mtools, fdisk (sfdisk) and
# dosfstools: a site's bundle is written onto an SD image's FAT partition without mounting it.
# genimage and e2fsprogs: the image's card layout is assembled in a test as the build does it;
# nftables: the image's firewall is loaded into a network namespace and probed.
# faketime (libfaketime): a probe boots with a wrong wall clock that later jumps (issue 9).
for pkg in libasound2-dev libsystemd-dev pkg-config gcc python3-dev python3-venv iptables iperf3 \
    pulseaudio libasound2-plugins postgresql chromium chromium-driver poppler-utils \
    mtools fdisk dosfstools genimage e2fsprogs nftables faketime; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$pkg")
done
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${need_pkgs[*]}" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi
# The Debian package starts its own broker on 1883; ours always run on their own ports.

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "bootstrap: Python 3.11 or newer is needed, $PYTHON is $("$PYTHON" --version 2>&1)" >&2
    exit 1
fi

# Re-install only when pyproject.toml changed since the last install.
stamp="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)-${EXTRAS:-probe,hub,dev}"
if [ ! -f "$stamp" ]; then
    echo "bootstrap: preparing the virtualenv in $VENV" >&2
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q -e "$ROOT[${EXTRAS:-probe,hub,dev}]" >&2
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"

#!/usr/bin/env bash
# Installs what MigTD-Py and its tests need on a fresh Debian/Ubuntu machine:
# the system packages (swtpm, TSS2 headers for tpm2-pytss, OpenSSH server for
# the SSH tests, tmux), then a virtual environment in .venv with the project.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  python3-venv python3-dev build-essential pkg-config
  libtss2-dev libtss2-tcti-swtpm0 swtpm swtpm-tools tpm2-tools
  openssh-server openssh-client tmux procps iproute2
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
echo "setup: installing migtd-py[dev,azure] into .venv"
.venv/bin/python -m pip install -q -e '.[dev,azure]'
# An editable install leaves no bytecode; compile it once so no migtd start pays for it.
.venv/bin/python -m compileall -q migtd tui
echo "setup: done"

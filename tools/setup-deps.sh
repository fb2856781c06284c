#!/usr/bin/env bash
# setup-deps.sh - install the Debian packages thongquan needs, only those missing.
# Safe to run again: with everything present it changes nothing and asks for nothing.
set -euo pipefail

pkgs=(build-essential cmake pkg-config liblmdb-dev libzstd-dev libxxhash-dev
      libcriterion-dev libssl-dev clang libclang-rt-dev util-linux chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-deps: all packages present"
  exit 0
fi
echo "setup-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"

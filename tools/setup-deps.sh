#!/usr/bin/env bash
# setup-deps.sh - install the Debian packages thongquan needs, only those missing.
# Safe to run again: with everything present it changes nothing and asks for nothing.
set -euo pipefail

# What building needs (the demo, the bench and the package stop there: criterion because
# the build configures the tests, dpkg-dev for dpkg-shlibdeps under `cpack -G DEB`),
# then, with --tests, what the tests need beside: clang (libFuzzer, sanitizer runtimes);
# prometheus (its promtool checks contrib/'s alert rules and the metrics textfile,
# test_promtool.sh); systemd (systemd-analyze checks the units, test_units.sh); strace
# (the system calls of a nightly run against the unit's filter); chromium (renders the
# HTML report headless, test_html.sh).
#   bash tools/setup-deps.sh [--tests]
pkgs=(build-essential cmake pkg-config liblmdb-dev libzstd-dev libxxhash-dev libssl-dev
      libcriterion-dev dpkg-dev util-linux)
if [ "${1:-}" = --tests ]; then
  pkgs+=(clang libclang-rt-dev prometheus systemd strace chromium)
fi
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
# no recommends: prometheus would bring node_exporter and the rest along
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs, with apt-get, whatever a fresh Debian 12 machine lacks to build, test and
# benchmark Préau. Idempotent: packages already present are left alone.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost-dev libboost-system-dev
  libssl-dev libsqlite3-dev sqlite3
  libpq-dev  # the server's PostgreSQL store (preau-server init --store postgresql://...)
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libyaml-cpp-dev
  libx11-dev libxss-dev  # preau-session: Xlib and the X idle counter
  libqrencode-dev  # the QR code of a console sign-in link (preau operators link)
  libsodium-dev    # Argon2id for the console's passwords
  openssl
  publicsuffix  # read by the server: `class allow` refuses a public suffix (co.uk)
)
# Real peers the tests talk to: dig for the DNS filter, nft and ip (network namespaces) for
# the filter in a device's DNS path, headless Chromium to render the HTML report, flatpak
# for the store's Flatpak bundles (apt, dpkg and dpkg-scanpackages come with Debian and
# build-essential); a real X desktop for the class lock (Xvfb, openbox, xdotool, xlogo, and
# ImageMagick + tesseract to read the screen back); faketime to run the CLI on a wrong
# clock; clang and its runtimes for the sanitizer and fuzzing step (llvm for
# llvm-symbolizer: sanitizer reports with file and line); Node.js and npm for the
# console's browser tests (puppeteer-core and axe-core, tests/browser/package-lock.json);
# xdg-utils for `class open` in the desktop session; PostgreSQL (initdb, postgres) for the
# integration tests run a second time on a PostgreSQL store.
TEST_PKGS=(nodejs npm dnsutils chromium nftables iproute2 flatpak xvfb openbox xdotool x11-apps
  xdg-utils postgresql
  imagemagick tesseract-ocr tesseract-ocr-eng faketime clang libclang-rt-14-dev llvm)
# Peers the benchmarks compare against.
BENCH_PKGS=(dnsperf dnsmasq-base unbound)

# Usage: install-deps.sh [--test] [--bench]
want=("${BUILD_PKGS[@]}")
for arg in "$@"; do
  case "$arg" in
    --test) want+=("${TEST_PKGS[@]}") ;;
    --bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
    *) echo "install-deps: unknown option $arg (use --test, --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  # Node.js from elsewhere (NodeSource) brings its own npm: Debian's would conflict.
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: everything is already installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

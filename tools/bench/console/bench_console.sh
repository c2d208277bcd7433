#!/usr/bin/env bash
# The teachers' console against the CLI, in the same run: a real preau-server with its
# console, 30 simulated devices (preau-sim) in one class, then
#  - the CLI's `preau class lock` round trip (median of 5),
#  - the page's load (bytes, requests, time to interactive) and the time from the tap on
#    "Verrouiller" to every tile locked (median of 5), in Debian's Chromium,
#  - the server's memory per open console (event streams held open).
# Usage: tools/bench/console/bench_console.sh [BUILD_DIR]   (needs chromium, node, and the
# build's `npm ci` in BUILD_DIR/browser)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../../../build}" && pwd)"
work="$(mktemp -d /tmp/preau-bench-console.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() {  # wait_for SECONDS COMMAND...: polls until COMMAND succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "bench_console: timed out: $*" >&2; exit 1; fi
    sleep 0.1
  done
}

"$build/preau-server" init --data "$work/data" >/dev/null
"$build/preau-server" run --data "$work/data" --listen 127.0.0.1:0 --port-file "$work/port" \
  --console-listen 127.0.0.1:0 2>"$work/server.log" &
pids+=($!)
server_pid=$!
wait_for 10 grep -qs "console on https port" "$work/server.log"
port=$(cat "$work/port")
console_port=$(sed -n 's/.*console on https port \([0-9]*\).*/\1/p' "$work/server.log")
admin=(--credentials "$work/data/admin.credentials" --server "127.0.0.1:$port")
class=ville/jaures/cm2-a
"$build/preau" "${admin[@]}" groups create "$class" >/dev/null
token=$("$build/preau" "${admin[@]}" token create --group "$class" --uses 30)
"$build/preau" "${admin[@]}" operators create prof --role teacher --scope "$class" \
  --out "$work/prof.credentials" >/dev/null
"$build/preau-sim" --server "127.0.0.1:$port" --ca "$work/data/ca.pem" --enroll "$token" -n 30 \
  --state-root "$work/sim" >"$work/sim.log" 2>&1 &
pids+=($!)
online() { [ "$("$build/preau" "${admin[@]}" devices list --group "$class" --online -o csv | tail -n +2 | wc -l)" -eq 30 ]; }
wait_for 60 online

teacher=(--credentials "$work/prof.credentials" --server "127.0.0.1:$port")
cli_ms=()
for i in 1 2 3 4 5; do
  t0=$(date +%s%N)
  out=$("$build/preau" "${teacher[@]}" class lock "$class" --wait 10s)
  t1=$(date +%s%N)
  case "$out" in *"30/30 locked"*) ;; *) echo "bench_console: CLI lock: $out" >&2; exit 1 ;; esac
  cli_ms+=($(( (t1 - t0) / 1000000 )))
  "$build/preau" "${teacher[@]}" class unlock "$class" --wait 10s >/dev/null
done
cli_median=$(printf '%s\n' "${cli_ms[@]}" | sort -n | sed -n 3p)

link=$("$build/preau" "${admin[@]}" operators link prof --no-qr 2>/dev/null)
cp "$here/bench_console.mjs" "$build/browser/"
CONSOLE_URL="https://127.0.0.1:$console_port" LINK="$link" CLASS="$class" DEVICES=30 \
  SERVER_PID="$server_pid" SERVER_CERT="$work/data/server.pem" PROFILE="$work/profile" \
  CLI_MS="${cli_ms[*]}" CLI_MEDIAN="$cli_median" \
  node "$build/browser/bench_console.mjs"

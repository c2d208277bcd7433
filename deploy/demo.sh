#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts a server on its embedded SQLite store
# and five simulated devices on loopback, then prints the fleet. Everything lives in a
# temporary folder that is removed at the end (pass --keep to leave it and stop nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0; [ "${1:-}" = "--keep" ] && keep=1
bash deploy/install-deps.sh
bash deploy/build.sh preau-server preau-agent preau preau-sim

B=$PWD/build
work=$(mktemp -d /tmp/preau-demo-XXXXXX)
cleanup() {
  [ "$keep" = 1 ] && { echo "demo left running in $work"; return; }
  [ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
  [ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$B/preau-server" init --data "$work/data" --name "Ville de Démo"
"$B/preau-server" run --data "$work/data" --listen 127.0.0.1:0 --port-file "$work/port" \
  2>"$work/server.log" & srv_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "server did not start:"; cat "$work/server.log"; exit 1; }
export PREAU_SERVER=127.0.0.1:$(cat "$work/port")
export PREAU_CREDENTIALS=$work/data/admin.credentials

"$B/preau" groups create ville-de-demo/ecole-jules-ferry/cm2-a
"$B/preau" groups create ville-de-demo/college-jean-moulin/5e-b
token=$("$B/preau" token create --group ville-de-demo/ecole-jules-ferry/cm2-a --uses 5 --expires 1h)
"$B/preau-sim" --server "$PREAU_SERVER" --ca "$work/data/ca.pem" --enroll "$token" -n 5 \
  --state-root "$work/devices" 2>"$work/sim.log" & sim_pid=$!
for _ in $(seq 200); do
  n=$("$B/preau" devices list --online -o csv | tail -n +2 | grep -c . || true)
  [ "$n" -ge 5 ] && break; sleep 0.1
done
echo
echo "== The fleet (preau devices list) =="
"$B/preau" devices list
echo
echo "== Groups (preau groups list) =="
"$B/preau" groups list
if [ "$keep" = 1 ]; then
  echo
  echo "export PREAU_SERVER=$PREAU_SERVER PREAU_CREDENTIALS=$PREAU_CREDENTIALS"
  trap - EXIT
fi

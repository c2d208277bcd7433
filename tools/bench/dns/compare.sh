#!/bin/bash
# Runs the agent's filtering resolver, dnsmasq and unbound side by side under dnsperf on
# loopback, each blocking the same UT1 domains (every "black" category of the extract) and
# forwarding the rest to the same local fake upstream. Reports queries/s, p99 latency,
# resident memory and server CPU time per answered query (utime+stime from /proc/PID/stat
# before and after, divided by the answered queries), with ratios to dnsmasq.
#
#   tools/bench/dns/compare.sh [BUILD_DIR] [SECONDS]
#
# Only loopback addresses are used. On a 2-core machine dnsperf itself caps queries/s,
# so CPU per answered query is the fair figure.
#
# A fourth server, "floor", is the cheapest UDP DNS server possible: it answers every query
# with its own bytes flagged REFUSED (nothing parsed, no filter, no cache), 64 queries per
# recvmmsg/sendmmsg. On loopback the kernel delivers each answer into dnsperf's socket in
# the sender's context, so the floor's CPU per query is what the kernel alone charges any
# server here; "above floor" is what each server adds to it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${1:-$ROOT/build}
SECONDS_PER_RUN=${2:-10}
UT1=${UT1:-$ROOT/tests/data/ut1}
WORK=$(mktemp -d /tmp/preau-dns-bench.XXXXXX)
UPSTREAM_PORT=15353
declare -A PORTS=([preau]=15354 [dnsmasq]=15355 [unbound]=15356 [floor]=15357)
SERVERS=(preau dnsmasq unbound floor)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

for tool in dnsperf dnsmasq unbound; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || {
    echo "missing $tool: apt-get install -y dnsperf dnsmasq-base unbound" >&2; exit 1; }
done
PATH=$PATH:/usr/sbin

# --- the shared block list: domains of every category whose usage is not "white" ---------
: > "$WORK/blocked.txt"
for dir in "$UT1"/*/; do
  [ -f "$dir/domains" ] || continue
  grep -qx white "$dir/usage" 2>/dev/null && continue
  # Same normalisation as the reader: lowercase, no CR, no leading/trailing dots; IPv4
  # literals and non-domains left out (the other servers cannot block them by name).
  tr -d '\r' < "$dir/domains" | tr 'A-Z' 'a-z' | sed -e 's/^\.*//' -e 's/\.$//' |
    grep -E '^[a-z0-9_-]+(\.[a-z0-9_-]+)+$' | grep -vE '^[0-9.]+$' >> "$WORK/blocked.txt"
done
sort -u -o "$WORK/blocked.txt" "$WORK/blocked.txt"
NBLOCKED=$(wc -l < "$WORK/blocked.txt")

# --- the query mix: half blocked (www. of listed names), half allowed (cached after the
# first ask: 2000 names) ------------------------------------------------------------------
shuf -n 20000 --random-source=<(yes) "$WORK/blocked.txt" | sed 's/^/www./; s/$/ A/' > "$WORK/q1"
for i in $(seq 1 20000); do echo "site$((i % 2000)).allowed-example.org A"; done > "$WORK/q2"
paste -d '\n' "$WORK/q1" "$WORK/q2" > "$WORK/queries.txt"

# --- configurations -------------------------------------------------------------------------
{
  echo "port=${PORTS[dnsmasq]}"
  echo "listen-address=127.0.0.1"
  echo "bind-interfaces"
  echo "no-resolv"
  echo "no-hosts"
  echo "server=127.0.0.1#$UPSTREAM_PORT"
  echo "cache-size=10000"
  echo "user=root"
  sed 's|.*|address=/&/#|' "$WORK/blocked.txt"
} > "$WORK/dnsmasq.conf"
{
  echo "server:"
  echo "  interface: 127.0.0.1@${PORTS[unbound]}"
  echo "  port: ${PORTS[unbound]}"
  echo "  do-daemonize: no"
  echo "  username: \"\""
  echo "  chroot: \"\""
  echo "  directory: \"$WORK\""
  echo "  pidfile: \"$WORK/unbound.pid\""
  echo "  logfile: \"$WORK/unbound.log\""
  echo "  num-threads: 1"
  echo "  do-ip6: no"
  echo "  access-control: 127.0.0.0/8 allow"
  echo "  do-not-query-localhost: no"
  echo "  module-config: \"iterator\""
  echo "  msg-cache-size: 16m"
  echo "  rrset-cache-size: 32m"
  sed 's|.*|  local-zone: "&." always_null|' "$WORK/blocked.txt"
  echo "forward-zone:"
  echo "  name: \".\""
  echo "  forward-addr: 127.0.0.1@$UPSTREAM_PORT"
} > "$WORK/unbound.conf"

# --- helpers ----------------------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
wait_ready() {  # port
  for _ in $(seq 1 200); do
    dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short ready.allowed-example.org A >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not come up" >&2; return 1
}
TICK=$(getconf CLK_TCK)

"$BUILD/bench_filter_resolver" --fake-upstream $UPSTREAM_PORT > "$WORK/upstream.log" 2>&1 &
PIDS+=($!)

start_server() {  # name -> sets SERVER_PID
  case $1 in
    preau) "$BUILD/bench_filter_resolver" --ut1 "$UT1" --port ${PORTS[preau]} \
             --upstream 127.0.0.1:$UPSTREAM_PORT > "$WORK/preau.log" 2>&1 & ;;
    dnsmasq) dnsmasq -k -C "$WORK/dnsmasq.conf" --pid-file="$WORK/dnsmasq.pid" \
               > "$WORK/dnsmasq.log" 2>&1 & ;;
    unbound) unbound -d -c "$WORK/unbound.conf" > "$WORK/unbound.out" 2>&1 & ;;
    floor) "$BUILD/bench_filter_resolver" --echo-floor ${PORTS[floor]} > "$WORK/floor.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  PIDS+=($SERVER_PID)
}

declare -A QPS P99 RSS CPU
for name in "${SERVERS[@]}"; do
  start_server $name
  wait_ready ${PORTS[$name]}
  # Warm-up pass fills every cache with the allowed names.
  dnsperf -s 127.0.0.1 -p ${PORTS[$name]} -d "$WORK/q2" -n 1 -q 50 > /dev/null 2>&1
  before=$(cpu_ticks $SERVER_PID)
  dnsperf -s 127.0.0.1 -p ${PORTS[$name]} -d "$WORK/queries.txt" -l "$SECONDS_PER_RUN" \
    -c 4 -q 200 -t 2 -v > "$WORK/$name.dnsperf" 2>&1
  after=$(cpu_ticks $SERVER_PID)
  RSS[$name]=$(rss_kb $SERVER_PID)
  kill $SERVER_PID; wait $SERVER_PID 2>/dev/null || true
  completed=$(awk '/Queries completed:/ {print $3}' "$WORK/$name.dnsperf")
  QPS[$name]=$(awk '/Queries per second:/ {print $4}' "$WORK/$name.dnsperf")
  # -v prints one line per answered query, its latency (seconds) last.
  P99[$name]=$(awk '/^> / {print $NF}' "$WORK/$name.dnsperf" | sort -g |
               awk '{v[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.3f", v[i]*1000}')
  CPU[$name]=$(awk -v t=$((after - before)) -v n="$completed" -v hz="$TICK" \
               'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
  echo "$name: completed $completed, $(grep -E 'Queries lost' "$WORK/$name.dnsperf" | xargs)" >&2
done

echo "Blocked domains: $NBLOCKED (UT1 extract, black categories); query mix: half blocked"
echo "(www. of listed names), half allowed (2000 names, cached); dnsperf -c 4 -q 200, ${SECONDS_PER_RUN}s."
printf "%-10s %10s %8s %8s %13s %10s %13s %12s\n" server "queries/s" "p99 ms" "RSS MB" \
  "CPU us/query" "CPU ratio" "above floor" "above ratio"
for name in "${SERVERS[@]}"; do
  printf "%-10s %10.0f %8s %8.1f %13s %10.2f %13.2f %12.2f\n" $name "${QPS[$name]}" \
    "${P99[$name]}" "$(echo "${RSS[$name]} / 1024" | bc -l)" "${CPU[$name]}" \
    "$(echo "${CPU[$name]} / ${CPU[dnsmasq]}" | bc -l)" \
    "$(echo "${CPU[$name]} - ${CPU[floor]}" | bc -l)" \
    "$(echo "(${CPU[$name]} - ${CPU[floor]}) / (${CPU[dnsmasq]} - ${CPU[floor]})" | bc -l)"
done
echo "(work files in $WORK)"

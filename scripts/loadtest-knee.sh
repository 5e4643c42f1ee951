#!/usr/bin/env bash
# Finds the knee of one server: starts `jifen serve` on the database the
# environment names (JIFEN_DB / JIFEN_DATA_DIR, holding a population made by
# jifen synth), prepares the load test's accounts, then runs the mix at each
# scale given for 30 s, sampling the server's resident memory. Prints one line
# per scale; the reports are left in OUT (docs/performance.md, issue 18).
#
#   JIFEN_DATA_DIR=/var/lib/lt JIFEN_TRUSTED_PROXIES=127.0.0.1/32 \
#   JIFEN_INTERNET_ADDR=127.0.0.1:18080 JIFEN_OFFICE_ADDR=127.0.0.1:18081 \
#   JIFEN_METRICS_ADDR=127.0.0.1:18082 JIFEN_BACKUP_EVERY=off \
#   bash scripts/loadtest-knee.sh ./jifen OUT "1 2 3 4"
set -euo pipefail
bin=$1 out=$2 scales=$3
mkdir -p "$out"
: "${JIFEN_INTERNET_ADDR:?}" "${JIFEN_OFFICE_ADDR:?}"
"$bin" serve >"$out/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
sleep 60 # the statistics cube's first load of 350,000 rows
"$bin" loadtest prepare --state "$out/state.json" --users 200 --staff 2 >/dev/null
sleep 31 # a staff TOTP code is used once per 30 s
for s in $scales; do
  stop="$out/.stop-$s"
  rm -f "$stop"
  (peak=0; while kill -0 $pid 2>/dev/null && [ ! -f "$stop" ]; do
     r=$(awk '/VmRSS/{print $2}' /proc/$pid/status); [ "$r" -gt "$peak" ] && peak=$r; echo $peak >"$out/rss-$s"; sleep 0.5
   done) &
  sampler=$!
  "$bin" loadtest --state "$out/state.json" --internet "http://$JIFEN_INTERNET_ADDR" --office "http://$JIFEN_OFFICE_ADDR" \
    --scale "$s" --duration 30s --out "$out/s$s.json" --markdown "$out/s$s.md" >/dev/null 2>"$out/s$s.log" || true
  touch "$stop"; wait $sampler
  echo "scale $s: $(sed -n 3p "$out/s$s.md") peak RSS $(( $(cat "$out/rss-$s") / 1024 )) MB"
  sleep 10
done

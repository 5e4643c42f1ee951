#!/usr/bin/env bash
# A short load run against the real binary: a small synthetic population on
# SQLite, the server started as in production (one process, all surfaces and
# the worker), `jifen loadtest` at scale 1 for 20 s. It fails when any
# request fails; it does not judge the timings (the CI machine is shared).
# Used by .ci/run; run it alone with `bash scripts/loadtest-smoke.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/jifen" ./cmd/jifen
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }
export JIFEN_DATA_DIR="$work/data" JIFEN_BACKUP_EVERY=off JIFEN_TRUSTED_PROXIES=127.0.0.1/32
export JIFEN_INTERNET_ADDR="127.0.0.1:$(port)" JIFEN_OFFICE_ADDR="127.0.0.1:$(port)" JIFEN_METRICS_ADDR="127.0.0.1:$(port)"
unset JIFEN_DB
"$work/jifen" synth --people 3000 --employers 300 --open --quiet
"$work/jifen" publicity import --year 2022 --quota 6000 --file internal/ranking/testdata/beijing-2022.csv >/dev/null
"$work/jifen" serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fsS "http://$JIFEN_INTERNET_ADDR/readyz" >/dev/null 2>&1 && curl -fsS "http://$JIFEN_OFFICE_ADDR/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
"$work/jifen" loadtest prepare --state "$work/state.json" --users 100 --staff 1 >/dev/null
if ! "$work/jifen" loadtest --state "$work/state.json" --internet "http://$JIFEN_INTERNET_ADDR" --office "http://$JIFEN_OFFICE_ADDR" \
    --scale 1 --duration 20s --users 100 --out "$work/report.json"; then
  echo "the load run had errors; the server's log ends:"; tail -n 40 "$work/serve.log"; exit 1
fi

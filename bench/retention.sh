#!/usr/bin/env bash
# Tag retention at scale: one project, one repository of
# BENCH_RETENTION_ARTIFACTS artifacts (default 100 000), each tagged, pushed
# for real over the registry API; a policy keeping the 10 most recently
# pushed; its dry run and then its real run, timed from the execution's own
# start and end. Target: each under 30 s on the 2-core machines.
# Usage: bench/retention.sh (BENCH_RETENTION_DB=postgres for PostgreSQL)
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

ARTIFACTS="${BENCH_RETENTION_ARTIFACTS:-100000}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
apt_install curl python3
ensure_rust
step "building berth (release)"
cargo build --release -p server --bin berth

source "$REPO_ROOT/bench/lib.sh"

ADMIN_PASSWORD="Bench-Passw0rd"
BASIC="Basic $(printf 'admin:%s' "$ADMIN_PASSWORD" | base64 -w0)"
BERTH_PORT="$(free_port)"
BERTH="http://127.0.0.1:$BERTH_PORT"
DATABASE=()
if [ "${BENCH_RETENTION_DB:-sqlite}" = "postgres" ]; then
  ensure_postgres
  name="berth_bench_retention_$$"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $name" postgres
  trap 'cleanup; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" postgres' EXIT
  DATABASE=(BERTH_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$name")
fi
env "${DATABASE[@]}" BERTH_LISTEN="127.0.0.1:$BERTH_PORT" BERTH_DATA_DIR="$WORK/berth" BERTH_LOG_LEVEL=warn \
  BERTH_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$TARGET_DIR/release/berth" serve >"$WORK/berth.log" 2>&1 &
PIDS+=($!)
wait_for "$BERTH/api/v2.0/health"

step "pushing $ARTIFACTS tagged artifacts to bench/app"
python3 bench/retention_load.py seed "$BERTH" --auth "$BASIC" --artifacts "$ARTIFACTS"
step "retention keeping the 10 most recently pushed: dry run, then real run"
python3 bench/retention_load.py retain "$BERTH" --auth "$BASIC" --keep 10

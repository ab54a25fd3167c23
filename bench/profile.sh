#!/usr/bin/env bash
# Profiles a release Berth serving manifest GETs by tag: starts it (SQLite,
# temporary data directory), pushes a small image to its public `library`
# project, drives GETs with wrk and samples the server with perf meanwhile.
# Prints the hottest symbols (self time, with their share of all samples)
# and leaves perf.data in
# BENCH_PROFILE_OUT (default target/profile) for `perf report -i`.
# Usage: bench/profile.sh [seconds]   (default 15)
#        BENCH_PROFILE_AUTH=bearer profiles Bearer-token pulls instead of anonymous ones;
#        BENCH_PROFILE_CONNS connections (default 16);
#        BENCH_PROFILE_CALLERS=1 also records call chains (DWARF unwinding, heavier),
#        for `perf report -i … --children` or `-G`.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

DURATION="${1:-15}"
CONNS="${BENCH_PROFILE_CONNS:-16}"
OUT="${BENCH_PROFILE_OUT:-$REPO_ROOT/target/profile}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
apt_install wrk curl linux-perf
ensure_rust
step "building berth (release)"
cargo build --release -p server --bin berth

source "$REPO_ROOT/bench/lib.sh"
PORT="$(free_port)"
CREDS="admin:Bench-Passw0rd"
BERTH_LISTEN="127.0.0.1:$PORT" BERTH_DATA_DIR="$WORK/berth" BERTH_LOG_LEVEL=warn \
  BERTH_ADMIN_PASSWORD="${CREDS#admin:}" "$TARGET_DIR/release/berth" serve >"$WORK/berth.log" 2>&1 &
BERTH_PID=$!
PIDS+=("$BERTH_PID")
BASE="http://127.0.0.1:$PORT"
wait_for "$BASE/api/v2.0/health"

step "pushing a small image to library/profile-app"
push_small_image "$BASE" library/profile-app latest
URL="$BASE/v2/library/profile-app/manifests/latest"
HEADER="Accept: application/vnd.oci.image.manifest.v1+json"
if [ "${BENCH_PROFILE_AUTH:-anonymous}" = bearer ]; then
  TOKEN="$(curl -fsS -u "$CREDS" "$BASE/service/token?service=127.0.0.1:$PORT&scope=repository:library/profile-app:pull" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
  HEADER="Authorization: Bearer $TOKEN"
fi

mkdir -p "$OUT"
step "sampling berth under wrk ($CONNS connections, ${DURATION} s)"
# Self time per symbol: the release build keeps its symbols, and needs no
# debug information or frame pointers for that.
CALLERS=()
[ -n "${BENCH_PROFILE_CALLERS:-}" ] && CALLERS=(--call-graph dwarf,16384)
perf record -F 2999 "${CALLERS[@]}" -o "$OUT/perf.data" -p "$BERTH_PID" -- sleep "$DURATION" 2>"$OUT/perf.log" &
PERF=$!
wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H "$HEADER" "$URL"
wait "$PERF"
perf report -i "$OUT/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60
echo "full profile: perf report -i $OUT/perf.data"

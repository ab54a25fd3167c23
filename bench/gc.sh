#!/usr/bin/env bash
# Garbage collection, side by side: Berth's online collection against
# distribution 2.8's offline `registry garbage-collect` on the same content,
# then Berth's pull and push throughput while a collection runs against
# without. Both registries get BENCH_GC_MANIFESTS images (default 10 000) of
# BENCH_GC_LAYERS unique blobs each (default 10: 100 000 blobs), pushed over
# HTTP; every other image is deleted, so half the blobs are unreferenced.
# Usage: bench/gc.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

MANIFESTS="${BENCH_GC_MANIFESTS:-10000}"
LAYERS="${BENCH_GC_LAYERS:-10}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
apt_install docker-registry curl python3
ensure_rust
step "building berth (release)"
cargo build --release -p server --bin berth

source "$REPO_ROOT/bench/lib.sh"
now() { date +%s.%N; }

ADMIN_PASSWORD="Bench-Passw0rd"
BASIC="Basic $(printf 'admin:%s' "$ADMIN_PASSWORD" | base64 -w0)"
BERTH_PORT="$(free_port)"
BERTH="http://127.0.0.1:$BERTH_PORT"
# A one-second link window: what the deletions leave is collectable at once.
BERTH_LISTEN="127.0.0.1:$BERTH_PORT" BERTH_DATA_DIR="$WORK/berth" BERTH_LOG_LEVEL=warn \
  BERTH_ADMIN_PASSWORD="$ADMIN_PASSWORD" BERTH_GC_LINK_WINDOW_SECONDS=1 \
  "$TARGET_DIR/release/berth" serve >"$WORK/berth.log" 2>&1 &
PIDS+=($!)

start_distribution
REGISTRY="http://127.0.0.1:$REGISTRY_PORT"
wait_for "$BERTH/api/v2.0/health"
wait_for "$REGISTRY/v2/"

step "pushing $MANIFESTS images of $LAYERS blobs to each, deleting every other one"
python3 bench/gc_load.py seed "$BERTH" "$REGISTRY" --auth "$BASIC" --auth "" \
  --manifests "$MANIFESTS" --layers "$LAYERS"
du -sh "$WORK/berth/storage" "$WORK/registry" 2>/dev/null || true
sleep 1.5

step "distribution: offline garbage-collect (the registry stopped, as it requires)"
kill "$REGISTRY_PID"; wait "$REGISTRY_PID" 2>/dev/null || true
started="$(now)"
docker-registry garbage-collect "$WORK/registry.yml" >"$WORK/gc.log" 2>&1
distribution_seconds="$(python3 -c "print(f'{$(now) - $started:.2f}')")"
echo "distribution: $(grep -c 'blob eligible for deletion' "$WORK/gc.log" || true) blobs eligible, ${distribution_seconds} s"

step "berth: online garbage collection (4 workers)"
berth_seconds="$(python3 bench/gc_load.py collect "$BERTH" --auth "$BASIC" 2>"$WORK/berth-gc.log")"
grep -E "deleted|removed|from the request" "$WORK/berth-gc.log" | sed 's/^/  /'
echo "berth: ${berth_seconds} s (first log line to last)"
python3 -c "d, b = $distribution_seconds, $berth_seconds; print(f'berth online / distribution offline: {b / d:.2f}x the time')"
du -sh "$WORK/berth/storage" 2>/dev/null || true

step "berth: pulls and pushes per second, idle and while collecting 5 000 deleted images"
python3 bench/gc_load.py throughput "$BERTH" --auth "$BASIC" --seconds 10

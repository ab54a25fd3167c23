#!/usr/bin/env bash
# Replication, side by side: Berth's push-based replication against
# `skopeo sync` copying the same images from Berth to a fresh Debian
# docker-registry each. BENCH_REPL_IMAGES images (default 200) of
# BENCH_REPL_LAYERS random layers (default 4) of BENCH_REPL_LAYER_BYTES
# (default 2.5 MiB): 1 000 blobs, about 2 GiB, over 20 repositories. Then
# Berth's re-run with nothing changed.
# Usage: bench/replication.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

IMAGES="${BENCH_REPL_IMAGES:-200}"
LAYERS="${BENCH_REPL_LAYERS:-4}"
LAYER_BYTES="${BENCH_REPL_LAYER_BYTES:-2621440}"
REPOS=20
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
apt_install docker-registry skopeo curl python3
ensure_rust
step "building berth (release)"
cargo build --release -p server --bin berth

source "$REPO_ROOT/bench/lib.sh"
now() { date +%s.%N; }

ADMIN_PASSWORD="Bench-Passw0rd"
BASIC="Basic $(printf 'admin:%s' "$ADMIN_PASSWORD" | base64 -w0)"
BERTH_PORT="$(free_port)"
BERTH="http://127.0.0.1:$BERTH_PORT"
BERTH_LISTEN="127.0.0.1:$BERTH_PORT" BERTH_DATA_DIR="$WORK/berth" BERTH_LOG_LEVEL=warn \
  BERTH_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$TARGET_DIR/release/berth" serve >"$WORK/berth.log" 2>&1 &
PIDS+=($!)
start_distribution for-skopeo
SKOPEO_TARGET="127.0.0.1:$REGISTRY_PORT"
start_distribution for-berth
BERTH_TARGET="http://127.0.0.1:$REGISTRY_PORT"
wait_for "$BERTH/api/v2.0/health"
wait_for "http://$SKOPEO_TARGET/v2/"
wait_for "$BERTH_TARGET/v2/"

step "pushing $IMAGES images of $LAYERS layers to Berth"
python3 bench/replication_load.py seed "$BERTH" --auth "$BASIC" --images "$IMAGES" --layers "$LAYERS" \
  --layer-bytes "$LAYER_BYTES" --repos "$REPOS"
bytes="$((IMAGES * LAYERS * LAYER_BYTES))"

step "skopeo sync: Berth → docker-registry"
python3 bench/replication_load.py skopeo-yaml "$BERTH" --password "$ADMIN_PASSWORD" --repos "$REPOS" >"$WORK/sync.yml"
started="$(now)"
skopeo sync --src yaml --dest docker --dest-tls-verify=false "$WORK/sync.yml" "$SKOPEO_TARGET/mirror" \
  >"$WORK/skopeo.log" 2>&1 || { tail -20 "$WORK/skopeo.log"; exit 1; }
skopeo_seconds="$(python3 -c "print(f'{$(now) - $started:.2f}')")"
echo "skopeo sync: ${skopeo_seconds} s"

step "Berth: a push policy, replicate now"
berth_seconds="$(python3 bench/replication_load.py replicate "$BERTH" --auth "$BASIC" --to "$BERTH_TARGET" --name bench)"
echo "berth: ${berth_seconds} s"

step "Berth: the same policy again, nothing changed"
again_seconds="$(python3 bench/replication_load.py replicate "$BERTH" --auth "$BASIC" --to "$BERTH_TARGET" --name bench --again)"
echo "berth re-run: ${again_seconds} s"

python3 - "$bytes" "$skopeo_seconds" "$berth_seconds" "$again_seconds" <<'PY'
import sys
size, skopeo, berth, again = int(sys.argv[1]), *map(float, sys.argv[2:])
mib = size / 2**20
print(f"skopeo sync {mib / skopeo:.0f} MiB/s, berth {mib / berth:.0f} MiB/s: berth {skopeo / berth:.2f}x skopeo's throughput "
      f"(target 1.5x); re-run with nothing to copy {again:.2f} s (target < 5 s)")
PY

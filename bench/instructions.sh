#!/usr/bin/env bash
# Counts the instructions a manifest GET by tag costs Berth, under callgrind:
# the same count on every run of the same binary, however busy the machine
# is, where requests/s and CPU seconds vary by a fifth between runs minutes
# apart. Compares builds: pass release binaries, or none to build this tree.
# For each it starts Berth under valgrind (SQLite, temporary data directory),
# pushes a small image to the public `library` project, warms up, counts
# BENCH_INSTR_REQUESTS GETs (default 20000, ab with BENCH_INSTR_CONNS
# connections, default 16) and prints instructions per GET, split into the
# threads serving requests and SQLite's worker threads. User space only: the
# kernel's share (about half of a GET natively) is not counted, and valgrind
# hides CPU features (SHA-NI), so hashing counts more than it costs natively.
# The profiles stay in BENCH_INSTR_OUT (default target/instructions), one
# file per thread, for callgrind_annotate.
# Usage: bench/instructions.sh [berth-binary ...]
#        BENCH_INSTR_AUTH=bearer counts Bearer-token pulls instead of anonymous ones.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

REQUESTS="${BENCH_INSTR_REQUESTS:-20000}"
CONNS="${BENCH_INSTR_CONNS:-16}"
OUT="${BENCH_INSTR_OUT:-$REPO_ROOT/target/instructions}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
apt_install valgrind apache2-utils curl
BINARIES=("$@")
if [ ${#BINARIES[@]} -eq 0 ]; then
  ensure_rust
  step "building berth (release)"
  cargo build --release -p server --bin berth
  BINARIES=("$TARGET_DIR/release/berth")
fi

source "$REPO_ROOT/bench/lib.sh"
CREDS="admin:Bench-Passw0rd"
HEADER="Accept: application/vnd.oci.image.manifest.v1+json"
mkdir -p "$OUT"

count() {
  local binary="$1" name port base pid url header="$HEADER"
  name="$(basename "$binary")-$(date +%s)"
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  BERTH_LISTEN="127.0.0.1:$port" BERTH_DATA_DIR="$WORK/$name" BERTH_LOG_LEVEL=warn \
    BERTH_ADMIN_PASSWORD="${CREDS#admin:}" valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
    --callgrind-out-file="$OUT/$name.out" "$binary" serve >"$WORK/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  # Under valgrind start-up takes seconds, not milliseconds.
  for _ in $(seq 1 600); do curl -fs "$base/api/v2.0/health" >/dev/null && break; sleep 0.5; done
  push_small_image "$base" library/instructions latest >/dev/null
  url="$base/v2/library/instructions/manifests/latest"
  if [ "${BENCH_INSTR_AUTH:-anonymous}" = bearer ]; then
    header="Authorization: Bearer $(curl -fsS -u "$CREDS" \
      "$base/service/token?service=127.0.0.1:$port&scope=repository:library/instructions:pull" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
  fi
  ab -q -k -n 2000 -c "$CONNS" -H "$header" "$url" >/dev/null
  sleep 1
  callgrind_control -i on "$pid" >/dev/null 2>&1
  ab -q -k -n "$REQUESTS" -c "$CONNS" -H "$header" "$url" | grep -E '^(Failed|Non-2xx)' || true
  # The audit writer lingers before it writes the last GETs' rows.
  sleep 1
  callgrind_control -i off "$pid" >/dev/null 2>&1
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  python3 - "$OUT/$name.out" "$REQUESTS" "$binary" <<'PY'
import glob, sys
prefix, requests, binary = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sqlite = serving = 0
for path in glob.glob(prefix + '*'):
    text = open(path, errors='replace').read()
    total = next((int(line.split()[1]) for line in text.splitlines() if line.startswith('totals:')), 0)
    # SQLite's worker threads run sqlx's worker loop and no HTTP.
    if 'sqlx_sqlite::connection::worker' in text and 'hyper::' not in text:
        sqlite += total
    else:
        serving += total
print(f"{binary}: {(serving + sqlite) // requests} instructions per GET "
      f"(serving threads {serving // requests}, SQLite threads {sqlite // requests})")
PY
}

for binary in "${BINARIES[@]}"; do
  count "$binary"
done
echo "profiles: $OUT (callgrind_annotate <file>)"

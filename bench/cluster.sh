#!/usr/bin/env bash
# Several Berth nodes behind haproxy, as docs/deployment.md deploys them: a
# release build, a private PostgreSQL (with pg_stat_statements), one Garage
# bucket, and haproxy balancing round robin over 1 node and then over 3.
# Prints manifest GET requests/s (wrk) and blob pull MiB/s (parallel curls)
# through the load balancer for each, and the database round trips one
# request of each kind costs (pg_stat_statements, job polling left out).
# On a 2-core machine three nodes share the same two cores with PostgreSQL,
# Garage and the load generator: expect no scaling here, only the cost.
# Usage: bench/cluster.sh [seconds-per-run]   (default 10)
#        BENCH_BLOB_MB=256 sets the size of the blob pulled (default 256).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

DURATION="${1:-10}"
BLOB_MB="${BENCH_BLOB_MB:-256}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
apt_install haproxy wrk curl apache2-utils postgresql
ensure_rust
ensure_garage
step "building berth (release)"
cargo build --release -p server --bin berth

source "$REPO_ROOT/bench/lib.sh"

# --- PostgreSQL of the benchmark's own, counting statements -----------------
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
PG_PORT="$(free_port)"
mkdir -p "$WORK/pg"
chmod o+x "$WORK"   # the postgres account must reach its data directory inside
as_postgres() { if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$WORK/pg"; runuser -u postgres -- "$@"; else "$@"; fi; }
as_postgres "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w start \
  -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $WORK/pg -c shared_preload_libraries=pg_stat_statements -c max_connections=200" >/dev/null
stop_postgres() { as_postgres "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1 || true; }
# The nodes first (they stop quickly while their database is still there), then PostgreSQL.
finish() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_postgres
  rm -rf "$WORK"
}
trap finish EXIT
PSQL=(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -t -A)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE berth" -c "CREATE EXTENSION pg_stat_statements"
"${PSQL[@]}" -d berth -c "CREATE EXTENSION pg_stat_statements"
DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/berth"

# --- Garage: one bucket ------------------------------------------------------
S3_PORT="$(free_port)"; RPC_PORT="$(free_port)"
cat >"$WORK/garage.toml" <<TOML
metadata_dir = "$WORK/garage/meta"
data_dir = "$WORK/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$RPC_PORT"
rpc_public_addr = "127.0.0.1:$RPC_PORT"
rpc_secret = "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$S3_PORT"
root_domain = ".s3.garage.localhost"
TOML
GARAGE_DEFAULT_ACCESS_KEY=GKbenchcluster01 GARAGE_DEFAULT_SECRET_KEY=bench-cluster-secret-0123456789 \
  GARAGE_DEFAULT_BUCKET=berth RUST_LOG=garage=warn \
  garage -c "$WORK/garage.toml" server --single-node --default-bucket >"$WORK/garage.log" 2>&1 &
PIDS+=($!)

# --- Three nodes -------------------------------------------------------------
LB_PORT="$(free_port)"
LB="http://127.0.0.1:$LB_PORT"
ADMIN_PASSWORD="Bench-Passw0rd"
CREDS="admin:$ADMIN_PASSWORD"
NODE_PORTS=()
start_node() {
  local n="$1" port
  port="$(free_port)"
  NODE_PORTS+=("$port")
  mkdir -p "$WORK/node$n"
  BERTH_LISTEN="127.0.0.1:$port" BERTH_DATA_DIR="$WORK/node$n" BERTH_LOG_LEVEL=warn \
    BERTH_DATABASE_URL="$DATABASE_URL" BERTH_ADMIN_PASSWORD="$ADMIN_PASSWORD" BERTH_EXTERNAL_URL="$LB" \
    BERTH_TRUSTED_PROXIES=127.0.0.1 BERTH_STORAGE=s3 BERTH_S3_ENDPOINT="http://127.0.0.1:$S3_PORT" \
    BERTH_S3_REGION=garage BERTH_S3_BUCKET=berth BERTH_S3_ACCESS_KEY_ID=GKbenchcluster01 \
    BERTH_S3_SECRET_ACCESS_KEY=bench-cluster-secret-0123456789 BERTH_SHUTDOWN_GRACE_SECONDS=2 \
    "$TARGET_DIR/release/berth" serve >"$WORK/node$n.log" 2>&1 &
  PIDS+=($!)
  # Healthy, not just answering (the endpoint always answers 200): the bucket may still be coming up.
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/api/v2.0/health" | grep -q '^{"status":"healthy"' && return 0
    sleep 0.2
  done
  echo "node $n did not become healthy" >&2; cat "$WORK/node$n.log" >&2; exit 1
}
step "starting PostgreSQL, Garage and three nodes"
sleep 1
start_node 0   # migrates and creates the administrator alone
start_node 1
start_node 2

# haproxy over the first $1 nodes (restarted for each count).
HAPROXY_PID=""
balance_over() {
  local count="$1" servers=""
  for n in $(seq 0 $((count - 1))); do servers+="  server node$n 127.0.0.1:${NODE_PORTS[$n]} check"$'\n'; done
  cat >"$WORK/haproxy.cfg" <<CFG
global
  maxconn 4000
defaults
  mode http
  timeout connect 2s
  timeout client 300s
  timeout server 300s
  option forwardfor
frontend registry
  bind 127.0.0.1:$LB_PORT
  default_backend berth
backend berth
  balance roundrobin
  option httpchk GET /api/v2.0/health
  http-check expect rstring '^\{"status":"healthy"'
  default-server inter 1s fall 2 rise 1
$servers
CFG
  if [ -n "$HAPROXY_PID" ]; then kill "$HAPROXY_PID" 2>/dev/null || true; wait "$HAPROXY_PID" 2>/dev/null || true; fi
  haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
  HAPROXY_PID=$!
  PIDS+=("$HAPROXY_PID")
  wait_for "$LB/api/v2.0/health"
  sleep 2   # every server's first check
}
balance_over 3

# --- Content: a small public image and one large blob ------------------------
upload_blob() {
  local repo="$1" file="$2" digest="$3" location
  location="$(curl -fsS -u "$CREDS" -o /dev/null -D - -X POST "$LB/v2/$repo/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')"
  case "$location" in http*) ;; *) location="$LB$location" ;; esac
  case "$location" in *\?*) location="$location&digest=$digest" ;; *) location="$location?digest=$digest" ;; esac
  curl -fsS -u "$CREDS" -o /dev/null -H 'Content-Type: application/octet-stream' -T "$file" "$location"
}
step "pushing a small image and a ${BLOB_MB} MiB blob into the public library project"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$WORK/config.json"
head -c 4096 /dev/urandom > "$WORK/layer"
head -c "$((BLOB_MB * 1024 * 1024))" /dev/urandom > "$WORK/blob"
CONFIG_DIGEST="sha256:$(sha256sum "$WORK/config.json" | cut -d' ' -f1)"
LAYER_DIGEST="sha256:$(sha256sum "$WORK/layer" | cut -d' ' -f1)"
BLOB_DIGEST="sha256:$(sha256sum "$WORK/blob" | cut -d' ' -f1)"
upload_blob library/bench-app "$WORK/config.json" "$CONFIG_DIGEST"
upload_blob library/bench-app "$WORK/layer" "$LAYER_DIGEST"
upload_blob library/bench-app "$WORK/blob" "$BLOB_DIGEST"
cat > "$WORK/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$CONFIG_DIGEST","size":$(stat -c %s "$WORK/config.json")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$LAYER_DIGEST","size":4096}]}
JSON
curl -fsS -u "$CREDS" -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
  --data-binary @"$WORK/manifest.json" "$LB/v2/library/bench-app/manifests/latest"
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json'
TOKEN="$(curl -fsS -u "$CREDS" "$LB/service/token?service=127.0.0.1:$LB_PORT&scope=repository:library/bench-app:pull" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"

rps() {
  wrk -t2 -c"$1" -d"${DURATION}s" --latency -H "$ACCEPT" ${2:+-H "$2"} "$LB/v2/library/bench-app/manifests/latest" | awk '
    /Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
    END { printf "%s %s %s\n", rps, p50, p99 }'
}
# Four clients pull the blob at once; the sum of their speeds.
pull_mibps() {
  local pulls=()
  for n in 1 2 3 4; do
    curl -fsS -o /dev/null -w '%{speed_download}\n' "$LB/v2/library/bench-app/blobs/$BLOB_DIGEST" >"$WORK/speed$n" &
    pulls+=($!)
  done
  wait "${pulls[@]}"
  cat "$WORK"/speed[1-4] | awk '{ s += $1 } END { printf "%.1f\n", s / 1048576 }'
}

printf '\n%-7s %-30s %6s %12s %9s %9s\n' "nodes" "request" "conns" "req/s" "p50" "p99"
for count in 1 3; do
  balance_over "$count"
  for connections in 16 64; do
    read -r r p50 p99 < <(rps "$connections")
    printf '%-7s %-30s %6s %12s %9s %9s\n' "$count" "GET manifest by tag (anon)" "$connections" "$r" "$p50" "$p99"
    read -r r p50 p99 < <(rps "$connections" "Authorization: Bearer $TOKEN")
    printf '%-7s %-30s %6s %12s %9s %9s\n' "$count" "GET manifest, bearer token" "$connections" "$r" "$p50" "$p99"
  done
  printf '%-7s %-30s %6s %12s\n' "$count" "blob pull, 4 clients (MiB/s)" "4" "$(pull_mibps)"
done

# --- Database round trips per request, by kind --------------------------------
# Statements of the job runners' polling (every node, every 2 s) are left out;
# what else runs in the background is measured idle and subtracted.
count_statements() {
  "${PSQL[@]}" -d berth -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
    WHERE d.datname = 'berth' AND s.query NOT ILIKE '%job_%' AND s.query NOT ILIKE '%pg_stat_statements%'"
}
reset_statements() { "${PSQL[@]}" -d berth -c "SELECT pg_stat_statements_reset()" >/dev/null; }
REQUESTS=500
per_request() {
  local label="$1"; shift
  reset_statements
  local started ended idle
  started=$(date +%s.%N)
  "$@" >"$WORK/last-run.log" 2>&1 || { echo "failed: $*" >&2; cat "$WORK/last-run.log" >&2; exit 1; }
  ended=$(date +%s.%N)
  local counted; counted="$(count_statements)"
  idle="$(awk -v r="$IDLE_RATE" -v a="$started" -v b="$ended" 'BEGIN { printf "%.0f", r * (b - a) }')"
  awk -v c="$counted" -v i="$idle" -v n="$REQUESTS" -v l="$label" 'BEGIN { printf "%-40s %8.2f\n", l, (c - i) / n }'
}
reset_statements; sleep 5
IDLE_RATE="$(awk -v c="$(count_statements)" 'BEGIN { printf "%.3f", c / 5 }')"
balance_over 3
printf '\n%-40s %8s   (idle background: %s statements/s)\n' "request ($REQUESTS each, through 3 nodes)" "queries" "$IDLE_RATE"
per_request "GET manifest by tag, anonymous" ab -q -k -n "$REQUESTS" -c 4 -H "$ACCEPT" "$LB/v2/library/bench-app/manifests/latest"
per_request "HEAD manifest by tag, anonymous" ab -q -k -i -n "$REQUESTS" -c 4 -H "$ACCEPT" "$LB/v2/library/bench-app/manifests/latest"
per_request "GET manifest, bearer token" ab -q -k -n "$REQUESTS" -c 4 -H "$ACCEPT" -H "Authorization: Bearer $TOKEN" "$LB/v2/library/bench-app/manifests/latest"
per_request "HEAD blob, anonymous" ab -q -k -i -n "$REQUESTS" -c 4 "$LB/v2/library/bench-app/blobs/$LAYER_DIGEST"
per_request "GET blob (4 KiB), anonymous" ab -q -k -n "$REQUESTS" -c 4 "$LB/v2/library/bench-app/blobs/$LAYER_DIGEST"
per_request "GET /v2/ with Basic (verified password)" ab -q -k -n "$REQUESTS" -c 4 -A "$CREDS" "$LB/v2/"
per_request "GET /service/token with Basic" ab -q -k -n "$REQUESTS" -c 4 -A "$CREDS" "$LB/service/token?service=127.0.0.1:$LB_PORT&scope=repository:library/bench-app:pull"
per_request "PUT manifest (same tag again)" ab -q -k -n "$REQUESTS" -c 4 -A "$CREDS" -u "$WORK/manifest.json" -T application/vnd.oci.image.manifest.v1+json "$LB/v2/library/bench-app/manifests/latest"

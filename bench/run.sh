#!/usr/bin/env bash
# Runs a release Berth and Debian's docker-registry (distribution 2.8) side by
# side on loopback and load-tests the same requests against both with wrk,
# printing requests/s, p50 and p99 for each and Berth's ratio. Manifest reads
# are also compared with nginx serving the same bytes as a static file (the
# ceiling), and it prints Berth's resident memory (fresh and after the run) and
# the CPU seconds each registry spends per GiB pushed and pulled.
# Usage: bench/run.sh [seconds-per-run]   (default 10)
#        BENCH_BLOB_MB=1024 sets the size of the blob pushed and pulled (default 1024);
#        BENCH_TAGS=100000 how many tags the tag-listing pages are read from.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

DURATION="${1:-10}"
BLOB_MB="${BENCH_BLOB_MB:-1024}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
apt_install docker-registry wrk curl apache2-utils nginx
ensure_rust
step "building berth (release)"
cargo build --release -p server --bin berth

source "$REPO_ROOT/bench/lib.sh"

BERTH_PORT="$(free_port)"
# Berth needs credentials to push; pulls from its public `library` project are
# anonymous, like every request to the unauthenticated distribution.
ADMIN_PASSWORD="Bench-Passw0rd"
CREDS="admin:$ADMIN_PASSWORD"
BASIC="Authorization: Basic $(printf '%s' "$CREDS" | base64 -w0)"
BERTH_LISTEN="127.0.0.1:$BERTH_PORT" BERTH_DATA_DIR="$WORK/berth" BERTH_LOG_LEVEL=warn \
  BERTH_ADMIN_PASSWORD="$ADMIN_PASSWORD" "$TARGET_DIR/release/berth" serve >"$WORK/berth.log" 2>&1 &
BERTH_PID=$!
PIDS+=("$BERTH_PID")

start_distribution

wait_for "http://127.0.0.1:$BERTH_PORT/api/v2.0/health"
wait_for "http://127.0.0.1:$REGISTRY_PORT/v2/"
RSS_FRESH="$(rss_kib "$BERTH_PID")"

# Prints "rps p50 p99" for one load run: GET through wrk; HEAD through ab,
# since wrk waits for a body on HEAD (ab's percentiles are whole milliseconds).
measure() {
  local url="$1" connections="$2" method="$3" header="${4:-}" threads=2
  [ "$connections" -lt 2 ] && threads=1
  if [ "$method" = HEAD ]; then
    ab -q -i -k -c "$connections" -t "$DURATION" -n 10000000 ${header:+-H "$header"} "$url" 2>/dev/null | awk '
      /Requests per second/ { rps = $4 }
      $1 == "50%" { p50 = $2 "ms" }
      $1 == "99%" { p99 = $2 "ms" }
      END { printf "%s %s %s\n", rps, p50, p99 }'
    return
  fi
  wrk -t"$threads" -c"$connections" -d"${DURATION}s" --latency ${header:+-H "$header"} "$url" | awk '
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = $2 }
    $1 == "99%" { p99 = $2 }
    END { printf "%s %s %s\n", rps, p50, p99 }'
}

table_header() {
  printf '\n%-28s %5s %14s %10s %10s %14s %10s %10s %8s\n' \
    "request" "conns" "berth req/s" "p50" "p99" "distrib req/s" "p50" "p99" "ratio"
}

# One table row per connection count: the same request against both registries.
compare() {
  local label="$1" path="$2" method="$3" header="${4:-}"
  for connections in 1 16 64; do
    read -r b_rps b_p50 b_p99 < <(measure "http://127.0.0.1:$BERTH_PORT$path" "$connections" "$method" "$header")
    read -r d_rps d_p50 d_p99 < <(measure "http://127.0.0.1:$REGISTRY_PORT$path" "$connections" "$method" "$header")
    ratio="$(awk -v b="$b_rps" -v d="$d_rps" 'BEGIN { printf "%.2fx", (d > 0 ? b / d : 0) }')"
    printf '%-28s %5s %14s %10s %10s %14s %10s %10s %8s\n' \
      "$label" "$connections" "$b_rps" "$b_p50" "$b_p99" "$d_rps" "$d_p50" "$d_p99" "$ratio"
  done
}

table_header
# Berth answers 401 to anonymous callers here; the Basic header makes it check
# credentials on every request (distribution ignores the header).
compare "GET /v2/ (API version check)" /v2/ GET "$BASIC"

# Blob push (POST, then one PUT carrying the whole blob) and pull, measured by curl.
step "blob push and pull, ${BLOB_MB} MiB of random data"
head -c "$((BLOB_MB * 1024 * 1024))" /dev/urandom > "$WORK/blob"
DIGEST="sha256:$(sha256sum "$WORK/blob" | cut -d' ' -f1)"

# Prints "push_MBps pull_MBps push_cpu pull_cpu" for the registry at BASE
# (process PID): throughputs as curl sees them, and the server's CPU seconds
# (user + system) per GiB moved.
blob_transfer() {
  local base="$1" pid="$2" push pull before middle after
  before="$(cpu_seconds "$pid")"
  push="$(upload_blob "$base" library/bench-blob "$WORK/blob" "$DIGEST")"
  middle="$(cpu_seconds "$pid")"
  pull="$(curl -fsS -o /dev/null -w '%{speed_download}' "$base/v2/library/bench-blob/blobs/$DIGEST")"
  after="$(cpu_seconds "$pid")"
  awk -v a="$push" -v b="$pull" -v s="$before" -v m="$middle" -v e="$after" -v gib="$(awk -v mb="$BLOB_MB" 'BEGIN { print mb / 1024 }')" \
    'BEGIN { printf "%.1f %.1f %.2f %.2f\n", a / 1048576, b / 1048576, (m - s) / gib, (e - m) / gib }'
}

read -r b_push b_pull b_push_cpu b_pull_cpu < <(blob_transfer "http://127.0.0.1:$BERTH_PORT" "$BERTH_PID")
read -r d_push d_pull d_push_cpu d_pull_cpu < <(blob_transfer "http://127.0.0.1:$REGISTRY_PORT" "$REGISTRY_PID")
ratio() { awk -v b="$1" -v d="$2" 'BEGIN { printf "%.2fx", (d > 0 ? b / d : 0) }'; }
printf '\n%-10s %14s %14s %8s %16s %16s %8s\n' "blob" "berth MiB/s" "distrib MiB/s" "ratio" "berth CPU s/GiB" "distrib CPU s/GiB" "ratio"
printf '%-10s %14s %14s %8s %16s %16s %8s\n' "push" "$b_push" "$d_push" "$(ratio "$b_push" "$d_push")" \
  "$b_push_cpu" "$d_push_cpu" "$(ratio "$b_push_cpu" "$d_push_cpu")"
printf '%-10s %14s %14s %8s %16s %16s %8s\n' "pull" "$b_pull" "$d_pull" "$(ratio "$b_pull" "$d_pull")" \
  "$b_pull_cpu" "$d_pull_cpu" "$(ratio "$b_pull_cpu" "$d_pull_cpu")"

# Manifest GET and HEAD of a small image (a config and one layer) by tag.
step "manifest requests"
for base in "http://127.0.0.1:$BERTH_PORT" "http://127.0.0.1:$REGISTRY_PORT"; do
  push_small_image "$base" library/bench-app latest
done
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json'
table_header
compare "GET manifest by tag" /v2/library/bench-app/manifests/latest GET "$ACCEPT"
compare "HEAD manifest by tag" /v2/library/bench-app/manifests/latest HEAD "$ACCEPT"

# The ceiling: nginx serving the same bytes as a static file, with the same
# content type, on the same path.
start_nginx "$WORK/manifest.json" /v2/library/bench-app/manifests/latest application/vnd.oci.image.manifest.v1+json
wait_for "http://127.0.0.1:$NGINX_PORT/v2/library/bench-app/manifests/latest"
# One row per connection count: Berth against nginx for the same request.
against_nginx() {
  local label="$1" path="$2" method="$3" header="${4:-}"
  for connections in 1 16 64; do
    read -r b_rps b_p50 b_p99 < <(measure "http://127.0.0.1:$BERTH_PORT$path" "$connections" "$method" "$header")
    read -r n_rps n_p50 n_p99 < <(measure "http://127.0.0.1:$NGINX_PORT/v2/library/bench-app/manifests/latest" "$connections" "$method")
    printf '%-28s %5s %14s %10s %10s %14s %10s %10s %8s\n' \
      "$label" "$connections" "$b_rps" "$b_p50" "$b_p99" "$n_rps" "$n_p50" "$n_p99" "$(ratio "$b_rps" "$n_rps")"
  done
}
printf '\n%-28s %5s %14s %10s %10s %14s %10s %10s %8s\n' \
  "request" "conns" "berth req/s" "p50" "p99" "nginx req/s" "p50" "p99" "of nginx"
against_nginx "GET manifest by tag" /v2/library/bench-app/manifests/latest GET "$ACCEPT"
against_nginx "HEAD manifest by tag" /v2/library/bench-app/manifests/latest HEAD "$ACCEPT"
# The same GET with a registry token, as docker sends it: besides the token's
# scopes Berth asks whether the holder may still pull (the answer is kept 2 s),
# so this row is the cost of revocation (distribution ignores the header).
TOKEN="$(curl -fsS -u "$CREDS" "http://127.0.0.1:$BERTH_PORT/service/token?service=127.0.0.1:$BERTH_PORT&scope=repository:library/bench-app:pull" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
compare "GET manifest, bearer token" /v2/library/bench-app/manifests/latest GET "Authorization: Bearer $TOKEN"
against_nginx "GET manifest, bearer token" /v2/library/bench-app/manifests/latest GET "Authorization: Bearer $TOKEN"

# Tag listing with many tags (distribution 2.8 ignores `n` and `last` and
# answers every tag, so its numbers are for the whole list): the same manifest under
# BENCH_TAGS tags (default 100000), then one page from the middle of the list.
TAGS="${BENCH_TAGS:-100000}"
step "tagging the manifest $TAGS times in each registry"
python3 - "$TAGS" "$WORK/manifest.json" "$BASIC" "127.0.0.1:$BERTH_PORT" "127.0.0.1:$REGISTRY_PORT" <<'PY'
import http.client, sys, threading, time
count, manifest = int(sys.argv[1]), open(sys.argv[2], "rb").read()
auth = sys.argv[3].split(": ", 1)[1]
def tag(host, first, step):
    conn = http.client.HTTPConnection(host)
    for i in range(first, count, step):
        conn.request("PUT", f"/v2/library/bench-app/manifests/tag-{i:06d}", manifest,
                     {"Content-Type": "application/vnd.oci.image.manifest.v1+json", "Authorization": auth})
        response = conn.getresponse(); response.read()
        if response.status != 201: sys.exit(f"{host}: tag {i}: {response.status}")
for name, host in zip(["berth", "distribution"], sys.argv[4:]):
    started = time.monotonic()
    workers = [threading.Thread(target=tag, args=(host, n, 4)) for n in range(4)]
    for w in workers: w.start()
    for w in workers: w.join()
    elapsed = time.monotonic() - started
    print(f"{name}: {count} tag PUTs in {elapsed:.1f} s ({count / elapsed:.0f}/s, 4 connections)")
PY
MIDDLE="tag-$(printf '%06d' $((TAGS / 2)))"
table_header
compare "tags page (n=100, middle)" "/v2/library/bench-app/tags/list?n=100&last=$MIDDLE" GET

RSS_AFTER="$(rss_kib "$BERTH_PID")"
printf '\nberth resident memory: %s MiB fresh, %s MiB after the run (%s)\n' \
  "$((RSS_FRESH / 1024))" "$((RSS_AFTER / 1024))" "$(ratio "$RSS_AFTER" "$RSS_FRESH")"

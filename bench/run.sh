#!/usr/bin/env bash
# Runs a release Berth and Debian's docker-registry (distribution 2.8) side by
# side on loopback and load-tests the same requests against both with wrk,
# printing requests/s, p50 and p99 for each and Berth's ratio.
# Usage: bench/run.sh [seconds-per-run]   (default 10)
#        BENCH_BLOB_MB=1024 sets the size of the blob pushed and pulled (default 1024);
#        BENCH_TAGS=100000 how many tags the tag-listing pages are read from.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

DURATION="${1:-10}"
BLOB_MB="${BENCH_BLOB_MB:-1024}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
apt_install docker-registry wrk curl apache2-utils
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
PIDS+=($!)

start_distribution

wait_for "http://127.0.0.1:$BERTH_PORT/api/v2.0/health"
wait_for "http://127.0.0.1:$REGISTRY_PORT/v2/"

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

# Uploads FILE with DIGEST to REPO (POST, then one PUT); prints curl's upload speed in bytes/s.
upload_blob() {
  local base="$1" repo="$2" file="$3" digest="$4" location
  location="$(curl -fsS -u "$CREDS" -o /dev/null -D - -X POST "$base/v2/$repo/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')"
  case "$location" in http*) ;; *) location="$base$location" ;; esac
  case "$location" in *\?*) location="$location&digest=$digest" ;; *) location="$location?digest=$digest" ;; esac
  # -T streams the file; --data-binary would read all of it into memory first.
  curl -fsS -u "$CREDS" -o /dev/null -w '%{speed_upload}' -H 'Content-Type: application/octet-stream' -T "$file" "$location"
}

# Prints "push_MBps pull_MBps" for one registry.
blob_transfer() {
  local base="$1" push pull
  push="$(upload_blob "$base" library/bench-blob "$WORK/blob" "$DIGEST")"
  pull="$(curl -fsS -o /dev/null -w '%{speed_download}' "$base/v2/library/bench-blob/blobs/$DIGEST")"
  awk -v a="$push" -v b="$pull" 'BEGIN { printf "%.1f %.1f\n", a / 1048576, b / 1048576 }'
}

read -r b_push b_pull < <(blob_transfer "http://127.0.0.1:$BERTH_PORT")
read -r d_push d_pull < <(blob_transfer "http://127.0.0.1:$REGISTRY_PORT")
printf '\n%-10s %14s %14s %8s\n' "blob" "berth MiB/s" "distrib MiB/s" "ratio"
printf '%-10s %14s %14s %8s\n' "push" "$b_push" "$d_push" "$(awk -v b="$b_push" -v d="$d_push" 'BEGIN { printf "%.2fx", b / d }')"
printf '%-10s %14s %14s %8s\n' "pull" "$b_pull" "$d_pull" "$(awk -v b="$b_pull" -v d="$d_pull" 'BEGIN { printf "%.2fx", b / d }')"

# Manifest GET and HEAD of a small image (a config and one layer) by tag.
step "manifest requests"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$WORK/config.json"
head -c 4096 /dev/urandom > "$WORK/layer"
CONFIG_DIGEST="sha256:$(sha256sum "$WORK/config.json" | cut -d' ' -f1)"
LAYER_DIGEST="sha256:$(sha256sum "$WORK/layer" | cut -d' ' -f1)"
cat > "$WORK/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$CONFIG_DIGEST","size":$(stat -c %s "$WORK/config.json")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$LAYER_DIGEST","size":4096}]}
JSON
for base in "http://127.0.0.1:$BERTH_PORT" "http://127.0.0.1:$REGISTRY_PORT"; do
  upload_blob "$base" library/bench-app "$WORK/config.json" "$CONFIG_DIGEST" >/dev/null
  upload_blob "$base" library/bench-app "$WORK/layer" "$LAYER_DIGEST" >/dev/null
  curl -fsS -u "$CREDS" -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$WORK/manifest.json" "$base/v2/library/bench-app/manifests/latest"
done
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json'
table_header
compare "GET manifest by tag" /v2/library/bench-app/manifests/latest GET "$ACCEPT"
compare "HEAD manifest by tag" /v2/library/bench-app/manifests/latest HEAD "$ACCEPT"
# The same GET with a registry token, as docker sends it: besides the token's
# scopes Berth asks whether the holder may still pull (the answer is kept 2 s),
# so this row is the cost of revocation (distribution ignores the header).
TOKEN="$(curl -fsS -u "$CREDS" "http://127.0.0.1:$BERTH_PORT/service/token?service=127.0.0.1:$BERTH_PORT&scope=repository:library/bench-app:pull" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
compare "GET manifest, bearer token" /v2/library/bench-app/manifests/latest GET "Authorization: Bearer $TOKEN"

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

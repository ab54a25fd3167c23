# Shared by the side-by-side benchmarks (run.sh, gc.sh): a scratch directory
# and the processes started in it, removed and stopped on exit; free ports;
# waiting for a server; distribution 2.8 on filesystem storage and nginx
# serving one file; a process's memory and CPU time. Sourced after
# scripts/lib.sh.

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 1 100); do curl -fs "$1" >/dev/null && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }

# Starts Debian's docker-registry (deletes enabled) on a free port with its
# data and config in $WORK/<name> (default "registry"); sets REGISTRY_PORT
# and REGISTRY_PID.
start_distribution() {
  local name="${1:-registry}"
  REGISTRY_PORT="$(free_port)"
  cat >"$WORK/$name.yml" <<YAML
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage:
  filesystem: { rootdirectory: $WORK/$name }
  delete: { enabled: true }
http: { addr: 127.0.0.1:$REGISTRY_PORT }
YAML
  docker-registry serve "$WORK/$name.yml" >"$WORK/$name.log" 2>&1 &
  REGISTRY_PID=$!
  PIDS+=("$REGISTRY_PID")
}

# Starts nginx (2 workers, no access log) on a free port serving FILE at URL
# path PATH with content type TYPE; sets NGINX_PORT.
start_nginx() {
  local file="$1" path="$2" type="$3"
  NGINX_PORT="$(free_port)"
  mkdir -p "$WORK/nginx/root$(dirname "$path")"
  cp "$file" "$WORK/nginx/root$path"
  cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
user $(id -un);
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log error;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/nginx/root;
    location / { default_type $type; }
  }
}
CONF
  nginx -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
  PIDS+=($!)
}

# Resident memory of process PID in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# CPU seconds (user + system) process PID has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat"; }

# Uploads FILE with DIGEST to REPO at BASE as $CREDS (POST, then one PUT);
# prints curl's upload speed in bytes/s.
upload_blob() {
  local base="$1" repo="$2" file="$3" digest="$4" location
  location="$(curl -fsS -u "$CREDS" -o /dev/null -D - -X POST "$base/v2/$repo/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')"
  case "$location" in http*) ;; *) location="$base$location" ;; esac
  case "$location" in *\?*) location="$location&digest=$digest" ;; *) location="$location?digest=$digest" ;; esac
  # -T streams the file; --data-binary would read all of it into memory first.
  curl -fsS -u "$CREDS" -o /dev/null -w '%{speed_upload}' -H 'Content-Type: application/octet-stream' -T "$file" "$location"
}

# Pushes a small OCI image (a config and one 4 KiB layer) to REPO:TAG at BASE
# as $CREDS; its manifest is $WORK/manifest.json (the same for every call).
push_small_image() {
  local base="$1" repo="$2" tag="$3" config_digest layer_digest
  if [ ! -f "$WORK/manifest.json" ]; then
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' > "$WORK/config.json"
    head -c 4096 /dev/urandom > "$WORK/layer"
  fi
  config_digest="sha256:$(sha256sum "$WORK/config.json" | cut -d' ' -f1)"
  layer_digest="sha256:$(sha256sum "$WORK/layer" | cut -d' ' -f1)"
  cat > "$WORK/manifest.json" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config_digest","size":$(stat -c %s "$WORK/config.json")},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"$layer_digest","size":4096}]}
JSON
  upload_blob "$base" "$repo" "$WORK/config.json" "$config_digest" >/dev/null
  upload_blob "$base" "$repo" "$WORK/layer" "$layer_digest" >/dev/null
  curl -fsS -u "$CREDS" -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' \
    --data-binary @"$WORK/manifest.json" "$base/v2/$repo/manifests/$tag"
}

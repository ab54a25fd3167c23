#!/usr/bin/env bash
# Server render time of the portal's pages: a release Berth (SQLite,
# temporary data directory) is filled by real pushes — BENCH_PROJECTS
# projects, one with 30 members and 30 robot accounts and a repository of
# BENCH_ARTIFACTS artifacts of which the newest BENCH_TAGGED are tagged —
# then each page is fetched BENCH_REQUESTS
# times, one after another, as a signed-in administrator. Prints p50, p99
# and the mean of the whole server-side render (HTML complete) per page,
# and the server's resident memory fresh and at the end.
# With BENCH_SEED_ARTIFACTS and BENCH_SEED_PROJECTS the server is then
# stopped and the database grown to that many artifacts in big/app and that
# many projects by inserting rows directly (real pushes of 10^6 artifacts
# would take hours), the way pushes store them, before the pages are timed.
# Usage: bench/portal.sh   (BENCH_ARTIFACTS=10000 BENCH_TAGGED=1000 BENCH_PROJECTS=50 BENCH_REQUESTS=200
#                           BENCH_SEED_ARTIFACTS=1000000 BENCH_SEED_PROJECTS=10000)
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

ARTIFACTS="${BENCH_ARTIFACTS:-10000}"
TAGGED="${BENCH_TAGGED:-1000}"
PROJECTS="${BENCH_PROJECTS:-50}"
REQUESTS="${BENCH_REQUESTS:-200}"
SEED_ARTIFACTS="${BENCH_SEED_ARTIFACTS:-0}"
SEED_PROJECTS="${BENCH_SEED_PROJECTS:-0}"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
ensure_rust
ensure_cargo_leptos
npm_install_in "$REPO_ROOT"
step "building berth and the portal (release)"
cargo leptos build --release

WORK="$(mktemp -d)"
PID=""
cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PASSWORD="Bench-Passw0rd"
start_berth() {
  BERTH_LISTEN="127.0.0.1:$PORT" BERTH_DATA_DIR="$WORK/data" BERTH_LOG_LEVEL=warn BERTH_ADMIN_PASSWORD="$PASSWORD" \
    BERTH_SITE_ROOT="$REPO_ROOT/target/site" "$TARGET_DIR/release/berth" serve >>"$WORK/berth.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/api/v2.0/health" >/dev/null && break; sleep 0.1; done
}
start_berth
rss_mib() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$PID/status"; }
RSS_FRESH="$(rss_mib)"

step "filling: $PROJECTS projects, $ARTIFACTS artifacts ($TAGGED tagged) in big/app"
python3 - "127.0.0.1:$PORT" "$PASSWORD" "$ARTIFACTS" "$TAGGED" "$PROJECTS" "$REQUESTS" <<'PY'
import base64, hashlib, http.client, json, sys, threading, time

host, password, artifacts, tagged, projects, requests = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
auth = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()

def call(conn, method, path, body=None, headers=None):
    conn.request(method, path, body, {"Authorization": auth, **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    if response.status >= 400:
        sys.exit(f"{method} {path}: {response.status} {data[:200]!r}")
    return response, data

conn = http.client.HTTPConnection(host)
for n in range(projects):
    call(conn, "POST", "/api/v2.0/projects", json.dumps({"project_name": f"team{n:03d}"}), {"Content-Type": "application/json"})
call(conn, "POST", "/api/v2.0/projects", json.dumps({"project_name": "big"}), {"Content-Type": "application/json"})
json_type = {"Content-Type": "application/json"}
for n in range(30):
    call(conn, "POST", "/api/v2.0/users", json.dumps({"username": f"user{n:02d}", "password": "Bench-Passw0rd",
         "email": f"user{n:02d}@example.com", "realname": f"User {n}"}), json_type)
    call(conn, "POST", "/api/v2.0/projects/big/members",
         json.dumps({"role_id": 2, "member_user": {"username": f"user{n:02d}"}}), json_type)
    call(conn, "POST", "/api/v2.0/robots", json.dumps({"name": f"bot{n:02d}", "level": "project", "duration": -1,
         "permissions": [{"kind": "project", "namespace": "big",
                          "access": [{"resource": "repository", "action": "pull"}]}]}), json_type)
config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
layer = b"bench layer"
for blob in (config, layer):
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    call(conn, "POST", f"/v2/big/app/blobs/uploads/?digest={digest}", blob)

def manifest(n):
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(), "size": len(layer)}],
        "annotations": {"build": str(n)},
    }).encode()

def push(first, step):
    c = http.client.HTTPConnection(host)
    for n in range(first, artifacts, step):
        body = manifest(n)
        reference = f"v{n:05d}" if n >= artifacts - tagged else "sha256:" + hashlib.sha256(body).hexdigest()
        call(c, "PUT", f"/v2/big/app/manifests/{reference}", body,
             {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})

started = time.monotonic()
workers = [threading.Thread(target=push, args=(n, 4)) for n in range(4)]
for w in workers: w.start()
for w in workers: w.join()
print(f"pushed {artifacts} manifests in {time.monotonic() - started:.1f} s")
PY

if [ "$SEED_ARTIFACTS" -gt "$ARTIFACTS" ] || [ "$SEED_PROJECTS" -gt "$PROJECTS" ]; then
  step "seeding the database directly: $SEED_ARTIFACTS artifacts in big/app, $SEED_PROJECTS projects"
  kill "$PID"; wait "$PID" 2>/dev/null || true
  python3 - "$WORK/data/berth.db" "$SEED_ARTIFACTS" "$SEED_PROJECTS" "$ARTIFACTS" <<'PY'
import hashlib, json, sqlite3, sys, time

path, artifacts, projects, pushed = sys.argv[1], *map(int, sys.argv[2:])
db = sqlite3.connect(path)
started = time.monotonic()
# Copies of what a push stored (the first pushed artifact), with their own
# annotation, digest and time; untagged, older than everything pushed.
repository, media_type, config, layers, created = db.execute(
    "SELECT m.repository_id, m.media_type, json_extract(m.content, '$.config'), json_extract(m.content, '$.layers'), "
    "m.created_at FROM manifests m JOIN repositories r ON r.id = m.repository_id "
    "WHERE r.name = 'big/app' ORDER BY m.id LIMIT 1").fetchone()
config, layers = json.loads(config), json.loads(layers)
references = [config["digest"]] + [l["digest"] for l in layers]

def rows(first, count):
    for n in range(first, first + count):
        content = json.dumps({"schemaVersion": 2, "mediaType": media_type, "config": config,
                              "layers": layers, "annotations": {"seed": str(n)}}).encode()
        stamp = f"2020-01-01T00:00:00.{n % 1000000:06d}+00:00"
        yield (repository, "sha256:" + hashlib.sha256(content).hexdigest(), media_type, len(content), content, stamp)

with db:
    for start in range(0, max(0, artifacts - pushed), 50000):
        count = min(50000, artifacts - pushed - start)
        batch = list(rows(start, count))
        db.executemany("INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at, "
                       "touched_at, listed) VALUES (?, ?, ?, ?, ?, ?, ?, TRUE)",
                       [(r, d, m, s, c, t, t) for (r, d, m, s, c, t) in batch])
        db.executemany("INSERT INTO manifest_references (manifest_id, digest, kind) "
                       "SELECT id, ?, 'blob' FROM manifests WHERE repository_id = ? AND digest = ?",
                       [(ref, r, d) for (r, d, *_) in batch for ref in references])
    existing = db.execute("SELECT COUNT(*) FROM projects").fetchone()[0]
    db.executemany("INSERT INTO projects (name, public, created_at, updated_at) VALUES (?, FALSE, ?, ?)",
                   [(f"seeded{n:06d}", created, created) for n in range(max(0, projects - existing))])
print(f"seeded in {time.monotonic() - started:.1f} s: "
      f"{db.execute('SELECT COUNT(*) FROM manifests').fetchone()[0]} manifests, "
      f"{db.execute('SELECT COUNT(*) FROM projects').fetchone()[0]} projects")
PY
  start_berth
  ARTIFACTS="$SEED_ARTIFACTS"
fi

python3 - "127.0.0.1:$PORT" "$PASSWORD" "$ARTIFACTS" "$REQUESTS" <<'PY'
import http.client, statistics, sys, time, urllib.parse

host, password, artifacts, requests = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
conn = http.client.HTTPConnection(host)
# Sign in to the portal as the administrator; keep the session cookie.
conn.request("POST", "/portal/fn/login", urllib.parse.urlencode({"username": "admin", "password": password}),
             {"Content-Type": "application/x-www-form-urlencoded"})
response = conn.getresponse(); response.read()
cookie = response.getheader("Set-Cookie").split(";", 1)[0]

def render(path):
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        sys.exit(f"GET {path}: {response.status}")
    return body

# A page deep in the artifact list (the middle, at most 400 pages in),
# reached by following Next links.
depth = min(artifacts // 25 // 2, 400)
page = render("/projects/big/repositories/app").decode()
for _ in range(depth):
    marker = page.find('rel="next"')
    href = page[page.rfind('href="', 0, marker) + 6:]
    href = href[:href.find('"')].replace("&amp;", "&")
    page = render(href).decode()
middle = href
first = render("/projects/big/repositories/app").decode()
link = "/projects/big/repositories/app/artifacts/"
newest = first[first.find(link) + len(link):]
newest = newest[:newest.find('"')]

pages = [
    ("dashboard", "/"),
    ("projects list", "/projects"),
    ("project summary", "/projects/big"),
    (f"repository, first page ({artifacts} artifacts)", "/projects/big/repositories/app"),
    (f"repository, page {depth + 1}", middle),
    ("repository, tag filter", "/projects/big/repositories/app?tag=v09"),
    ("artifact (newest, tagged)", f"/projects/big/repositories/app/artifacts/{newest}"),
    ("project members", "/projects/big/members"),
    ("project robot accounts", "/projects/big/robots"),
]
print(f"\n{'page':48} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}   ({requests} requests each, one connection)")
for label, path in pages:
    render(path)  # warm
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        render(path)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{label:48} {statistics.median(times):8.2f} {p99:8.2f} {statistics.mean(times):8.2f}")
PY

printf '\nberth resident memory: %s MiB fresh, %s MiB after filling and rendering\n' "$RSS_FRESH" "$(rss_mib)"

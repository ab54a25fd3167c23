"""Tag retention at scale: seeds one repository with many artifacts over the
registry API and times a retention policy's dry run and real run over REST.

    retention_load.py seed BASE --auth HEADER --artifacts N [--threads T]
    retention_load.py retain BASE --auth HEADER --keep K

`seed` pushes one config and one layer to bench/app, then N manifests that
share them (each made unique by an annotation), each tagged `t<i>`, with T
threads over keep-alive connections. `retain` creates a policy keeping the
K most recently pushed (every tag selected), runs it dry and for real,
follows each execution to its end, and prints one JSON line per run with the
server's own start and end times and what it counted.
"""

import argparse
import hashlib
import http.client
import json
import sys
import threading
import time
import urllib.parse
from datetime import datetime

CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
LAYER = b"retention benchmark layer\n" * 64
MEDIA = "application/vnd.oci.image.manifest.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Client:
    def __init__(self, base: str, auth: str):
        url = urllib.parse.urlparse(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        self.auth = auth

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.auth:
            headers["Authorization"] = self.auth
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        # The headers as http.client keeps them: looked up case-insensitively.
        return response.status, response.msg, data


def push_blob(client: Client, repo: str, data: bytes):
    status, _, body = client.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest(data)}", data,
                                     {"Content-Type": "application/octet-stream"})
    if status != 201:
        raise SystemExit(f"blob push answered {status}: {body[:200]!r}")


def manifest(i: int) -> bytes:
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": MEDIA,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(CONFIG), "size": len(CONFIG)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(LAYER), "size": len(LAYER)}],
        "annotations": {"bench.index": str(i)},
    }).encode()


def seed(args):
    first = Client(args.base, args.auth)
    status, _, body = first.request("POST", "/api/v2.0/projects", json.dumps({"project_name": "bench"}),
                                    {"Content-Type": "application/json"})
    if status not in (201, 409):
        raise SystemExit(f"creating the project answered {status}: {body[:200]!r}")
    push_blob(first, "bench/app", CONFIG)
    push_blob(first, "bench/app", LAYER)
    counter = iter(range(args.artifacts))
    lock = threading.Lock()
    failures = []

    def worker():
        client = Client(args.base, args.auth)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            status, _, body = client.request("PUT", f"/v2/bench/app/manifests/t{i:06d}", manifest(i),
                                             {"Content-Type": MEDIA})
            if status != 201:
                failures.append((i, status, body[:200]))
                return

    started = time.time()
    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"pushes failed: {failures[:3]}")
    elapsed = time.time() - started
    print(f"seeded {args.artifacts} artifacts in {elapsed:.1f} s ({args.artifacts / elapsed:.0f} manifests/s)")


def seconds(execution) -> float:
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (parse(execution["end_time"]) - parse(execution["start_time"])).total_seconds()


def retain(args):
    client = Client(args.base, args.auth)
    _, _, body = client.request("GET", "/api/v2.0/projects/bench")
    project_id = json.loads(body)["project_id"]
    policy = {
        "algorithm": "or",
        "rules": [{
            "disabled": False, "action": "retain", "template": "latestPushedK", "params": {"latestPushedK": args.keep},
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        }],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
        "scope": {"level": "project", "ref": project_id},
    }
    status, headers, body = client.request("POST", "/api/v2.0/retentions", json.dumps(policy),
                                           {"Content-Type": "application/json"})
    if status != 201:
        raise SystemExit(f"creating the policy answered {status}: {body[:300]!r}")
    policy_id = headers.get("Location").rsplit("/", 1)[1]
    for dry_run in (True, False):
        status, headers, body = client.request("POST", f"/api/v2.0/retentions/{policy_id}/executions",
                                               json.dumps({"dry_run": dry_run}), {"Content-Type": "application/json"})
        if status != 201:
            raise SystemExit(f"starting the run answered {status}: {body[:300]!r}")
        execution_id = headers.get("Location").rsplit("/", 1)[1]
        deadline = time.time() + args.timeout
        while True:
            _, _, body = client.request("GET", f"/api/v2.0/retentions/{policy_id}/executions?page_size=100")
            execution = next(e for e in json.loads(body) if str(e["id"]) == execution_id)
            if execution["status"] not in ("Pending", "Running"):
                break
            if time.time() > deadline:
                raise SystemExit(f"the run did not end within {args.timeout} s")
            time.sleep(0.2)
        _, _, body = client.request("GET", f"/api/v2.0/retentions/{policy_id}/executions/{execution_id}/tasks")
        task = json.loads(body)[0]
        print(json.dumps({
            "run": "dry" if dry_run else "real",
            "status": execution["status"],
            "seconds": round(seconds(execution), 2),
            "total": task["total"],
            "retained": task["retained"],
            "deleted": task["total"] - task["retained"],
        }))


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    seeding = commands.add_parser("seed")
    seeding.add_argument("base")
    seeding.add_argument("--auth", default="")
    seeding.add_argument("--artifacts", type=int, default=100_000)
    seeding.add_argument("--threads", type=int, default=8)
    retaining = commands.add_parser("retain")
    retaining.add_argument("base")
    retaining.add_argument("--auth", default="")
    retaining.add_argument("--keep", type=int, default=10)
    retaining.add_argument("--timeout", type=int, default=3600)
    args = parser.parse_args()
    {"seed": seed, "retain": retain}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

"""Load for bench/gc.sh: fills registries with images, deletes half of them,
runs Berth's garbage collection and measures throughput while it runs.

    gc_load.py seed URL [URL...] --manifests N --layers L [--auth BASIC] [--prefix P]
    gc_load.py collect URL --auth BASIC
    gc_load.py throughput URL --auth BASIC --seconds S

Every blob is unique (a counter and random bytes), so deleting half of the
manifests leaves exactly their blobs unreferenced. Stdlib only.
"""

import argparse
import datetime
import hashlib
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

THREADS = 8
LAYER = "application/vnd.oci.image.layer.v1.tar"
IMAGE = "application/vnd.oci.image.manifest.v1+json"
_local = threading.local()


def connection(base):
    """This thread's keep-alive connection to `base`."""
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    if base not in pool:
        host = urllib.parse.urlparse(base).netloc
        pool[base] = http.client.HTTPConnection(host, timeout=120)
    return pool[base]


def request(base, method, path, auth, body=None, headers=None, expect=(200,)):
    headers = dict(headers or {})
    if auth:
        headers["Authorization"] = auth
    for attempt in range(3):
        conn = connection(base)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            break
        except (ConnectionError, http.client.HTTPException):
            conn.close()
            _local.pool.pop(base, None)
            if attempt == 2:
                raise
    if response.status not in expect:
        raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
    return response, data


def push_blob(base, auth, repo, content):
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    response, _ = request(base, "POST", f"/v2/{repo}/blobs/uploads/", auth, expect=(202,))
    location = response.getheader("Location")
    parsed = urllib.parse.urlparse(location)
    path = parsed.path + ("?" + parsed.query + "&" if parsed.query else "?") + "digest=" + digest
    request(base, "PUT", path, auth, body=content, headers={"Content-Type": "application/octet-stream"}, expect=(201,))
    return digest, len(content)


def push_image(base, auth, repo, tag, blobs):
    """Pushes `blobs` (the first as the config) and a manifest naming them; its digest."""
    pushed = [push_blob(base, auth, repo, blob) for blob in blobs]
    (config_digest, config_size), layers = pushed[0], pushed[1:]
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": IMAGE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": LAYER, "digest": d, "size": s} for d, s in layers],
    }).encode()
    request(base, "PUT", f"/v2/{repo}/manifests/{tag}", auth, body=manifest,
            headers={"Content-Type": IMAGE}, expect=(201,))
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def image_blobs(prefix, n, layers):
    config = json.dumps({"architecture": "amd64", "os": "linux", "image": f"{prefix}-{n}"}).encode()
    return [config] + [f"{prefix}-{n}-{k}:".encode() + os.urandom(1000) for k in range(layers - 1)]


def seed(bases, auths, manifests, layers, prefix, repos=100):
    """Pushes `manifests` images to every registry and deletes every other one."""
    started = time.monotonic()

    def one(n):
        blobs = image_blobs(prefix, n, layers)
        repo = f"library/{prefix}-{n % repos}"
        for base, auth in zip(bases, auths):
            digest = push_image(base, auth, repo, f"t{n}", blobs)
            if n % 2 == 1:
                request(base, "DELETE", f"/v2/{repo}/manifests/{digest}", auth, expect=(202,))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, range(manifests)))
    print(f"seeded {manifests} manifests of {layers} blobs into {len(bases)} registries "
          f"and deleted half in {time.monotonic() - started:.1f} s", file=sys.stderr)


def collect(base, auth, parameters=None):
    """Runs one garbage collection to its end; (seconds, its log)."""
    body = json.dumps({"schedule": {"type": "Manual"}, "parameters": parameters or {"workers": 4}}).encode()
    response, _ = request(base, "POST", "/api/v2.0/system/gc/schedule", auth, body=body,
                          headers={"Content-Type": "application/json"}, expect=(201,))
    location = response.getheader("Location")
    while True:
        _, data = request(base, "GET", location, auth)
        run = json.loads(data)
        if run["job_status"] not in ("Pending", "Running"):
            break
        time.sleep(0.05)
    if run["job_status"] != "Success":
        raise RuntimeError(f"collection ended {run['job_status']}")
    _, log = request(base, "GET", location + "/log", auth)
    return log.decode()


def run_seconds(log):
    """How long a run took, from its first log line to its last."""
    stamps = [datetime.datetime.fromisoformat(line.split(" ", 1)[0]) for line in log.splitlines() if line.strip()]
    return (stamps[-1] - stamps[0]).total_seconds()


def throughput(base, auth, seconds, prefix):
    """Pulls and pushes per second for `seconds` idle, then while a collection
    of a fresh half-deleted set runs."""
    live = [(f"library/{prefix}-live-{n}", f"t{n}") for n in range(50)]
    for n, (repo, tag) in enumerate(live):
        push_image(base, auth, repo, tag, image_blobs(f"{prefix}-live", n, 3))
    counter = iter(range(10**9))
    lock = threading.Lock()

    def load(until, stop):
        pulls = pushes = 0
        while time.monotonic() < until and not stop.is_set():
            repo, tag = random.choice(live)
            request(base, "GET", f"/v2/{repo}/manifests/{tag}", None if repo.startswith("library/") else auth,
                    headers={"Accept": IMAGE})
            pulls += 1
            if pulls % 4 == 0:
                with lock:
                    n = next(counter)
                push_blob(base, auth, f"library/{prefix}-push", f"{prefix}-push-{n}".encode() + os.urandom(1000))
                pushes += 1
        return pulls, pushes

    def measure(duration, stop):
        started = time.monotonic()
        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(lambda _: load(started + duration, stop), range(THREADS)))
        elapsed = time.monotonic() - started
        return sum(r[0] for r in results) / elapsed, sum(r[1] for r in results) / elapsed, elapsed

    idle = measure(seconds, threading.Event())
    seed([base], [auth], 5000, 10, f"{prefix}-garbage")
    time.sleep(1.5)
    stop = threading.Event()
    outcome = {}

    def run_collection():
        started = time.monotonic()
        outcome["log"] = collect(base, auth)
        outcome["seconds"] = time.monotonic() - started
        stop.set()

    collector = threading.Thread(target=run_collection)
    collector.start()
    during = measure(3600, stop)
    collector.join()
    print(f"idle:       {idle[0]:8.0f} pulls/s {idle[1]:7.0f} pushes/s ({idle[2]:.1f} s)")
    print(f"during GC:  {during[0]:8.0f} pulls/s {during[1]:7.0f} pushes/s ({during[2]:.1f} s, "
          f"collection took {outcome['seconds']:.1f} s)")
    loss = 1 - (during[0] + during[1]) / (idle[0] + idle[1])
    print(f"throughput loss while collecting: {loss * 100:.1f} %")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["seed", "collect", "throughput"])
    parser.add_argument("bases", nargs="+")
    parser.add_argument("--auth", action="append", default=[])
    parser.add_argument("--manifests", type=int, default=10000)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--prefix", default="gc")
    args = parser.parse_args()
    auths = args.auth + [""] * (len(args.bases) - len(args.auth))
    if args.command == "seed":
        seed(args.bases, auths, args.manifests, args.layers, args.prefix)
    elif args.command == "collect":
        started = time.monotonic()
        log = collect(args.bases[0], auths[0])
        waited = time.monotonic() - started
        print(f"{run_seconds(log):.2f}")
        print(log, file=sys.stderr)
        print(f"(from the request to the end, with the wait for a runner to pick it up: {waited:.2f} s)",
              file=sys.stderr)
    else:
        throughput(args.bases[0], auths[0], args.seconds, args.prefix)


if __name__ == "__main__":
    main()

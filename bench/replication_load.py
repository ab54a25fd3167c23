"""Load for bench/replication.sh: fills a Berth with images, replicates them
to a registry with a push policy and times it, and writes skopeo sync's
YAML source for the same images.

    replication_load.py seed URL --auth BASIC --images N --layers L --layer-bytes B --repos R
    replication_load.py replicate URL --auth BASIC --to REGISTRY_URL --name NAME [--again]
    replication_load.py skopeo-yaml URL --password PASSWORD --repos R > sync.yml

Every blob is unique (random bytes). Stdlib only; shares gc_load's client.
"""

import argparse
import json
import os
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from gc_load import THREADS, push_image, request

PREFIX = "bench"


def seed(base, auth, images, layers, layer_bytes, repos):
    """Pushes `images` images of a config and `layers` random layers, over `repos` repositories."""
    started = time.monotonic()

    def one(n):
        config = json.dumps({"architecture": "amd64", "os": "linux", "image": n}).encode()
        blobs = [config] + [os.urandom(layer_bytes) for _ in range(layers)]
        push_image(base, auth, f"library/{PREFIX}-{n % repos}", f"t{n}", blobs)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, range(images)))
    total = images * layers * layer_bytes
    print(f"seeded {images} images ({images * (layers + 1)} blobs, {total / 2**30:.2f} GiB) "
          f"in {time.monotonic() - started:.1f} s", file=sys.stderr)


def post_json(base, auth, path, body):
    response, _ = request(base, "POST", path, auth, body=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json"}, expect=(201,))
    return response.getheader("Location")


def replicate(base, auth, destination, name, again):
    """Runs a push policy of library/bench-* to `destination` to its end
    (creating the registry and policy unless `again`); prints its seconds."""
    if again:
        _, data = request(base, "GET", f"/api/v2.0/replication/policies?name={name}", auth)
        policy_id = json.loads(data)[0]["id"]
    else:
        registry = post_json(base, auth, "/api/v2.0/registries",
                             {"name": name, "type": "docker-registry", "url": destination})
        registry_id = int(registry.rsplit("/", 1)[1])
        policy = post_json(base, auth, "/api/v2.0/replication/policies", {
            "name": name, "dest_registry": {"id": registry_id},
            "filters": [{"type": "name", "value": f"library/{PREFIX}-*"}],
            "trigger": {"type": "manual"}, "override": True, "enabled": True,
        })
        policy_id = int(policy.rsplit("/", 1)[1])
    started = time.monotonic()
    location = post_json(base, auth, "/api/v2.0/replication/executions", {"policy_id": policy_id})
    while True:
        _, data = request(base, "GET", urllib.parse.urlparse(location).path, auth)
        execution = json.loads(data)
        if execution["status"] != "InProgress":
            break
        time.sleep(0.05)
    seconds = time.monotonic() - started
    if execution["status"] != "Succeed":
        raise RuntimeError(f"execution ended {execution['status']}: {execution.get('status_text')}")
    print(f"{execution['succeed']} of {execution['total']} artifacts", file=sys.stderr)
    print(f"{seconds:.2f}")


def skopeo_yaml(base, password, repos):
    """skopeo sync's YAML source: every tag of the bench repositories."""
    host = urllib.parse.urlparse(base).netloc
    lines = [f"{host}:", "  tls-verify: false", "  credentials:", "    username: admin",
             f"    password: {password}", "  images:"]
    lines += [f"    library/{PREFIX}-{n}: []" for n in range(repos)]
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["seed", "replicate", "skopeo-yaml"])
    parser.add_argument("url")
    parser.add_argument("--auth", default="")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--layer-bytes", type=int, default=2_621_440)
    parser.add_argument("--repos", type=int, default=20)
    parser.add_argument("--to")
    parser.add_argument("--name", default="bench")
    parser.add_argument("--again", action="store_true")
    parser.add_argument("--password")
    args = parser.parse_args()
    if args.command == "seed":
        seed(args.url, args.auth, args.images, args.layers, args.layer_bytes, args.repos)
    elif args.command == "replicate":
        replicate(args.url, args.auth, args.to, args.name, args.again)
    else:
        skopeo_yaml(args.url, args.password, args.repos)


if __name__ == "__main__":
    main()

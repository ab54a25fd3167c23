# Shared by the side-by-side benchmarks (run.sh, gc.sh): a scratch directory
# and the processes started in it, removed and stopped on exit; free ports;
# waiting for a server; and distribution 2.8 on filesystem storage. Sourced
# after scripts/lib.sh.

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

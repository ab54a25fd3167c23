# Shared by scripts/run.sh and scripts/test.sh: idempotent installs of what
# building and testing Berth needs. Each step checks first and skips what is
# already there. Sourced, not run.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION="0.3.10"
WASM_BINDGEN_VERSION="0.2.129"   # must equal the wasm-bindgen crate in Cargo.lock
GARAGE_VERSION="2.5.0"           # S3-compatible object storage for the S3 backend's tests

export PATH="$REPO_ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "apt: installing ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_rust() {
  command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
  for component in clippy rustfmt; do
    rustup component list --installed | grep -q "^$component" || rustup component add "$component"
  done
  rustup target list --installed | grep -qx wasm32-unknown-unknown || {
    step "rustup: adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  }
}

# A build cache shared across runs can outgrow the disk it sits on; a run
# that starts cold is slower, one that fills the disk fails half-way.
MIN_FREE_GIB="${BERTH_MIN_FREE_GIB:-20}"
trim_build_cache() {
  local dir="$1" free_kib
  [ -d "$dir" ] || return 0
  free_kib=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
  [ "$free_kib" -ge $((MIN_FREE_GIB * 1024 * 1024)) ] && return 0
  step "only $((free_kib / 1024)) MiB free beside $dir ($(du -sh "$dir" | cut -f1) of it the build cache): starting cold"
  rm -rf "$dir"
}

# cargo-nextest runs each test in its own process and kills one that hangs
# (limits in .config/nextest.toml).
NEXTEST_VERSION="0.9"
ensure_nextest() {
  cargo nextest --version 2>/dev/null | grep -q "^cargo-nextest $NEXTEST_VERSION" && return 0
  step "cargo install cargo-nextest (about 5 minutes, once)"
  cargo install cargo-nextest --version "~$NEXTEST_VERSION" --locked
}

ensure_cargo_leptos() {
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    step "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes, once)"
    # Its release profile's LTO doubles the build time for no benefit here.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo install "cargo-leptos@$CARGO_LEPTOS_VERSION" --locked
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked
  fi
}

# Garage: the real S3-compatible server the S3 backend is tested against.
ensure_garage() {
  if ! garage --version 2>/dev/null | grep -qF "$GARAGE_VERSION"; then
    step "cargo install garage $GARAGE_VERSION (about 15 minutes, once)"
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=false \
      cargo install "garage@$GARAGE_VERSION" --locked --no-default-features --features bundled-libs,sqlite
  fi
}

# The ORAS Python SDK, in a virtualenv of its own, for the client tests.
ORAS_VERSION="0.2.43"
export BERTH_ORAS_PYTHON="${BERTH_ORAS_PYTHON:-$HOME/.cache/berth/tools-venv/bin/python}"
ensure_oras_sdk() {
  if "$BERTH_ORAS_PYTHON" -c "import oras.version as v; assert v.__version__ == '$ORAS_VERSION'" 2>/dev/null; then
    return 0
  fi
  command -v python3 >/dev/null || apt_install python3
  python3 -c "import venv, ensurepip" 2>/dev/null || apt_install python3-venv
  step "pip install oras $ORAS_VERSION into $(dirname "$(dirname "$BERTH_ORAS_PYTHON")")"
  python3 -m venv "$(dirname "$(dirname "$BERTH_ORAS_PYTHON")")"
  "$BERTH_ORAS_PYTHON" -m pip install --quiet "oras==$ORAS_VERSION"
}

# harborapi (Harbor's async Python client), in the same virtualenv, for the
# Harbor client compatibility tests.
HARBORAPI_VERSION="0.26.2"
ensure_harborapi() {
  ensure_oras_sdk
  if "$BERTH_ORAS_PYTHON" -c "import importlib.metadata as m; assert m.version('harborapi') == '$HARBORAPI_VERSION'" 2>/dev/null; then
    return 0
  fi
  step "pip install harborapi $HARBORAPI_VERSION"
  "$BERTH_ORAS_PYTHON" -m pip install --quiet "harborapi==$HARBORAPI_VERSION"
}

# schemathesis (property-based testing of the REST API against its OpenAPI
# document), in the same virtualenv.
SCHEMATHESIS_VERSION="4.32.5"
ensure_schemathesis() {
  ensure_oras_sdk
  if "$BERTH_ORAS_PYTHON" -c "import importlib.metadata as m; assert m.version('schemathesis') == '$SCHEMATHESIS_VERSION'" 2>/dev/null; then
    return 0
  fi
  step "pip install schemathesis $SCHEMATHESIS_VERSION"
  "$BERTH_ORAS_PYTHON" -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
}

# harbor-cli (a Harbor command line built on harborapi), in a virtualenv of
# its own: it needs an older click than schemathesis does.
HARBOR_CLI_VERSION="0.3.0"
export BERTH_HARBOR_CLI="${BERTH_HARBOR_CLI:-$HOME/.cache/berth/harbor-cli-venv/bin/harbor}"
ensure_harbor_cli() {
  local venv
  venv="$(dirname "$(dirname "$BERTH_HARBOR_CLI")")"
  if "$venv/bin/python" -c "import importlib.metadata as m; assert m.version('harbor-cli') == '$HARBOR_CLI_VERSION'" 2>/dev/null; then
    return 0
  fi
  command -v python3 >/dev/null || apt_install python3
  python3 -c "import venv, ensurepip" 2>/dev/null || apt_install python3-venv
  step "pip install harbor-cli $HARBOR_CLI_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet "harbor-cli==$HARBOR_CLI_VERSION" "click<8.2"
}

# npm install only when package.json changed since the last install.
npm_install_in() {
  local dir="$1" stamp="$1/node_modules/.berth-installed"
  local want
  want="$(cat "$dir/package.json" "$dir/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  command -v npm >/dev/null || apt_install nodejs npm
  step "npm install in ${dir#"$REPO_ROOT"/}"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  want="$(cat "$dir/package.json" "$dir/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)"
  echo "$want" > "$stamp"
}

ensure_build_tools() {
  ensure_rust
  ensure_cargo_leptos
  npm_install_in "$REPO_ROOT"   # tailwindcss, wasm-opt (binaryen)
}

# Starts the local PostgreSQL (installing it if missing) unless one answers.
ensure_postgres() {
  if [ -n "${BERTH_TEST_DATABASE_URL:-}" ]; then return 0; fi
  apt_install postgresql-client
  if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
  apt_install postgresql
  step "starting PostgreSQL"
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n1)"
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  # Tests connect as postgres over 127.0.0.1 without a password, like the CI machines.
  if ! grep -q "berth-tests" "$hba"; then
    as_root sed -i '1i host all all 127.0.0.1/32 trust # berth-tests\nhost all all ::1/128 trust # berth-tests' "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster "$version" main restart
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 1; done
  echo "PostgreSQL did not start" >&2
  exit 1
}

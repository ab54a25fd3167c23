#!/usr/bin/env bash
# One command that installs everything the tests need and runs them all:
# unit and integration tests (SQLite and PostgreSQL, the real berth binary)
# and the Playwright specs in Debian's Chromium.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# CI runs in a fresh clone each time: keep the build cache outside it.
if [ "${CI:-}" = "true" ] && [ -z "${CARGO_TARGET_DIR:-}" ]; then
  export CARGO_TARGET_DIR="$HOME/.cache/berth/target"
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
trim_build_cache "$TARGET_DIR"
# A fresh clone rebuilds the workspace crates anyway: incremental caches
# would only pile up in the shared target directory.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi

ensure_build_tools
ensure_nextest
apt_install chromium skopeo umoci podman buildah slapd ldap-utils docker-registry apache2-utils docker.io haproxy
ensure_garage
ensure_oras_sdk
ensure_harborapi
ensure_schemathesis
ensure_harbor_cli
npm_install_in "$REPO_ROOT/end2end"
ensure_postgres

step "building the server and the hydrating portal"
cargo leptos build

step "formatting and clippy (warnings fail the run)"
cargo fmt --all --check
cargo clippy -p app -p server --features app/ssr --tests -- -D warnings

step "unit and integration tests (SQLite and PostgreSQL)"
# Each test runs in its own process with a hard time limit (.config/nextest.toml).
cargo nextest run -p app -p server --features app/ssr

step "end-to-end tests in Chromium"
export BERTH_BIN="$TARGET_DIR/debug/berth"
export BERTH_SITE_ROOT="$REPO_ROOT/target/site"
# Playwright bounds each spec and the whole run (end2end/playwright.config.ts);
# this outer limit also covers a browser or server that never exits.
(cd end2end && timeout --kill-after=30s 30m npx playwright test)

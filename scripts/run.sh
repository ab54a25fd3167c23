#!/usr/bin/env bash
# One command from a fresh machine to a running Berth on SQLite and local disk:
# installs the build tools, builds the release binary and portal, and serves.
# Berth prints its URL and, on first start, the administrator's credentials.
# Extra arguments go to `berth serve` (see `berth serve --help`).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ensure_build_tools
step "building Berth (release)"
cargo leptos build --release

export BERTH_SITE_ROOT="${BERTH_SITE_ROOT:-$REPO_ROOT/target/site}"
step "starting Berth (data in ${BERTH_DATA_DIR:-./berth-data}; Ctrl-C stops it)"
exec "${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/berth" serve "$@"

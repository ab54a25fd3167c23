#!/usr/bin/env bash
# A long run of the property tests of the parsers that see client input
# (the test command runs each with proptest's default 256 cases).
# Usage: scripts/properties.sh [CASES]   (default 100000 per property)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
ensure_rust
ensure_nextest
ensure_postgres
PROPTEST_CASES="${1:-100000}" cargo nextest run -p app -p server --features app/ssr --no-fail-fast \
  -E 'test(properties) | test(deeply_nested)'

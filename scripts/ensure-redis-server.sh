#!/usr/bin/env bash
# Makes sure a redis-server binary is available for `make loadtest` and
# `make test`. Order: $CACHEPROOF_REDIS_SERVER, then PATH. When neither has
# one, install Debian's package with apt-get if we are root; otherwise print
# the exact command and fail.
set -euo pipefail
if [ -n "${CACHEPROOF_REDIS_SERVER:-}" ]; then
  if [ -x "$CACHEPROOF_REDIS_SERVER" ]; then exit 0; fi
  echo "CACHEPROOF_REDIS_SERVER=$CACHEPROOF_REDIS_SERVER is not an executable file" >&2
  exit 3
fi
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server not found: installing Debian's redis-server and redis-tools with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
  # The package starts a system service on :6379; cacheproof starts its own
  # servers on free ports and needs none.
  (service redis-server stop || systemctl stop redis-server || true) >/dev/null 2>&1
  command -v redis-server >/dev/null && exit 0
fi
cat >&2 <<'MSG'
redis-server was not found on PATH. Install it with:

    sudo apt-get install -y redis-server redis-tools

or point cacheproof at a binary: CACHEPROOF_REDIS_SERVER=/path/to/redis-server
MSG
exit 3

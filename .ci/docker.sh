#!/usr/bin/env bash
# .ci/docker.sh: make the container backend testable on this machine.
#
# 1. installs Debian's docker.io (and docker-compose v1: it validates compose/
#    and runs the sharded compose project, TestShardedComposeProjectAddsUp),
# 2. starts dockerd in the background if none answers (waits up to 30 s),
# 3. builds cacheproof/redis-local:7 FROM scratch out of Debian's redis-server
#    binary, its ldd libraries and the dynamic loader, so nothing is pulled,
# 4. writes `export CACHEPROOF_REDIS_IMAGE=...` to $CACHEPROOF_DOCKER_ENV
#    (default /tmp/cacheproof-docker.env) for .ci/run to source.
#
# It never fails CI: when Docker cannot run here it says so, and the container
# tests skip with the reason. Usage from .ci/run:
#   bash .ci/docker.sh; [ -f /tmp/cacheproof-docker.env ] && . /tmp/cacheproof-docker.env
set -u

IMAGE=cacheproof/redis-local:7
ENV_FILE=${CACHEPROOF_DOCKER_ENV:-/tmp/cacheproof-docker.env}
DOCKERD_LOG=${CACHEPROOF_DOCKERD_LOG:-/tmp/cacheproof-dockerd.log}
rm -f "$ENV_FILE"

log() { echo "docker.sh: $*"; }
skip() {
	log "$*"
	log "CONTAINER TESTS WILL BE SKIPPED (each says why); process-backend tests are unaffected"
	exit 0
}
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	if [ -z "${APT_UPDATED:-}" ]; then
		as_root apt-get update -qq >/dev/null 2>&1 || true
		APT_UPDATED=1
	fi
	as_root apt-get install -y -qq --no-install-recommends "$@" >/tmp/cacheproof-apt.log 2>&1
}

command -v redis-server >/dev/null 2>&1 || apt_install redis-server || skip "cannot install redis-server"
if ! command -v dockerd >/dev/null 2>&1; then
	log "installing docker.io"
	apt_install docker.io iptables ca-certificates || skip "apt-get install docker.io failed: $(tail -3 /tmp/cacheproof-apt.log)"
fi
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
	log "installing docker-compose (to validate compose/ files and run the sharded compose test)"
	apt_install docker-compose || log "docker-compose not installed; compose tests will skip"
fi

if ! docker info >/dev/null 2>&1; then
	log "starting dockerd (log: $DOCKERD_LOG)"
	# setsid: dockerd must not sit in CI's process group or die with this shell.
	as_root setsid dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
	for _ in $(seq 30); do
		docker info >/dev/null 2>&1 && break
		sleep 1
	done
	if ! docker info >/dev/null 2>&1; then
		log "dockerd did not answer within 30 s; last lines of its log:"
		tail -n 15 "$DOCKERD_LOG" 2>/dev/null | sed 's/^/  dockerd: /'
		skip "no Docker engine on this machine"
	fi
fi
log "Docker engine answers: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/bin" "$ctx/rootfs/data" "$ctx/rootfs/tmp"
bin=$(readlink -f "$(command -v redis-server)")
cp "$bin" "$ctx/rootfs/usr/bin/redis-server"
files=("$bin")
if cli=$(command -v redis-cli); then
	# redis-cli lets the compose healthchecks run on this image too.
	cp "$(readlink -f "$cli")" "$ctx/rootfs/usr/bin/redis-cli"
	files+=("$(readlink -f "$cli")")
fi
for f in "${files[@]}"; do
	# Every absolute path ldd prints: the libraries and the dynamic loader.
	for lib in $(ldd "$f" | grep -o '/[^ )]*'); do
		cp --parents -L "$lib" "$ctx/rootfs/" 2>/dev/null || true
	done
done
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
WORKDIR /data
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
DOCKERFILE
if ! docker build -q -t "$IMAGE" "$ctx" >/tmp/cacheproof-docker-build.log 2>&1; then
	sed 's/^/  build: /' /tmp/cacheproof-docker-build.log | tail -n 15
	skip "could not build $IMAGE"
fi
if ! docker run --rm --entrypoint /usr/bin/redis-server "$IMAGE" --version >/dev/null 2>&1; then
	skip "$IMAGE was built but does not run"
fi
log "built $IMAGE from $bin ($(docker image inspect -f '{{.Size}}' "$IMAGE") bytes)"
echo "export CACHEPROOF_REDIS_IMAGE=$IMAGE" >"$ENV_FILE"
log "wrote $ENV_FILE"

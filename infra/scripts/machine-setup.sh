#!/usr/bin/env bash
# Machine set-up for the test command (`pnpm test` runs it first): installs the system tools the tests call
# (nginx, docker-compose, chromium) with apt when they are missing, and starts the local PostgreSQL and Redis
# when they are down, waiting until they answer. Does nothing when all is in place. When it cannot fix
# something (not root, no apt), it stops at once and prints the one command that does.
set -euo pipefail

say() { printf 'machine-setup: %s\n' "$*"; }
fail() {
  printf 'machine-setup: %s\n' "$1" >&2
  printf 'machine-setup: fix it with:\n  %s\n' "$2" >&2
  exit 1
}
is_root() { [[ "$(id -u)" == 0 ]]; }

# --- System packages: "command apt-package" pairs, installed only when the command is absent. ---------------
packages=()
need() {
  local command=$1
  shift
  command -v "$command" >/dev/null 2>&1 || [[ -x "/usr/sbin/$command" ]] || packages+=("$@")
}
need nginx nginx                   # fronts the local cluster in the cluster tests
need docker-compose docker-compose # validates docker-compose.yml (no Docker engine needed)
# The browser test drives Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH) with playwright-core, which
# downloads no browser of its own and needs no chromedriver.
[[ -x "${CHROMIUM_PATH:-}" ]] || need chromium chromium

if ((${#packages[@]})); then
  install="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages[*]}"
  command -v apt-get >/dev/null 2>&1 || fail "missing ${packages[*]} and there is no apt-get" "$install"
  is_root || fail "missing ${packages[*]}; installing them needs root" "sudo sh -c '$install'"
  say "installing ${packages[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

# --- Services: started only when they do not answer, then waited for. -------------------------------------
wait_for() {
  local what=$1
  shift
  for _ in $(seq 1 60); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  fail "$what did not answer within 30 s after its start" "$*"
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
# A TEST_DATABASE_URL elsewhere is someone else's server: not ours to start.
if [[ -z "${TEST_DATABASE_URL:-}" ]] && ! pg_up; then
  command -v pg_ctlcluster >/dev/null 2>&1 || fail "PostgreSQL is not installed" \
    "apt-get update && apt-get install -y postgresql"
  pg_start="pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start"
  is_root || fail "PostgreSQL is down on 127.0.0.1:5432; starting it needs root" "sudo $pg_start"
  say "starting PostgreSQL"
  $pg_start
  wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p 5432
fi

# Redis on 6379 for the suites; the cluster suite gets its own on CHAT_CLUSTER_REDIS_PORT (it restarts its
# Redis for real, which must not disturb the suites running beside it).
start_redis() {
  local port=$1
  redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && return 0
  command -v redis-server >/dev/null 2>&1 || fail "Redis is not installed" \
    "apt-get update && apt-get install -y redis-server"
  say "starting Redis on port $port"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$port" --save "" --appendonly no
  wait_for "Redis on port $port" redis-cli -h 127.0.0.1 -p "$port" ping
}
if [[ -z "${TEST_REDIS_URL:-}" ]]; then
  start_redis 6379
  start_redis "${CHAT_CLUSTER_REDIS_PORT:-6380}"
fi

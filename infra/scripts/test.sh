#!/usr/bin/env bash
# The test command's plan (`pnpm test` runs it after machine-setup.sh): every suite is a leg, and run-legs.sh
# runs the legs side by side, longest first. The cluster suite restarts its Redis for real, so it gets a Redis
# of its own (port CHAT_CLUSTER_REDIS_PORT, started by machine-setup.sh) and can run beside the others.
# CHAT_TEST_EXTRA_NODE=<a bin directory holding another node> adds the server suite on both databases and the
# bench smoke on that Node as more legs (CI does so for Node 24); they reuse the same node_modules.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The legs already fill both cores, so each tap suite runs its files one at a time (tap's own default is one
# per core): fewer processes on the CPU at once keep the suites' start-up deadlines (Fastify's 10 s plugin
# timeout) out of reach of the load.
export TAP_JOBS="${CHAT_TEST_TAP_JOBS:-1}"

cluster_redis="redis://127.0.0.1:${CHAT_CLUSTER_REDIS_PORT:-6380}"
legs=(
  'server-pglite: pnpm --filter @chat/server test:pglite'
  'server-postgres: pnpm --filter @chat/server test:postgres'
  "cluster: TEST_REDIS_URL=$cluster_redis pnpm --filter @chat/infra test"
)
extra=()
if [[ -n "${CHAT_TEST_EXTRA_NODE:-}" ]]; then
  version=$("$CHAT_TEST_EXTRA_NODE/node" --version)
  tag="node${version%%.*}"
  tag=${tag/v/}
  on="PATH='$CHAT_TEST_EXTRA_NODE':\$PATH; node --version"
  legs+=(
    "$tag-server-pglite: $on && pnpm --filter @chat/server test:pglite"
    "$tag-server-postgres: $on && pnpm --filter @chat/server test:postgres"
  )
  extra=("$tag-bench-smoke: $on && pnpm run bench:smoke")
fi
legs+=(
  'lint+typecheck: pnpm run lint && pnpm run typecheck'
  # Every other package's tap suite (realtime today), whatever packages come.
  "packages: pnpm -r --workspace-concurrency=1 --filter '!chat-api' --filter '!@chat/server' --filter '!@chat/infra' test"
  # Chromium, once (on PostgreSQL): its own EventSource against the streams, and the web client (built first)
  # driven as its users would; the server legs leave test/browser out.
  'browser: pnpm --filter @chat/server test:browser'
  # The client SDK bundled for the browser, in Chromium on another origin: both transports, once.
  'client-browser: pnpm --filter @chat/client test:browser'
  'bench-smoke: pnpm run bench:smoke'
  "${extra[@]}"
)
# tap rebuilds itself for the workspace's plugin set on its first run; every suite shares that one build, so it
# is made here once, before the legs, and never by several legs at once.
pnpm --filter @chat/realtime exec tap build >/dev/null

exec bash infra/scripts/run-legs.sh "${legs[@]}"

// `pnpm cluster`: the multi-node setup on one machine, for trying the API the way it runs in production (several
// nodes, Redis between them, nginx in front) without Docker. Ctrl-C stops everything cleanly.
import { parseArgs } from 'node:util'
import { join } from 'node:path'
import { CLUSTER_DEFAULTS, startCluster, type Cluster } from './cluster.ts'
import { startRedisCluster, type LocalRedisCluster } from './redis-cluster.ts'

const REDIS_CLUSTER_PORT = 7000

const USAGE = `Usage: pnpm cluster [options]

Starts N chat nodes on 127.0.0.1 (ports base-port .. base-port+N-1) on one PostgreSQL database and one Redis,
with nginx in front. Node logs are printed here, prefixed with the node's name.

  -n, --nodes N          how many nodes (env CLUSTER_NODES; default ${CLUSTER_DEFAULTS.nodes})
  -p, --port PORT        nginx's port (env CLUSTER_PORT; default ${CLUSTER_DEFAULTS.port})
      --base-port PORT   the first node's port (env CLUSTER_BASE_PORT; default ${CLUSTER_DEFAULTS.basePort})
      --database-url URL created if missing (env CLUSTER_DATABASE_URL; default ${CLUSTER_DEFAULTS.databaseUrl})
      --redis-url URL    (env CLUSTER_REDIS_URL; default ${CLUSTER_DEFAULTS.redisUrl})
      --redis-cluster    start a local Redis Cluster instead (3 masters, 3 replicas of redis-server on
                         ports ${REDIS_CLUSTER_PORT}..${REDIS_CLUSTER_PORT + 5}, env CLUSTER_REDIS_CLUSTER_PORT) and run the nodes on it
      --state-dir DIR    nginx config and logs, the JWT secret (env CLUSTER_STATE_DIR; default .cluster/)
      --quiet            node logs go to <state-dir>/node-N.log instead of this terminal
  -h, --help

Other variables (LOG_LEVEL, MESSAGE_RATE_LIMIT, ...) are passed on to every node.
`

function integer(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) {
    process.stderr.write(`--${name} must be a positive integer (got "${raw}")\n\n${USAGE}`)
    process.exit(2)
  }
  return Number(raw)
}

let args: ReturnType<typeof parse>
function parse() {
  return parseArgs({
    options: {
      nodes: { type: 'string', short: 'n' },
      port: { type: 'string', short: 'p' },
      'base-port': { type: 'string' },
      'database-url': { type: 'string' },
      'redis-url': { type: 'string' },
      'redis-cluster': { type: 'boolean' },
      'state-dir': { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    },
    strict: true
  }).values
}
try {
  args = parse()
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n\n${USAGE}`)
  process.exit(2)
}
if (args.help) {
  process.stdout.write(USAGE)
  process.exit(0)
}

const env = process.env
let cluster: Cluster
let redisCluster: LocalRedisCluster | undefined
try {
  const stateDir = args['state-dir'] ?? env.CLUSTER_STATE_DIR ?? CLUSTER_DEFAULTS.stateDir
  if (args['redis-cluster']) {
    const basePort = integer('redis-cluster-port', env.CLUSTER_REDIS_CLUSTER_PORT, REDIS_CLUSTER_PORT)
    redisCluster = await startRedisCluster({ basePort, dir: join(stateDir, 'redis-cluster') })
    process.stdout.write(`Redis Cluster up on ${redisCluster.seeds}\n`)
  }
  cluster = await startCluster({
    nodes: integer('nodes', args.nodes ?? env.CLUSTER_NODES, CLUSTER_DEFAULTS.nodes),
    port: integer('port', args.port ?? env.CLUSTER_PORT, CLUSTER_DEFAULTS.port),
    basePort: integer('base-port', args['base-port'] ?? env.CLUSTER_BASE_PORT, CLUSTER_DEFAULTS.basePort),
    databaseUrl: args['database-url'] ?? env.CLUSTER_DATABASE_URL ?? CLUSTER_DEFAULTS.databaseUrl,
    redisUrl: args['redis-url'] ?? env.CLUSTER_REDIS_URL ?? CLUSTER_DEFAULTS.redisUrl,
    redisClusterNodes: redisCluster?.seeds,
    stateDir,
    output: args.quiet ? 'files' : 'inherit'
  })
} catch (error) {
  process.stderr.write(`cluster: ${(error as Error).message}\n`)
  await redisCluster?.stop()
  process.exit(1)
}

process.stdout.write(
  `\nChat cluster ready at ${cluster.url}  (nginx → ${cluster.nodes.map((n) => n.url).join(', ')})\n` +
    `database ${cluster.databaseUrl}, redis ${cluster.redisUrl}, state in ${cluster.stateDir}\n` +
    `Ctrl-C stops it.\n\n`
)

let signals = 0
const parent = process.ppid
const shutdown = (signal: NodeJS.Signals) => {
  if (++signals > 1) {
    process.stderr.write(`cluster: ${signal} again, not waiting any longer\n`)
    process.exit(1)
  }
  const why = process.ppid !== parent ? 'the parent process exited' : signal
  process.stdout.write(`\ncluster: ${why}: stopping nginx and ${cluster.nodes.length} nodes…\n`)
  cluster
    .stop()
    .then(() => redisCluster?.stop())
    .then(
      () => {
        process.stdout.write('cluster: stopped\n')
        process.exit(0)
      },
      (error: unknown) => {
        process.stderr.write(`cluster: stop failed: ${(error as Error).message}\n`)
        process.exit(1)
      }
    )
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
// pnpm does not pass a SIGTERM on to its script: if whoever started us is gone, stop as if we had been told.
setInterval(() => {
  if (process.ppid !== parent && signals === 0) shutdown('SIGHUP')
}, 1000).unref()

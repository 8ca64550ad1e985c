// A multi-node cluster on one machine without Docker: N server processes on loopback ports sharing one
// PostgreSQL database and one Redis (or a Redis Cluster: redis-cluster.ts), behind a local nginx rendered from the same config docker-compose uses.
// `pnpm cluster` and the cluster tests both go through startCluster(), so the tests exercise exactly what
// people run.
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import postgres from 'postgres'
import { findNginx, startNginx, type LocalNginx } from './nginx.ts'
import { NodeProcess, WORKSPACE_ROOT, httpGet, sleep, tail, type ClusterNode } from './node-process.ts'

export { WORKSPACE_ROOT, httpGet, type ClusterNode, type ExitInfo } from './node-process.ts'

export const CLUSTER_DEFAULTS = {
  nodes: 3,
  port: 8080,
  basePort: 3001,
  host: '127.0.0.1',
  databaseUrl: 'postgres://postgres@127.0.0.1:5432/chat_cluster',
  redisUrl: 'redis://127.0.0.1:6379',
  stateDir: join(WORKSPACE_ROOT, '.cluster')
} as const

export interface ClusterOptions {
  /** How many server nodes (3). */
  nodes?: number
  /** nginx's port (8080). */
  port?: number
  /** The first node's port; node i listens on basePort + i - 1 (3001). */
  basePort?: number
  /** nginx's listening address (127.0.0.1). Nodes always listen on 127.0.0.1. */
  host?: string
  /** Created if missing (postgres://postgres@127.0.0.1:5432/chat_cluster). */
  databaseUrl?: string
  redisUrl?: string
  /** A Redis Cluster's seeds (`host:port,…`) instead of redisUrl: the nodes get REDIS_CLUSTER_NODES. */
  redisClusterNodes?: string
  /** nginx config, logs and temp files, the JWT secret, node logs (<workspace>/.cluster). */
  stateDir?: string
  /** Default: generated once into <stateDir>/jwt-secret. */
  jwtSecret?: string
  /** Extra environment for every node (after the cluster's own variables, so it wins). */
  env?: Record<string, string>
  /** 'inherit': node logs on this terminal, each line prefixed; 'files': <stateDir>/node-N.log (default). */
  output?: 'inherit' | 'files'
  /** How long a node may take to answer /readyz with 200 (60 s). */
  readyTimeoutMs?: number
}

export interface Cluster {
  /** nginx: the cluster's one entry point. */
  readonly url: string
  readonly nodes: readonly ClusterNode[]
  readonly stateDir: string
  readonly databaseUrl: string
  /** The one Redis, or `cluster <seeds>` for a Redis Cluster. */
  readonly redisUrl: string
  /** SIGTERM to every node and a graceful quit to nginx, at once; resolves when all have exited. */
  stop(): Promise<void>
}

/** Creates the database named in the URL if it does not exist (connecting to `postgres` on that server). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl)
  const name = decodeURIComponent(url.pathname.slice(1))
  if (!name) throw new Error(`DATABASE_URL names no database: ${databaseUrl}`)
  url.pathname = '/postgres'
  const admin = postgres(url.toString(), { max: 1, onnotice: () => {}, connect_timeout: 5 })
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`
    if (!exists) {
      await admin.unsafe(`create database "${name.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error // another process created it meanwhile
      })
    }
  } catch (error) {
    throw new Error(`cannot reach or prepare PostgreSQL for ${databaseUrl}: ${(error as Error).message}`, {
      cause: error
    })
  } finally {
    await admin.end({ timeout: 1 })
  }
}

/** The cluster's shared HS256 key: generated once, kept (mode 0600) so restarts keep tokens valid. */
async function loadOrCreateSecret(stateDir: string): Promise<string> {
  const file = join(stateDir, 'jwt-secret')
  try {
    const secret = (await readFile(file, 'utf8')).trim()
    if (Buffer.byteLength(secret) >= 32) return secret
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const secret = randomBytes(48).toString('base64url')
  await writeFile(file, `${secret}\n`, { mode: 0o600 })
  return secret
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const count = options.nodes ?? CLUSTER_DEFAULTS.nodes
  if (!Number.isInteger(count) || count < 1) throw new Error(`nodes must be a positive integer (got ${count})`)
  const port = options.port ?? CLUSTER_DEFAULTS.port
  const basePort = options.basePort ?? CLUSTER_DEFAULTS.basePort
  const host = options.host ?? CLUSTER_DEFAULTS.host
  const databaseUrl = options.databaseUrl ?? CLUSTER_DEFAULTS.databaseUrl
  const redisUrl = options.redisUrl ?? CLUSTER_DEFAULTS.redisUrl
  const stateDir = options.stateDir ?? CLUSTER_DEFAULTS.stateDir
  const output = options.output ?? 'files'

  findNginx() // before anything starts: a missing binary is the likeliest failure on a new machine
  await mkdir(stateDir, { recursive: true })
  // nginx's workers drop root privileges; they must still reach their temp directories in here.
  if (process.getuid?.() === 0) await chmod(stateDir, 0o755)
  const jwtSecret = options.jwtSecret ?? (await loadOrCreateSecret(stateDir))
  await ensureDatabase(databaseUrl)

  const nodes = Array.from(
    { length: count },
    (_, i) =>
      new NodeProcess({
        index: i + 1,
        port: basePort + i,
        output,
        stateDir,
        readyTimeoutMs: options.readyTimeoutMs ?? 60_000,
        env: {
          ...process.env,
          PORT: String(basePort + i),
          HOST: '127.0.0.1',
          DATABASE_URL: databaseUrl,
          ...(options.redisClusterNodes
            ? { REDIS_URL: '', REDIS_CLUSTER_NODES: options.redisClusterNodes }
            : { REDIS_URL: redisUrl, REDIS_CLUSTER_NODES: '' }),
          JWT_SECRET: jwtSecret,
          TRUST_PROXY: 'loopback',
          ...options.env
        }
      })
  )
  let nginx: LocalNginx | undefined
  // Whatever ends this process, the nodes and nginx do not outlive it holding their ports.
  const onExit = () => {
    for (const node of nodes) node.signalSync('SIGTERM')
    nginx?.process.kill('SIGTERM')
  }
  process.on('exit', onExit)

  let stopping: Promise<void> | undefined
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all([nginx?.stop(), ...nodes.map((node) => node.stop())])
      process.off('exit', onExit)
    })())

  try {
    await Promise.all(nodes.map((node) => node.start()))
    nginx = await startNginx({
      prefix: join(stateDir, 'nginx'),
      listen: `${host}:${port}`,
      upstreams: nodes.map((node) => `127.0.0.1:${node.port}`)
    })
    await waitForNginx(`http://${host.includes(':') ? `[${host}]` : host}:${port}`, nginx)
  } catch (error) {
    await stop()
    throw error
  }

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    nodes,
    stateDir,
    databaseUrl,
    redisUrl: options.redisClusterNodes ? `cluster ${options.redisClusterNodes}` : redisUrl,
    stop
  }
}

async function waitForNginx(url: string, nginx: LocalNginx): Promise<void> {
  const deadline = Date.now() + 15_000
  for (;;) {
    if (nginx.process.exitCode !== null || nginx.process.signalCode !== null) {
      throw new Error(
        `nginx exited (${nginx.process.exitCode ?? nginx.process.signalCode}); see ${join(nginx.prefix, 'logs/error.log')}:\n` +
          tail(join(nginx.prefix, 'logs/error.log'))
      )
    }
    const ok = await httpGet(`${url}/healthz`, 1000).then(
      (res) => res.status === 200,
      () => false
    )
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nginx at ${url} did not answer /healthz with 200`)
    await sleep(100)
  }
}

// The processes under test: chat nodes on a fresh PostgreSQL database (and Redis when cross-node) and the bare
// node:http floor. Each runs as its own process pinned to core 0 when taskset exists, so the load, which the
// root scripts pin to core 1, does not compete with it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { createServer, type AddressInfo } from 'node:net'
import postgres from 'postgres'
import { request, sleep } from './http.ts'
import { GC_ON_SIGNAL } from './proc.ts'

const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? '0'
const serverEntry = fileURLToPath(new URL('../../../apps/server/src/server.ts', import.meta.url))
// BENCH_SERVER=dist runs the nodes from the build (`pnpm build` first), as `pnpm start` and the image do: plain
// JavaScript from tsc. From the sources, tsx's keepNames gives every function created per connection its own
// `name` property (and with it a dictionary of properties), which the build does not.
const builtServer = process.env.BENCH_SERVER === 'dist'
const serverDist = fileURLToPath(new URL('../../../apps/server/dist/server.js', import.meta.url))
const serverDir = fileURLToPath(new URL('../../../apps/server/', import.meta.url))
const floorEntry = fileURLToPath(new URL('./floor.ts', import.meta.url))
const pinned = spawnSync('taskset', ['--version']).status === 0

// Ports come from the OS (a listener on port 0, closed at once), so runs side by side (CI's bench smoke on two
// Node lines) never meet on one port; BENCH_PORT=<n> numbers them from n instead.
let nextPort = process.env.BENCH_PORT ? Number(process.env.BENCH_PORT) : 0
async function freePort(): Promise<number> {
  if (nextPort > 0) return nextPort++
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  probe.close()
  await once(probe, 'close')
  return port
}
// One secret for every node of a run, as a cluster shares it.
const SECRET = randomBytes(32).toString('hex')

export interface Node {
  port: number
  pid: number
  stop(): Promise<void>
}

export interface BenchDatabase {
  url: string
  /** Its nodes' Redis namespace too: runs that share the machine's Redis stay apart. */
  name: string
  drop(): Promise<void>
}

export async function createDatabase(): Promise<BenchDatabase> {
  const name = `chat_bench_${randomBytes(4).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database "${name}"`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    async drop() {
      await admin.unsafe(`drop database if exists "${name}" with (force)`)
      await admin.end()
    }
  }
}

// BENCH_PROFILE=<dir> writes a V8 CPU profile of every process under test there when it exits, sampled every
// BENCH_PROFILE_INTERVAL µs (V8's default: 1000).
const profile = process.env.BENCH_PROFILE
  ? [
      '--cpu-prof',
      `--cpu-prof-dir=${process.env.BENCH_PROFILE}`,
      ...(process.env.BENCH_PROFILE_INTERVAL ? [`--cpu-prof-interval=${process.env.BENCH_PROFILE_INTERVAL}`] : [])
    ]
  : []

/**
 * The allocator setting the node runs with (`pnpm start`, the image; README, Operations, "Memory"): glibc serves
 * the 64 KiB buffer of every socket read from mmap instead of its heap, so the reads of many connections opening
 * at once do not leave that heap fragmented for good. The floor gets it as well.
 */
const MALLOC_TUNABLES = process.env.GLIBC_TUNABLES ?? 'glibc.malloc.mmap_threshold=65536'

function launch(args: string[], env: Record<string, string>, cwd: string, source = true): ChildProcess {
  const loader = source ? ['--conditions=@chat/source', '--import', 'tsx'] : []
  const argv = [process.execPath, ...profile, ...GC_ON_SIGNAL, ...loader, ...args]
  return spawn(pinned ? 'taskset' : argv[0]!, pinned ? ['-c', SERVER_CORE, ...argv] : argv.slice(1), {
    cwd,
    env: { ...process.env, GLIBC_TUNABLES: MALLOC_TUNABLES, ...env },
    stdio: ['ignore', 'inherit', 'inherit']
  })
}

async function ready(child: ChildProcess, port: number, path: string): Promise<Node> {
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
  for (let i = 0; ; i++) {
    const up = await request(port, 'GET', path).then(
      (r) => r.status === 200,
      () => false
    )
    if (up && child.exitCode === null) return { port, pid: child.pid!, stop }
    if (i > 150 || child.exitCode !== null) {
      await stop()
      throw new Error(`process on port ${port} did not become ready`)
    }
    await sleep(200)
  }
}

/**
 * Where nodes with Redis meet: the machine's Redis (REDIS_URL), or, while `clusterNodes` is set, a Redis Cluster
 * (REDIS_CLUSTER_NODES). `always` puts even a lone node on it, so its events go through the bus too.
 */
export const busTarget: { clusterNodes?: string; always?: boolean } = {}

/** A chat node on the given database; `redis` makes it a cluster node. */
export async function startNode(
  database: BenchDatabase,
  { redis = false, env = {} }: { redis?: boolean; env?: Record<string, string> } = {}
): Promise<Node> {
  const port = await freePort()
  const child = launch(
    [builtServer ? serverDist : serverEntry],
    {
      PORT: String(port),
      DATABASE_URL: database.url,
      JWT_SECRET: SECRET,
      LOG_LEVEL: 'warn',
      MAX_STREAMS_PER_USER: '10000',
      AUTH_RATE_LIMIT: '1000000',
      MESSAGE_RATE_LIMIT: '1000000',
      ...(redis || busTarget.always
        ? {
            ...(busTarget.clusterNodes ? { REDIS_CLUSTER_NODES: busTarget.clusterNodes } : { REDIS_URL }),
            REDIS_PREFIX: `${database.name}:`
          }
        : {}),
      ...env
    },
    serverDir,
    !builtServer
  )
  return ready(child, port, '/readyz')
}

/** The floor: a bare node:http SSE broadcaster, no auth, no database (see floor.ts). */
export async function startFloor(): Promise<Node> {
  const port = await freePort()
  return ready(launch([floorEntry], { PORT: String(port) }, process.cwd()), port, '/healthz')
}

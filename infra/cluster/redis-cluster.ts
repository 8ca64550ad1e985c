// A local Redis Cluster without Docker: 3 masters and 3 replicas of the machine's redis-server on loopback ports
// (basePort .. basePort+5), joined with `redis-cli --cluster create`, with a short node timeout so a killed
// master's replica takes over within seconds. `pnpm cluster --redis-cluster` and the Redis Cluster tests both
// start it here; it keeps nothing on disk but its nodes.conf files in `dir`, removed on stop.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { sleep } from './node-process.ts'

const run = promisify(execFile)

export interface RedisClusterOptions {
  /** The first node's port (7000); the cluster takes 6 from it. */
  basePort?: number
  /** nodes.conf and logs of every node (removed on stop). */
  dir: string
  /** cluster-node-timeout: how long a master may be silent before its replica takes over (1,000 ms). */
  nodeTimeoutMs?: number
}

export interface RedisClusterNode {
  readonly port: number
  readonly process: ChildProcess
}

export interface ClusterMaster {
  port: number
  pid: number
  /** Slot ranges it serves, [from, to] inclusive. */
  slots: [number, number][]
}

export interface LocalRedisCluster {
  /** `host:port,…` of every node: what REDIS_CLUSTER_NODES takes. */
  readonly seeds: string
  readonly nodes: readonly RedisClusterNode[]
  /** `redis-cli -p <port> <args>` on a live node, answered as text. */
  cli(args: string[], port?: number): Promise<string>
  /** The masters as the cluster sees them now. */
  masters(): Promise<ClusterMaster[]>
  /** The master serving the key's (or channel's) slot. */
  masterOf(key: string): Promise<ClusterMaster>
  /** Waits until every slot is served and every live node says the cluster is ok. */
  settled(timeoutMs?: number): Promise<void>
  /** Starts the node on `port` again (after a kill); it rejoins as a replica. */
  restart(port: number): Promise<void>
  stop(): Promise<void>
}

const NODES = 6

function startNode(port: number, dir: string, nodeTimeoutMs: number): ChildProcess {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(dir, `nodes-${port}.conf`),
      '--cluster-node-timeout',
      String(nodeTimeoutMs),
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--logfile',
      join(dir, `redis-${port}.log`)
    ],
    { stdio: 'ignore' }
  )
  child.on('error', () => {})
  return child
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null

export async function startRedisCluster(options: RedisClusterOptions): Promise<LocalRedisCluster> {
  const basePort = options.basePort ?? 7000
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1_000
  const { dir } = options
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const ports = Array.from({ length: NODES }, (_, i) => basePort + i)
  const nodes: { port: number; process: ChildProcess }[] = ports.map((port) => ({
    port,
    process: startNode(port, dir, nodeTimeoutMs)
  }))
  const onExit = () => {
    for (const node of nodes) node.process.kill('SIGKILL')
  }
  process.on('exit', onExit)

  const cli = async (args: string[], port?: number) => {
    const target = port ?? nodes.find((node) => alive(node.process))?.port
    if (target === undefined) throw new Error('no Redis Cluster node is running')
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(target), ...args], { timeout: 10_000 })
    return stdout
  }
  const answers = (port: number) =>
    cli(['ping'], port).then(
      (out) => out.trim() === 'PONG',
      () => false
    )

  const masters = async (): Promise<ClusterMaster[]> => {
    const byPort = new Map<number, ClusterMaster>()
    for (const line of (await cli(['cluster', 'nodes'])).trim().split('\n')) {
      const [, address, flags, , , , , state, ...slots] = line.split(' ')
      if (!flags?.includes('master') || flags.includes('fail') || state !== 'connected') continue
      const port = Number(/:(\d+)@/.exec(address ?? '')?.[1])
      const node = nodes.find((n) => n.port === port)
      if (!node || !alive(node.process)) continue
      byPort.set(port, {
        port,
        pid: node.process.pid!,
        slots: slots
          .filter((range) => /^\d/.test(range))
          .map((range) => {
            const [from, to] = range.split('-').map(Number) as [number, number?]
            return [from, to ?? from]
          })
      })
    }
    return [...byPort.values()]
  }

  const settled = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const live = nodes.filter((node) => alive(node.process))
      const states = await Promise.all(
        live.map((node) =>
          cli(['cluster', 'info'], node.port).then(
            (info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info),
            () => false
          )
        )
      )
      const served = (await masters().catch(() => [])).reduce(
        (sum, master) => sum + master.slots.reduce((n, [from, to]) => n + to - from + 1, 0),
        0
      )
      if (states.every(Boolean) && served === 16384) return
      if (Date.now() > deadline) throw new Error(`the Redis Cluster on ${basePort}.. did not settle (see ${dir})`)
      await sleep(200)
    }
  }

  const stop = async () => {
    process.off('exit', onExit)
    await Promise.all(
      nodes.map(async (node) => {
        if (!alive(node.process)) return
        const exited = new Promise((resolve) => node.process.once('exit', resolve))
        node.process.kill('SIGTERM')
        await Promise.race([exited, sleep(5_000).then(() => node.process.kill('SIGKILL'))])
      })
    )
    await rm(dir, { recursive: true, force: true })
  }

  try {
    const deadline = Date.now() + 15_000
    while (!(await Promise.all(ports.map(answers))).every(Boolean)) {
      const dead = nodes.find((node) => !alive(node.process))
      if (dead) throw new Error(`redis-server on ${dead.port} exited (see ${join(dir, `redis-${dead.port}.log`)})`)
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${ports.join(', ')}`)
      await sleep(100)
    }
    const seeds = ports.map((port) => `127.0.0.1:${port}`)
    await run('redis-cli', ['--cluster', 'create', ...seeds, '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 30_000
    })
    await settled()
  } catch (error) {
    await stop()
    throw error
  }

  return {
    seeds: ports.map((port) => `127.0.0.1:${port}`).join(','),
    nodes,
    cli,
    masters,
    async masterOf(key) {
      const slot = Number((await cli(['cluster', 'keyslot', key])).trim())
      const master = (await masters()).find((m) => m.slots.some(([from, to]) => from <= slot && slot <= to))
      if (!master) throw new Error(`no master serves slot ${slot}`)
      return master
    },
    settled,
    async restart(port) {
      const node = nodes.find((n) => n.port === port)
      if (!node) throw new Error(`no Redis Cluster node on ${port}`)
      if (alive(node.process)) return
      node.process = startNode(port, dir, nodeTimeoutMs)
      const deadline = Date.now() + 15_000
      while (!(await answers(port))) {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not come back`)
        await sleep(100)
      }
    },
    stop
  }
}

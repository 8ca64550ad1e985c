// What every measurement shares: a fresh PostgreSQL database, the real server as its own process (pinned to
// core 0 when taskset exists, so the load on core 1 does not compete with it), and a small HTTP client.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import http from 'node:http'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import postgres from 'postgres'

const ADMIN_URL = process.env.BENCH_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const serverEntry = fileURLToPath(new URL('../../../apps/server/src/server.ts', import.meta.url))
const serverDir = fileURLToPath(new URL('../../../apps/server/', import.meta.url))

export const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity })

export interface Response {
  status: number
  json: Record<string, unknown>
}

export function request(port: number, method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: {
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {})
        }
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c) => (text += c))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : {} }))
      }
    )
    req.on('error', reject)
    req.end(payload)
  })
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export interface RunningServer {
  port: number
  process: ChildProcess
  stop(): Promise<void>
}

/** Starts the server on a new database; stop() ends it and drops the database. */
export async function startServer(env: Record<string, string> = {}): Promise<RunningServer> {
  const port = Number(process.env.BENCH_PORT ?? 3900)
  const dbName = `chat_bench_${randomBytes(4).toString('hex')}`
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database "${dbName}"`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${dbName}`
  const pin = spawnSync('taskset', ['--version']).status === 0
  const node = [process.execPath, '--import', 'tsx', serverEntry]
  const child = spawn(pin ? 'taskset' : node[0]!, pin ? ['-c', '0', ...node] : node.slice(1), {
    cwd: serverDir,
    env: {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: url.toString(),
      JWT_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'warn',
      ...env
    },
    stdio: ['ignore', 'inherit', 'inherit']
  })
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await once(child, 'exit')
    }
    await admin.unsafe(`drop database if exists "${dbName}" with (force)`)
    await admin.end()
    agent.destroy()
  }
  for (let i = 0; ; i++) {
    const ready = await request(port, 'GET', '/readyz').then(
      (r) => r.status === 200,
      () => false
    )
    if (ready) break
    if (i > 150 || child.exitCode !== null) {
      await stop()
      throw new Error('server did not become ready')
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  return { port, process: child, stop }
}

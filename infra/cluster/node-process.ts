// One server process of the local cluster: its TypeScript source run through tsx as `pnpm dev` runs it (so the
// cluster needs no build), watched until /readyz says it is ready, and stoppable the ways the tests need (a
// signal of their choice, or a clean restart on the same port). Kept apart from cluster.ts so the
// orchestration there reads on its own.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const WORKSPACE_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SERVER_DIR = join(WORKSPACE_ROOT, 'apps/server')
const SERVER_ENTRY = join(SERVER_DIR, 'src/server.ts')
// The workspace packages resolve to their src/ under this condition (their `exports`), not to dist/.
const SERVER_ARGV = ['--conditions=@chat/source', '--import', 'tsx', SERVER_ENTRY]

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ClusterNode {
  /** 1-based. */
  readonly index: number
  readonly port: number
  /** http://127.0.0.1:<port>, bypassing nginx. */
  readonly url: string
  readonly pid: number | undefined
  readonly running: boolean
  readonly logFile: string | undefined
  /** Sends the signal (SIGTERM by default) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>
  /** Stops the node if it runs (SIGTERM), starts it again on the same port and waits for /readyz. */
  restart(): Promise<void>
}

/** A GET with a deadline, on its own connection; never throws for an HTTP status. */
export function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function tail(file: string | undefined, lines = 15): string {
  if (!file) return ''
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

export class NodeProcess implements ClusterNode {
  readonly index: number
  readonly port: number
  readonly url: string
  readonly logFile: string | undefined
  #env: NodeJS.ProcessEnv
  #readyTimeoutMs: number
  #child: ChildProcess | null = null
  #exited: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null })

  constructor(opts: {
    index: number
    port: number
    env: NodeJS.ProcessEnv
    output: 'inherit' | 'files'
    stateDir: string
    readyTimeoutMs: number
  }) {
    this.index = opts.index
    this.port = opts.port
    this.url = `http://127.0.0.1:${opts.port}`
    this.#env = opts.env
    this.#readyTimeoutMs = opts.readyTimeoutMs
    this.logFile = opts.output === 'files' ? join(opts.stateDir, `node-${opts.index}.log`) : undefined
  }

  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined
  }

  get running(): boolean {
    return this.#child !== null && this.#child.exitCode === null && this.#child.signalCode === null
  }

  // Each node gets its own process group (detached): a Ctrl-C on the terminal reaches only the cluster
  // process, which then stops the nodes once, gracefully (a second signal makes a node exit at once).
  async start(): Promise<void> {
    if (this.running) return
    let child: ChildProcess
    if (this.logFile) {
      const fd = openSync(this.logFile, 'a')
      try {
        child = spawn(process.execPath, SERVER_ARGV, {
          cwd: SERVER_DIR,
          env: this.#env,
          stdio: ['ignore', fd, fd],
          detached: true
        })
      } finally {
        closeSync(fd)
      }
    } else {
      child = spawn(process.execPath, SERVER_ARGV, {
        cwd: SERVER_DIR,
        env: this.#env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true
      })
      const prefix = `[node${this.index}] `
      createInterface({ input: child.stdout! }).on('line', (line) => process.stdout.write(prefix + line + '\n'))
      createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(prefix + line + '\n'))
    }
    this.#child = child
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
      child.once('error', () => resolve({ code: null, signal: null }))
    })
    await this.#waitReady(child)
  }

  async #waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.#readyTimeoutMs
    let last = 'no answer yet'
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = tail(this.logFile)
        throw new Error(
          `node ${this.index} (port ${this.port}) exited with ${child.exitCode ?? child.signalCode} before it was ` +
            `ready${log ? `; the end of ${this.logFile}:\n${log}` : ''}`
        )
      }
      try {
        const res = await httpGet(`${this.url}/readyz`, 2000)
        if (res.status === 200) return
        last = `${res.status} ${res.body}`
      } catch (error) {
        last = (error as Error).message
      }
      if (Date.now() > deadline) {
        throw new Error(`node ${this.index} (port ${this.port}) not ready after ${this.#readyTimeoutMs} ms: ${last}`)
      }
      await sleep(200)
    }
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitInfo> {
    if (this.running) this.#child!.kill(signal)
    return this.#exited
  }

  /** SIGTERM (the server closes within 10 s), SIGKILL if it is still there after 15 s. */
  async stop(): Promise<void> {
    if (!this.running) return
    const exited = this.kill('SIGTERM')
    const timer = setTimeout(() => this.#child?.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }

  /** For the process-exit hook: no waiting possible there. */
  signalSync(signal: NodeJS.Signals): void {
    if (this.running) this.#child!.kill(signal)
  }

  async restart(): Promise<void> {
    await this.stop()
    await this.start()
  }
}

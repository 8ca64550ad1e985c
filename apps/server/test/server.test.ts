// The embedded default, as a newcomer meets it: the real entry point started with no database, Redis or secret
// configured, in an empty directory. It must create its data directory, serve, stop cleanly on SIGTERM, and come
// back with the same users and the same signing secret, so tokens issued before a restart still work.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url))
// `--import tsx` would resolve tsx from the working directory, which here is an empty temporary one.
const TSX = import.meta.resolve('tsx')

interface Running {
  child: ChildProcess
  base: string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  output: () => string
}

async function start(t: Test, cwd: string): Promise<Running> {
  const child = spawn(process.execPath, ['--conditions=@chat/source', '--import', TSX, SERVER], {
    cwd,
    // Nothing configured but an ephemeral port, so parallel test files cannot collide on 3000.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal }))
  )
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Server listening" line in 60 s:\n${output}`)), 60_000)
    const look = () => {
      const match = /"msg":"Server listening at (http:\/\/[^"]+)"/.exec(output)
      if (match) {
        clearTimeout(timer)
        child.stdout!.off('data', look)
        resolve(match[1]!)
      }
    }
    child.stdout!.on('data', look)
    void exited.then(({ code }) => reject(new Error(`exited with ${code} before listening:\n${output}`)))
  })
  return { child, base, exited, output: () => output }
}

async function stop(t: Test, server: Running): Promise<void> {
  server.child.kill('SIGTERM')
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 30_000)
  const { code, signal } = await server.exited
  clearTimeout(timer)
  t.equal(signal, null, 'not killed')
  t.equal(code, 0, 'SIGTERM is a clean exit 0')
}

async function call(base: string, method: string, path: string, body?: object, token?: string) {
  const res = await fetch(base + path, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {})
    },
    body: body ? JSON.stringify(body) : undefined
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

t.test('with no configuration at all it runs on embedded PostgreSQL in ./data and survives a restart', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'chat-embedded-'))
  t.teardown(() => rm(cwd, { recursive: true, force: true }))
  const credentials = { username: 'first_user', password: 'first user password' }

  const first = await start(t, cwd)
  t.match(first.base, /^http:\/\/127\.0\.0\.1:\d+$/, 'listens on loopback by default')
  t.equal((await call(first.base, 'GET', '/readyz')).status, 200)
  const created = await call(first.base, 'POST', '/users', credentials)
  t.equal(created.status, 201)
  const session = await call(first.base, 'POST', '/auth/login', credentials)
  t.equal(session.status, 200)
  const { accessToken, refreshToken } = session.body
  t.equal((await call(first.base, 'GET', '/users/me', undefined, accessToken)).body.id, created.body.id)

  const dataDir = join(cwd, 'data')
  t.ok((await stat(dataDir)).isDirectory(), 'DATA_DIR defaults to ./data and is created')
  const secret = await stat(join(dataDir, 'jwt-secret'))
  t.equal(secret.mode & 0o777, 0o600, 'the generated secret is readable by its owner only')
  await stop(t, first)

  const second = await start(t, cwd)
  const me = await call(second.base, 'GET', '/users/me', undefined, accessToken)
  t.equal(me.status, 200, 'an access token from before the restart still works')
  t.equal(me.body.id, created.body.id)
  t.equal((await call(second.base, 'POST', '/auth/login', credentials)).status, 200, 'the user is still there')
  t.equal((await call(second.base, 'POST', '/auth/refresh', { refreshToken })).status, 200, 'and so is the session')
  t.equal((await stat(join(dataDir, 'jwt-secret'))).mtimeMs, secret.mtimeMs, 'the secret was kept, not rewritten')
  await stop(t, second)
  t.notMatch(first.output() + second.output(), /"level":(50|60)/, 'no error was logged')
})

// The web client's static serving: the built files at `/` with their cache headers, `/chat/*` answered with
// index.html, and the API beside them untouched (its routes, its JSON 404 for unknown paths, the OpenAPI
// document free of static routes). Without a build the node still starts and serves the API.
import tap, { type Test } from 'tap'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { build, signUp } from '../helper.ts'

const INDEX = '<!doctype html><title>Chat</title><script type="module" src="/assets/index-Ab12Cd34.js"></script>'
const SCRIPT = 'console.log("chat")'

async function builtClient(t: Test): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'chat-web-'))
  t.teardown(() => rm(root, { recursive: true, force: true }))
  await mkdir(join(root, 'assets'))
  await writeFile(join(root, 'index.html'), INDEX)
  await writeFile(join(root, 'assets', 'index-Ab12Cd34.js'), SCRIPT)
  await writeFile(join(root, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>')
  return root
}

tap.test('the built client at /, hashed assets immutable, index.html revalidated, the API untouched', async (t) => {
  const app = await build(t, { web: { root: await builtClient(t) } })

  const index = await app.inject({ method: 'GET', url: '/' })
  t.equal(index.statusCode, 200)
  t.match(index.headers['content-type'], /^text\/html/)
  t.equal(index.headers['cache-control'], 'no-cache')
  t.equal(index.body, INDEX)

  const script = await app.inject({ method: 'GET', url: '/assets/index-Ab12Cd34.js' })
  t.equal(script.statusCode, 200)
  t.match(script.headers['content-type'], /javascript/)
  t.equal(script.headers['cache-control'], 'public, max-age=31536000, immutable')
  t.equal(script.body, SCRIPT)

  const icon = await app.inject({ method: 'GET', url: '/favicon.svg' })
  t.equal(icon.statusCode, 200)
  t.equal(icon.headers['cache-control'], 'no-cache', 'an unhashed file is revalidated')

  for (const url of ['/chat', '/chat/', '/chat/5b6c1f7e-0000-4000-8000-000000000000']) {
    const page = await app.inject({ method: 'GET', url })
    t.equal(page.statusCode, 200, `${url}: the client's own path`)
    t.equal(page.body, INDEX)
    t.equal(page.headers['cache-control'], 'no-cache')
  }

  const missing = await app.inject({ method: 'GET', url: '/assets/nope.js' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'CHAT_NOT_FOUND', 'an unknown file is the API’s JSON 404')
  const unknown = await app.inject({ method: 'GET', url: '/nowhere', headers: { accept: 'text/html' } })
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'CHAT_NOT_FOUND', 'an unknown path is not the page')

  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/rooms' })).json().code, 'CHAT_UNAUTHORIZED')
  const user = await signUp(app)
  const rooms = await app.inject({ method: 'GET', url: '/rooms', headers: user.auth })
  t.equal(rooms.statusCode, 200)
  t.same(rooms.json().items, [])
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as { paths: Record<string, unknown> }
  t.same(
    Object.keys(doc.paths).filter((path) => path === '/' || path.startsWith('/assets') || path.startsWith('/chat')),
    [],
    'no static route in the OpenAPI document'
  )
})

tap.test('without a built client the node starts, says how to build it, and serves the API', async (t) => {
  const lines: string[] = []
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    }
  })
  const root = join(tmpdir(), `chat-web-missing-${process.pid}`)
  const app = await build(t, { web: { root }, logStream, config: { logLevel: 'info' } })
  await app.ready()
  t.equal(lines.filter((line) => line.includes('pnpm --filter @chat/web build')).length, 1, 'one line on how')
  const index = await app.inject({ method: 'GET', url: '/' })
  t.equal(index.statusCode, 404)
  t.equal(index.json().code, 'CHAT_NOT_FOUND')
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
})

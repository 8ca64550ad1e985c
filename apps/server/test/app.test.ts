// Refusals that happen before a route runs (Node's HTTP parser, the router, the content-type parsers) have the
// contract's error shape like every other error, quote at most a bounded part of the request, and appear in
// every operation's OpenAPI responses.
import t, { type Test } from 'tap'
import { connect } from 'node:net'
import { STATUS_CODES } from 'node:http'
import type { LightMyRequestResponse } from 'fastify'
import { listen } from '@chat/testkit'
import { MAX_URL_LENGTH } from '../src/app.ts'
import { MAX_ECHO, bounded } from '../src/errors.ts'
import { build, signUp } from './helper.ts'

const app = await build(t)
const base = new URL(await listen(app))
const alice = await signUp(app)
const bearer = { authorization: `Bearer ${alice.accessToken}` }

/** Sends raw bytes on a fresh connection; resolves with everything the server wrote before closing it. */
function raw(request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(base.port), base.hostname)
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (received += chunk))
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(received) : reject(err)))
    socket.on('close', () => resolve(received))
    socket.write(request)
  })
}

function parseRaw(response: string) {
  const [head = '', body = ''] = response.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()])
  )
  return { status: Number(statusLine.split(' ')[1]), statusLine, headers, body: JSON.parse(body) }
}

function inShape(t: Test, res: LightMyRequestResponse, status: number, code?: string) {
  t.equal(res.statusCode, status, `${status} (${res.body.slice(0, 160)})`)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'])
  t.match(body, { statusCode: status, error: STATUS_CODES[status], code: code ?? String })
  t.ok(body.message.length <= MAX_ECHO + 200, 'a bounded message')
  return body
}

t.test('headers past Node’s limit: 431 in the error shape, then the connection closes', async (t) => {
  const response = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`)
  const { status, statusLine, headers, body } = parseRaw(response)
  t.equal(status, 431)
  t.equal(statusLine, 'HTTP/1.1 431 Request Header Fields Too Large')
  t.match(headers, { 'content-type': /^application\/json/, connection: 'close' })
  t.equal(Number(headers['content-length']), Buffer.byteLength(JSON.stringify(body)))
  t.same(body, {
    statusCode: 431,
    code: 'CHAT_HEADERS_TOO_LARGE',
    error: 'Request Header Fields Too Large',
    message: body.message
  })
})

t.test('a URL past Node’s limit is 431 too; bytes that are not HTTP are 400', async (t) => {
  const long = parseRaw(await raw(`GET /rooms/${'x'.repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`))
  t.match(long.body, { statusCode: 431, code: 'CHAT_HEADERS_TOO_LARGE' })
  const garbage = parseRaw(await raw('NOT HTTP AT ALL\r\n\r\n'))
  t.equal(garbage.status, 400)
  t.match(garbage.body, { statusCode: 400, code: 'CHAT_MALFORMED_REQUEST', error: 'Bad Request' })
})

t.test('a malformed id is 400 at any length a URL may have; a longer URL is 414', async (t) => {
  for (const length of [37, 300, 2000, MAX_URL_LENGTH - 100]) {
    const res = await app.inject({ url: `/rooms/${'x'.repeat(length)}`, headers: bearer })
    const body = inShape(t, res, 400, 'FST_ERR_VALIDATION')
    t.notMatch(body.message, /xxxxxxxx/, 'the id is not echoed')
  }
  for (const url of [`/rooms/${'x'.repeat(MAX_URL_LENGTH)}`, `/users?q=${'a'.repeat(MAX_URL_LENGTH)}`]) {
    inShape(t, await app.inject({ url, headers: bearer }), 414, 'CHAT_URI_TOO_LONG')
  }
  inShape(t, await app.inject({ url: '/rooms/%E0%A4%A/messages', headers: bearer }), 400, 'CHAT_BAD_URL')
})

t.test('messages quote at most a bounded part of the request', async (t) => {
  const notFound = inShape(t, await app.inject({ url: `/nowhere/${'y'.repeat(5000)}` }), 404, 'CHAT_NOT_FOUND')
  t.ok(notFound.message.length < MAX_ECHO + 30, 'the path is cut short')
  const type = `application/${'z'.repeat(4000)}`
  const res = await app.inject({ method: 'POST', url: '/users', payload: '{}', headers: { 'content-type': type } })
  t.ok(res.json().message.length <= 301, `415 message bounded (${res.statusCode})`)
  inShape(t, res, res.statusCode)
  const json = await app.inject({
    method: 'POST',
    url: '/users',
    payload: `{"username": ${'['.repeat(5000)}`,
    headers: { 'content-type': 'application/json' }
  })
  inShape(t, json, 400)
  t.equal(bounded('abc', 5), 'abc')
  t.equal(bounded('abcdef', 5), 'abcde…')
})

t.test('every operation lists 414 and 431; the schemas state the cross-field rules', async (t) => {
  const doc = (await app.inject({ url: '/docs/json' })).json()
  let operations = 0
  for (const [path, item] of Object.entries<Record<string, { responses: Record<string, unknown> }>>(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      operations++
      t.ok(op.responses['414'] && op.responses['431'], `${method.toUpperCase()} ${path}`)
    }
  }
  t.ok(operations >= 20, `${operations} operations`)
  const history = doc.paths['/rooms/{roomId}/messages'].get.parameters.map((p: { name: string }) => p.name)
  t.ok(history.includes('before') && history.includes('after'))
  const patch = doc.paths['/users/{userId}'].patch.requestBody.content['application/json'].schema
  t.same(patch.dependentRequired, { password: ['currentPassword'] })
})

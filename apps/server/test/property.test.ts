// Properties every operation of the OpenAPI document keeps, whatever it is sent: never a 5xx; every error in
// the contract's shape, `statusCode` its status and `error` its reason phrase; every 2xx JSON body valid
// against the operation's own documented response schema. Requests come from the operations' schemas and
// hostile values (arbitraries.ts). PROPERTY_RUNS sets the runs per operation, PROPERTY_SEED the seed.
import t from 'tap'
import fc from 'fast-check'
import { STATUS_CODES } from 'node:http'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { Ajv2019 } from 'ajv/dist/2019.js'
import addFormats from 'ajv-formats'
import { as, build, signUp, type TestUser } from './helper.ts'
import { createRoom } from './rooms-helper.ts'
import { MISSING, operationsOf, requestFor, resolveIds, type Operation, type RequestSpec } from './arbitraries.ts'

const RUNS = Number(process.env.PROPERTY_RUNS ?? 6)
const SEED = Number(process.env.PROPERTY_SEED ?? 20261201)

const app = await build(t, { config: { maxStreamsPerUser: 100_000 } })
const doc = (await app.inject({ url: '/docs/json' })).json()
const operations = operationsOf(doc)
const ajv = new Ajv2019({ strict: false, allErrors: true })
addFormats.default(ajv)

interface World {
  me: TestUser
  other: TestUser
  room: string
  foreignRoom: string
}

async function newWorld(): Promise<World> {
  const [me, other] = await Promise.all([signUp(app), signUp(app)])
  const [room, foreignRoom] = await Promise.all([createRoom(app, me), createRoom(app, other)])
  return { me, other, room: room.id, foreignRoom: foreignRoom.id }
}

// One world per file; what an operation ended (the caller's session, a user, a room) is replaced.
const world = { current: await newWorld() }

async function renewIfBroken(): Promise<void> {
  const w = world.current
  const ok = async (user: TestUser, url: string) => (await as(app, user, { url })).statusCode === 200
  const [me, room, other, foreignRoom] = await Promise.all([
    ok(w.me, '/users/me'),
    ok(w.me, `/rooms/${w.room}`),
    ok(w.other, '/users/me'),
    ok(w.other, `/rooms/${w.foreignRoom}`)
  ])
  const next = { ...w }
  if (!me) next.me = await signUp(app)
  if (!me || !room) next.room = (await createRoom(app, next.me)).id
  if (!other) next.other = await signUp(app)
  if (!other || !foreignRoom) next.foreignRoom = (await createRoom(app, next.other)).id
  world.current = next
}

function urlOf(op: Operation, spec: RequestSpec, ids: Record<string, string>): string {
  const params = resolveIds(spec.pathParams, ids) as Record<string, unknown>
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = String(params[name])
    // As is only when it stays one printable ASCII path segment; otherwise percent-encoded as UTF-8, as a client
    // would (a lone surrogate becomes U+FFFD, as TextEncoder makes it).
    if (spec.rawPath && /^[\x21-\x7e]*$/.test(value) && !/[/?#]/.test(value)) return value
    return encodeURIComponent(Buffer.from(value).toString())
  })
  const query = new URLSearchParams()
  for (const [k, v] of Object.entries(resolveIds(spec.query, ids) as Record<string, unknown>)) query.set(k, String(v))
  const qs = query.toString()
  return qs ? `${path}?${qs}` : path
}

function headersOf(spec: RequestSpec, w: World): Record<string, string> {
  const headers: Record<string, string> = {}
  if (spec.auth === 'valid') headers.authorization = `Bearer ${w.me.accessToken}`
  if (spec.auth === 'garbage') headers.authorization = 'Bearer not.a.token'
  if (spec.auth === 'refresh-token') headers.authorization = `Bearer ${w.me.refreshToken}`
  if (spec.lastEventId !== undefined) headers['last-event-id'] = spec.lastEventId
  return headers
}

interface Answer {
  status: number
  contentType: string
  body: string
}

/** Sends the request; a stream that opened is left to the app's close (its 200 is all this test reads). */
async function send(op: Operation, options: InjectOptions): Promise<Answer> {
  if (!op.stream) {
    const res: LightMyRequestResponse = await app.inject(options)
    return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body: res.body }
  }
  const res = await app.inject({ ...options, payloadAsStream: true })
  const contentType = String(res.headers['content-type'] ?? '')
  if (res.statusCode === 200) return { status: 200, contentType, body: '' }
  const chunks: Buffer[] = []
  for await (const chunk of res.stream()) chunks.push(chunk as Buffer)
  return { status: res.statusCode, contentType, body: Buffer.concat(chunks).toString() }
}

function check(op: Operation, answer: Answer): string | null {
  const { status, contentType, body } = answer
  if (status >= 500) return `a ${status}: ${body.slice(0, 300)}`
  if (status >= 400) {
    let parsed: Record<string, unknown>
    try {
      parsed = JSON.parse(body) as Record<string, unknown>
    } catch {
      return `a ${status} that is not JSON: ${body.slice(0, 200)}`
    }
    const keys = Object.keys(parsed).sort().join(',')
    if (keys !== 'code,error,message,statusCode') return `a ${status} not in the error shape: ${body.slice(0, 300)}`
    if (parsed.statusCode !== status) return `statusCode ${String(parsed.statusCode)} on a ${status}`
    if (parsed.error !== STATUS_CODES[status]) return `error ${String(parsed.error)} on a ${status}`
    if (typeof parsed.code !== 'string' || !/^(CHAT|FST)_[A-Z0-9_]+$/.test(parsed.code))
      return `code ${String(parsed.code)}`
    if (typeof parsed.message !== 'string' || parsed.message.length > 500) return 'a missing or unbounded message'
    return null
  }
  if (status >= 200 && status < 300) {
    const documented = op.responses[String(status)]
    if (!documented) return `an undocumented ${status}`
    if (op.stream && status === 200) {
      return contentType.startsWith('text/event-stream') ? null : `a stream answered as ${contentType}`
    }
    const schema = documented.content?.['application/json']?.schema
    if (!schema || status === 204 || body === '') return null
    const validate = ajv.compile(schema)
    if (!validate(JSON.parse(body))) return `a ${status} off its schema: ${ajv.errorsText(validate.errors)}`
  }
  return null
}

t.ok(operations.length >= 22, `${operations.length} operations in the OpenAPI document`)

for (const op of operations) {
  t.test(`${op.method} ${op.path}`, async (t) => {
    const failures: string[] = []
    const seen = new Map<number, number>()
    await fc
      .assert(
        fc.asyncProperty(requestFor(op), async (spec) => {
          const w = world.current
          const ids = { me: w.me.id, other: w.other.id, room: w.room, foreignRoom: w.foreignRoom, missing: MISSING }
          const url = urlOf(op, spec, ids)
          const options: InjectOptions = {
            method: op.method as InjectOptions['method'],
            url,
            headers: headersOf(spec, w)
          }
          if (spec.body !== undefined) {
            options.payload = JSON.stringify(resolveIds(spec.body, ids)) ?? 'null'
            options.headers = { ...options.headers, 'content-type': 'application/json' }
          }
          const answer = await send(op, options)
          seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1)
          if (op.method !== 'GET' && answer.status < 300) await renewIfBroken()
          const problem = check(op, answer)
          if (problem) failures.push(`${op.method} ${url.slice(0, 200)}: ${problem}`)
          return problem === null
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: true }
      )
      .catch((error: unknown) => {
        t.fail(`seed ${SEED} (PROPERTY_SEED=${SEED} PROPERTY_RUNS=${RUNS}): ${failures.at(-1) ?? String(error)}`)
        t.comment(String(error).slice(0, 2000))
      })
    t.pass(`${RUNS} runs; statuses ${JSON.stringify(Object.fromEntries(seen))}`)
  })
}

// A real browser's EventSource against the stream: headless Chromium (Debian's, driven by playwright-core) opens
// it on the app's own origin with ?access_token=, as a web client does, and the page keeps every event it
// dispatches. Live events arrive in order, each once; when the server goes away and a new app comes up on the
// same port and database, the browser reconnects by itself with Last-Event-ID and misses or repeats nothing.
// Without Chromium the file skips locally and fails in CI (CI=true), where the browser test must run.
import tap, { type Test } from 'tap'
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type Page } from 'playwright-core'
import { EVENT_TYPES, type RoomEvent } from '@chat/contracts'
import { listen, until } from '@chat/testkit'
import { as, build, freshDatabase, signUp, type TestUser } from '../helper.ts'
import { createRoom, fullHistory, getRoom, joinRoom, leaveRoom, post } from '../rooms-helper.ts'

/** The stream under test, as the page opens it. The user stream (`/events`) will be this one line. */
const streamPath = (roomId: string, token: string) =>
  `/rooms/${roomId}/events?access_token=${encodeURIComponent(token)}`

/** Every event type the stream sends: the stored types, then the unstored ones. */
const STREAM_TYPES = [...EVENT_TYPES, 'room.deleted', 'close']
const STORED = new Set<string>(EVENT_TYPES)

/** What the page saw, in the order it saw it; `connection` counts the `open` events so far. */
interface Seen {
  kind: 'open' | 'error' | 'event'
  connection: number
  readyState: number
  type?: string
  data?: string
  lastEventId?: string
}

// The page's own script, as plain JavaScript: a function written in this file would be sent to the page as
// transpiled here, with helpers (tsx names functions through `__name`) that the page does not have.
const OPEN_IN_PAGE = `(url, types) => {
  const events = (window.__events = [])
  let connection = 0
  const source = (window.__source = new EventSource(url))
  source.addEventListener('open', () => {
    connection += 1
    events.push({ kind: 'open', connection, readyState: source.readyState })
  })
  source.addEventListener('error', () => events.push({ kind: 'error', connection, readyState: source.readyState }))
  for (const type of new Set(types)) {
    source.addEventListener(type, (e) =>
      events.push({ kind: 'event', connection, readyState: source.readyState, type: e.type, data: e.data, lastEventId: e.lastEventId })
    )
  }
}`

/** Opens `new EventSource(path)` in the page, which collects what it dispatches into `window.__events`. */
async function openEventSource(page: Page, path: string): Promise<void> {
  await page.evaluate(`(${OPEN_IN_PAGE})(${JSON.stringify(path)}, ${JSON.stringify(STREAM_TYPES)})`)
}

async function seen(page: Page): Promise<Seen[]> {
  return page.evaluate<Seen[]>('window.__events')
}

/** The stored events the page received, parsed, each with the id the browser keeps for a reconnect. */
async function storedEvents(page: Page): Promise<Array<{ event: RoomEvent; lastEventId: string; connection: number }>> {
  return (await seen(page))
    .filter((s) => s.kind === 'event' && STORED.has(s.type!))
    .map((s) => ({ event: JSON.parse(s.data!) as RoomEvent, lastEventId: s.lastEventId!, connection: s.connection }))
}

const key = (e: RoomEvent) => `${e.seq} ${e.type}`

const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const inCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0'
const missing = await access(executablePath, constants.X_OK).then(
  () => undefined,
  () =>
    `no Chromium at ${executablePath}: run infra/scripts/machine-setup.sh (apt package chromium) or set CHROMIUM_PATH`
)
if (missing && inCi) throw new Error(`${missing}; the browser test runs in CI and must not be skipped`)
if (missing) tap.plan(0, missing)
else await browserTests()

async function browserTests(): Promise<void> {
  const browser: Browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] })
  tap.teardown(() => browser.close())

  /** A page on the app's own origin, so the EventSource is same-origin; closed when the test ends. */
  async function pageAt(t: Test, base: string): Promise<Page> {
    const context = await browser.newContext()
    t.teardown(() => context.close())
    const page = await context.newPage()
    await page.goto(`${base}/healthz`)
    return page
  }

  /** Opens the member's stream in the page and waits until the app has attached it. */
  async function openAttached(t: Test, app: FastifyInstance, base: string, member: TestUser, roomId: string) {
    const page = await pageAt(t, base)
    await openEventSource(page, streamPath(roomId, member.accessToken))
    await until(async () => (await seen(page)).some((s) => s.kind === 'open'), 'the EventSource to open')
    await until(() => app.realtime.hub.countForUser(member.id) === 1, 'the stream to attach')
    return page
  }

  /** Waits until the page holds `count` stored events; a timeout tells what the page saw meanwhile. */
  async function untilStored(page: Page, count: number, what: string): Promise<void> {
    try {
      await until(async () => (await storedEvents(page)).length >= count, what)
    } catch (err) {
      const record = (await seen(page)).map(({ kind, connection, readyState, type, lastEventId }) =>
        kind === 'event' ? `${type}#${lastEventId}@${connection}` : `${kind}@${connection}/${readyState}`
      )
      throw new Error(`${(err as Error).message}; the page saw: ${record.join(' ')}`, { cause: err })
    }
  }

  /** The page received exactly the room's log after `fromSeq`, in order, each once, each with its own id. */
  async function assertExactlyTheLog(
    t: Test,
    app: FastifyInstance,
    page: Page,
    user: TestUser,
    roomId: string,
    fromSeq: number
  ) {
    const received = await storedEvents(page)
    const history = (await fullHistory(app, user, roomId)).filter((e) => e.seq > fromSeq)
    t.same(
      received.map((r) => key(r.event)),
      history.map(key),
      'every stored event of the log, in order, each once'
    )
    t.same(
      received.map((r) => r.event.id),
      history.map((e) => e.id),
      'the same events as the history'
    )
    const ids = received.map((r) => r.lastEventId)
    t.ok(
      ids.every((id) => id !== ''),
      'each stored event carries an id'
    )
    t.equal(new Set(ids).size, ids.length, 'each with an id of its own')
    return received
  }

  tap.test('receives live events posted over REST, in order, each once', async (t) => {
    const app = await build(t)
    const base = await listen(app)
    const [owner, member, visitor] = await Promise.all([signUp(app), signUp(app), signUp(app)])
    const room = await createRoom(app, owner)
    await joinRoom(app, member, room.id)
    const fromSeq = (await getRoom(app, owner, room.id)).lastSeq
    const page = await openAttached(t, app, base, member, room.id)

    const first = await post(app, owner, room.id, 'first from the owner')
    const second = await post(app, member, room.id, 'second, from the page’s own user')
    await post(app, owner, room.id, 'third\nwith a line break')
    const edit = { roomId: room.id, seq: first.seq, text: 'first, edited' }
    t.equal((await as(app, owner, { method: 'POST', url: '/rooms/message/edit', payload: edit })).statusCode, 201)
    const react = { roomId: room.id, seq: second.seq, key: '👍' }
    t.equal((await as(app, owner, { method: 'POST', url: '/rooms/message/react', payload: react })).statusCode, 201)
    const unreact = { ...react, remove: true }
    t.equal((await as(app, owner, { method: 'POST', url: '/rooms/message/react', payload: unreact })).statusCode, 201)
    await joinRoom(app, visitor, room.id)
    await leaveRoom(app, visitor, room.id)
    const del = { roomId: room.id, seq: second.seq }
    t.equal((await as(app, owner, { method: 'POST', url: '/rooms/message/delete', payload: del })).statusCode, 201)

    const lastSeq = (await getRoom(app, owner, room.id)).lastSeq
    await untilStored(page, lastSeq - fromSeq, 'every posted event in the page')
    const received = await assertExactlyTheLog(t, app, page, member, room.id, fromSeq)
    t.same(
      received.map((r) => r.event.type),
      [
        'message',
        'message',
        'message',
        'message.edited',
        'reaction.added',
        'reaction.removed',
        'member.joined',
        'member.left',
        'message.deleted'
      ],
      'each type as its named event'
    )
    t.same(
      received.filter((r) => r.event.type === 'message').map((r) => r.event.text),
      ['first from the owner', 'second, from the page’s own user', 'third\nwith a line break'],
      'the texts exactly'
    )
    t.ok(
      received.every((r) => r.connection === 1),
      'all on the first connection'
    )

    t.equal(
      (await as(app, owner, { method: 'POST', url: '/rooms/delete', payload: { roomId: room.id } })).statusCode,
      204
    )
    await until(async () => (await seen(page)).some((s) => s.type === 'close'), 'the close event')
    const tail = (await seen(page)).filter((s) => s.kind === 'event' && !STORED.has(s.type!))
    t.same(
      tail.map((s) => [s.type, JSON.parse(s.data!)]),
      [
        ['room.deleted', { roomId: room.id }],
        ['close', { reason: 'room_deleted' }]
      ],
      'then room.deleted and close'
    )
  })

  tap.test('resumes by itself after the server restarts: nothing lost, nothing repeated', async (t) => {
    // One database for both apps (a passed-in database outlives the app), dropped after both have closed.
    const database = await freshDatabase()
    t.teardown(() => database.drop())
    const before = await build(t, { database: database.options })
    const base = await listen(before)
    const port = Number(new URL(base).port)
    const [owner, member] = await Promise.all([signUp(before), signUp(before)])
    const room = await createRoom(before, owner)
    await joinRoom(before, member, room.id)
    const fromSeq = (await getRoom(before, owner, room.id)).lastSeq
    const page = await openAttached(t, before, base, member, room.id)

    await post(before, owner, room.id, 'before the restart 1')
    await post(before, member, room.id, 'before the restart 2')
    await untilStored(page, 2, 'the events posted before the restart')

    await before.close()
    await until(async () => (await seen(page)).some((s) => s.type === 'close'), 'the shutdown close event')
    await until(async () => (await seen(page)).some((s) => s.kind === 'error'), 'the EventSource to notice')
    t.same(
      (await seen(page)).filter((s) => s.type === 'close').map((s) => JSON.parse(s.data!)),
      [{ reason: 'shutdown' }],
      'told why the stream ended'
    )

    // The new app writes before it listens, so the browser can only get these by resuming from its last id.
    const after = await build(t, { database: database.options })
    await post(after, owner, room.id, 'while the browser was away 1')
    await post(after, owner, room.id, 'while the browser was away 2')
    await after.listen({ port, host: '127.0.0.1' })
    await untilStored(page, 4, 'the events posted while away, replayed on the reconnect')
    await until(() => after.realtime.hub.countForUser(member.id) === 1, 'the reconnected stream to attach')
    await post(after, owner, room.id, 'after the restart, live 1')
    await post(after, member, room.id, 'after the restart, live 2')

    const lastSeq = (await getRoom(after, owner, room.id)).lastSeq
    await untilStored(page, lastSeq - fromSeq, 'every event in the page')
    const received = await assertExactlyTheLog(t, after, page, member, room.id, fromSeq)
    t.same(
      received.map((r) => r.event.text),
      [
        'before the restart 1',
        'before the restart 2',
        'while the browser was away 1',
        'while the browser was away 2',
        'after the restart, live 1',
        'after the restart, live 2'
      ]
    )
    t.same(
      received.map((r) => r.connection),
      [1, 1, 2, 2, 2, 2],
      'the first two on the first connection, the rest on the one the browser reopened'
    )
    const all = await seen(page)
    t.equal(all.filter((s) => s.kind === 'open').length, 2, 'opened twice: once, then once more by itself')
    t.ok(
      all.filter((s) => s.kind === 'error').every((s) => s.readyState === 0),
      'every error was followed by a retry (CONNECTING), never CLOSED'
    )
    t.equal(await page.evaluate<number>('window.__source.readyState'), 1, 'open at the end')
  })
}

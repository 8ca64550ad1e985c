// A real browser's EventSource against the streams: headless Chromium (Debian's, driven by playwright-core) opens
// them on the app's own origin with ?access_token=, as a web client does, and the page keeps every event it
// dispatches. The user stream (`/events`) is the main case: live events of several rooms arrive in each room's
// order, each once, a room joined meanwhile starts flowing and a deleted one is announced while the stream goes
// on; when the server goes away and a new app comes up on the same port and database, the browser reconnects by
// itself with its Last-Event-ID cursor and misses or repeats nothing in any room. One room stream
// (`/rooms/:roomId/events`) keeps that stream covered in a browser too.
// Without Chromium the file skips locally and fails in CI (CI=true), where the browser test must run.
import tap, { type Test } from 'tap'
import { constants } from 'node:fs'
import { access } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type Page } from 'playwright-core'
import { EVENT_TYPES, type Room, type RoomEvent } from '@chat/contracts'
import { listen, until } from '@chat/testkit'
import { as, build, freshDatabase, signUp, type TestUser } from '../helper.ts'
import { createRoom, fullHistory, getRoom, joinRoom, leaveRoom, post } from '../rooms-helper.ts'

/** The streams under test, as the page opens them. */
const userStreamPath = (token: string) => `/events?access_token=${encodeURIComponent(token)}`
const roomStreamPath = (roomId: string, token: string) =>
  `/rooms/${roomId}/events?access_token=${encodeURIComponent(token)}`

/** Every event type the streams send: the stored types, then the unstored ones. */
const STREAM_TYPES = [...EVENT_TYPES, 'ready', 'reset', 'room.deleted', 'room.left', 'close']
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

/** A stored event as the page received it, with the id the browser keeps for a reconnect. */
interface Received {
  event: RoomEvent
  lastEventId: string
  connection: number
}

/** Where each room of a user stream stands, as `ready` tells it. */
type Positions = Array<{ roomId: string; lastSeq: number }>

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

/** The stored events among what the page saw, parsed. */
function storedOf(all: Seen[]): Received[] {
  return all
    .filter((s) => s.kind === 'event' && STORED.has(s.type!))
    .map((s) => ({ event: JSON.parse(s.data!) as RoomEvent, lastEventId: s.lastEventId!, connection: s.connection }))
}

/** The unstored events (ready, reset, room.deleted, room.left, close) among what the page saw. */
function noticesOf(all: Seen[]): Seen[] {
  return all.filter((s) => s.kind === 'event' && !STORED.has(s.type!))
}

/** An unstored event's data, parsed; a `ready`'s rooms in the order of their ids. */
function dataOf(s: Seen): Record<string, unknown> {
  const data = JSON.parse(s.data!) as Record<string, unknown>
  if (s.type === 'ready') (data.rooms as Positions).sort(byRoomId)
  return data
}

/** The `ready` events the page saw, with the connection each came on. */
function readiesOf(all: Seen[]): Array<{ connection: number; rooms: Positions }> {
  return all
    .filter((s) => s.type === 'ready')
    .map((s) => ({ connection: s.connection, rooms: dataOf(s).rooms as Positions }))
}

/** What the page saw, one short word each (a room by the end of its id), for failure messages. */
function record(all: Seen[]): string {
  const room = (roomId: string) => roomId.slice(-6)
  return all
    .map((s) => {
      if (s.kind !== 'event') return `${s.kind}@${s.connection}/${s.readyState}`
      if (STORED.has(s.type!)) {
        const e = JSON.parse(s.data!) as RoomEvent
        return `${s.type}:${room(e.roomId)}/${e.seq}@${s.connection}`
      }
      if (s.type === 'ready') {
        const rooms = (JSON.parse(s.data!) as { rooms: Positions }).rooms
        return `ready(${rooms.map((p) => `${room(p.roomId)}/${p.lastSeq}`).join(',')})@${s.connection}`
      }
      return `${s.type}${s.data}@${s.connection}`
    })
    .join(' ')
}

const key = (e: RoomEvent) => `${e.seq} ${e.type}`
const byRoomId = (a: { roomId: string }, b: { roomId: string }) => a.roomId.localeCompare(b.roomId)

/** Each room's position now: what a `ready` sent at this moment must say. */
async function positions(app: FastifyInstance, user: TestUser, rooms: Room[]): Promise<Positions> {
  const now: Positions = []
  for (const room of rooms) now.push({ roomId: room.id, lastSeq: (await getRoom(app, user, room.id)).lastSeq })
  return now.sort(byRoomId)
}

/** How many stored events the rooms gained since the positions in `from`. */
function countSince(heads: Positions, from: Map<Room, number>): number {
  let count = 0
  for (const [room, fromSeq] of from) count += heads.find((head) => head.roomId === room.id)!.lastSeq - fromSeq
  return count
}

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

  /** Waits until what the page saw passes `check`; a timeout tells what the page saw meanwhile. */
  async function untilPage(page: Page, check: (all: Seen[]) => boolean, what: string): Promise<void> {
    try {
      await until(async () => check(await seen(page)), what)
    } catch (err) {
      throw new Error(`${(err as Error).message}; the page saw: ${record(await seen(page))}`, { cause: err })
    }
  }

  /** Waits until the page holds `count` stored events. */
  const untilStored = (page: Page, count: number, what: string) =>
    untilPage(page, (all) => storedOf(all).length >= count, what)

  /** Opens the user's stream (`/events`) in the page and waits for its `ready`: the stream is live. */
  async function openUserStreamInPage(t: Test, base: string, user: TestUser): Promise<Page> {
    const page = await pageAt(t, base)
    await openEventSource(page, userStreamPath(user.accessToken))
    await untilPage(page, (all) => readiesOf(all).length === 1, 'the user stream to be ready')
    return page
  }

  /** Each stored event carries an id of its own (a user stream's cursor is at most 512 characters). */
  function assertIds(t: Test, received: Received[]): void {
    const ids = received.map((r) => r.lastEventId)
    t.ok(
      ids.every((id) => id !== '' && id.length <= 512),
      'each stored event carries an id'
    )
    t.equal(new Set(ids).size, ids.length, 'each with an id of its own')
  }

  /**
   * Per room, the page received exactly the room's log after its position in `from`, in order, each once, and
   * nothing of any other room.
   */
  async function assertEveryRoomExactly(
    t: Test,
    app: FastifyInstance,
    user: TestUser,
    received: Received[],
    from: Map<Room, number>
  ): Promise<void> {
    const expected = new Set([...from.keys()].map((room) => room.id))
    t.same(
      [...new Set(received.map((r) => r.event.roomId))].filter((roomId) => !expected.has(roomId)),
      [],
      'nothing of any other room'
    )
    for (const [room, fromSeq] of from) {
      const got = received.filter((r) => r.event.roomId === room.id)
      const history = (await fullHistory(app, user, room.id)).filter((e) => e.seq > fromSeq)
      t.same(
        got.map((r) => key(r.event)),
        history.map(key),
        `${room.name}: every stored event after seq ${fromSeq}, in order, each once`
      )
      t.same(
        got.map((r) => r.event.id),
        history.map((e) => e.id),
        `${room.name}: the same events as the history`
      )
    }
    assertIds(t, received)
  }

  tap.test('the user stream: live events of several rooms, each room in order, each event once', async (t) => {
    const app = await build(t)
    const base = await listen(app)
    const [user, owner] = await Promise.all([signUp(app), signUp(app)])
    // Two rooms of the user's own (the owner joins the first), one joined, one joined only while connected.
    const mine = await createRoom(app, user)
    const alone = await createRoom(app, user)
    const theirs = await createRoom(app, owner)
    const later = await createRoom(app, owner)
    await joinRoom(app, owner, mine.id)
    await joinRoom(app, user, theirs.id)
    await post(app, owner, later.id, 'before the join')
    const start = await positions(app, user, [mine, alone, theirs])
    const laterFrom = (await getRoom(app, owner, later.id)).lastSeq
    const page = await openUserStreamInPage(t, base, user)
    t.same(readiesOf(await seen(page))[0]!.rooms, start, 'ready names every room and its position')

    const inTheirs = await post(app, owner, theirs.id, 'theirs 1')
    const inMine = await post(app, user, mine.id, 'mine 1, from the page’s own user')
    await post(app, owner, mine.id, 'mine 2\nwith a line break')
    await post(app, user, alone.id, 'alone 1')
    const edit = { roomId: mine.id, seq: inMine.seq, text: 'mine 1, edited' }
    t.equal((await as(app, user, { method: 'POST', url: '/rooms/message/edit', payload: edit })).statusCode, 201)
    const react = { roomId: theirs.id, seq: inTheirs.seq, key: '👍' }
    t.equal((await as(app, user, { method: 'POST', url: '/rooms/message/react', payload: react })).statusCode, 201)
    await post(app, owner, theirs.id, 'theirs 2')
    await joinRoom(app, user, later.id)
    await post(app, owner, later.id, 'later 1, after the join')
    await post(app, user, later.id, 'later 2')
    await post(app, user, alone.id, 'alone 2')

    const from = new Map<Room, number>([
      ...[mine, alone, theirs].map((room) => [room, start.find((p) => p.roomId === room.id)!.lastSeq] as const),
      [later, laterFrom]
    ])
    const total = countSince(await positions(app, user, [...from.keys()]), from)
    await untilStored(page, total, `the ${total} events of the four rooms in the page`)
    const received = storedOf(await seen(page))
    await assertEveryRoomExactly(t, app, user, received, from)
    const types = (room: Room) => received.filter((r) => r.event.roomId === room.id).map((r) => r.event.type)
    t.same(types(mine), ['message', 'message', 'message.edited'], 'mine: posts and an edit')
    t.same(types(theirs), ['message', 'reaction.added', 'message'], 'theirs: posts and a reaction')
    t.same(types(alone), ['message', 'message'], 'alone: posts')
    const joined = received.filter((r) => r.event.roomId === later.id)
    t.same(
      joined.map((r) => [r.event.type, r.event.text]),
      [
        ['member.joined', null],
        ['message', 'later 1, after the join'],
        ['message', 'later 2']
      ],
      "a room joined while connected starts flowing with the user's member.joined"
    )
    t.match(joined[0]!.event, { user: { id: user.id } })
    t.same(
      received.filter((r) => r.event.roomId === mine.id).map((r) => r.event.text),
      ['mine 1, from the page’s own user', 'mine 2\nwith a line break', 'mine 1, edited'],
      'the texts exactly'
    )

    // A deletion ends that room, not the stream: room.deleted, then the other rooms go on.
    t.equal(
      (await as(app, owner, { method: 'POST', url: '/rooms/delete', payload: { roomId: theirs.id } })).statusCode,
      204
    )
    await post(app, user, alone.id, 'alone 3, after the deletion')
    await untilPage(
      page,
      (all) => storedOf(all).some((r) => r.event.text === 'alone 3, after the deletion'),
      'a post after the deletion'
    )
    const all = await seen(page)
    t.same(
      noticesOf(all).map((s) => [s.type, dataOf(s)]),
      [
        ['ready', { rooms: start }],
        ['room.deleted', { roomId: theirs.id }]
      ],
      'ready, then room.deleted: no close, no reset, no room.left'
    )
    const deletedAt = all.findIndex((s) => s.type === 'room.deleted')
    t.equal(storedOf(all.slice(deletedAt)).length, 1, 'the post after the deletion comes after room.deleted')
    assertIds(t, storedOf(all))
    t.same(
      all.filter((s) => s.kind !== 'event'),
      [{ kind: 'open', connection: 1, readyState: 1 }],
      'one connection, never an error'
    )
    t.equal(await page.evaluate<number>('window.__source.readyState'), 1, 'still open')
  })

  tap.test('the user stream resumes by itself after the server restarts: nothing lost, nothing repeated', async (t) => {
    // One database for both apps (a passed-in database outlives the app), dropped after both have closed.
    const database = await freshDatabase()
    t.teardown(() => database.drop())
    const before = await build(t, { database: database.options })
    const base = await listen(before)
    const port = Number(new URL(base).port)
    const [user, owner] = await Promise.all([signUp(before), signUp(before)])
    const rooms = [await createRoom(before, user), await createRoom(before, owner), await createRoom(before, owner)]
    const [a, b, c] = rooms as [Room, Room, Room]
    await joinRoom(before, owner, a.id)
    await joinRoom(before, user, b.id)
    await joinRoom(before, user, c.id)
    const start = await positions(before, owner, rooms)
    const from = new Map(rooms.map((room) => [room, start.find((p) => p.roomId === room.id)!.lastSeq]))
    const page = await openUserStreamInPage(t, base, user)

    await post(before, owner, a.id, 'a: before the restart')
    await post(before, user, b.id, 'b: before the restart')
    await post(before, owner, c.id, 'c: before the restart')
    await untilStored(page, 3, 'the events posted before the restart')

    await before.close()
    await untilPage(page, (all) => all.some((s) => s.type === 'close'), 'the shutdown close event')
    await untilPage(page, (all) => all.some((s) => s.kind === 'error'), 'the EventSource to notice')
    const cursor = (await seen(page)).filter((s) => s.lastEventId !== undefined).at(-1)!.lastEventId!
    t.same(
      noticesOf(await seen(page)).map((s) => [s.type, s.connection, dataOf(s)]),
      [
        ['ready', 1, { rooms: start }],
        ['close', 1, { reason: 'shutdown' }]
      ],
      'ready, then told why the stream ended'
    )

    // The new app writes before it listens, so the browser can only get these by resuming from its cursor.
    const after = await build(t, { database: database.options })
    const sent: Array<string | string[] | undefined> = []
    after.server.on('request', (req: IncomingMessage) => {
      if (req.url?.startsWith('/events')) sent.push(req.headers['last-event-id'])
    })
    await post(after, owner, b.id, 'b: while the browser was away 1')
    await post(after, owner, c.id, 'c: while the browser was away')
    await post(after, user, a.id, 'a: while the browser was away')
    await post(after, owner, b.id, 'b: while the browser was away 2')
    const away = await positions(after, owner, rooms)
    await after.listen({ port, host: '127.0.0.1' })
    await untilPage(page, (all) => readiesOf(all).length === 2, 'the reconnected stream to be ready')
    t.same(sent, [cursor], 'the browser reconnected once, with the last id it had seen as Last-Event-ID')
    await post(after, owner, c.id, 'c: after the restart, live')
    await post(after, user, a.id, 'a: after the restart, live')
    await post(after, owner, b.id, 'b: after the restart, live')

    const total = countSince(await positions(after, owner, rooms), from)
    await untilStored(page, total, `the ${total} events of the three rooms in the page`)
    const all = await seen(page)
    const received = storedOf(all)
    await assertEveryRoomExactly(t, after, user, received, from)
    t.same(
      received.map((r) => r.connection),
      [1, 1, 1, 2, 2, 2, 2, 2, 2, 2],
      'three on the first connection, the rest on the one the browser reopened'
    )
    t.same(
      received
        .slice(3, 7)
        .map((r) => r.event.text)
        .sort(),
      [
        'a: while the browser was away',
        'b: while the browser was away 1',
        'b: while the browser was away 2',
        'c: while the browser was away'
      ],
      'first the events posted while away, replayed'
    )
    const readies = readiesOf(all)
    t.same(
      readies.map((r) => r.connection),
      [1, 2],
      'ready once on each connection'
    )
    t.same(readies[1]!.rooms, away, 'the second ready stands where the replay ended')
    const secondReady = all.findIndex((s) => s.type === 'ready' && s.connection === 2)
    t.same(
      storedOf(all.slice(secondReady)).map((r) => r.event.text),
      ['c: after the restart, live', 'a: after the restart, live', 'b: after the restart, live'],
      'the replay before ready, the live events after it'
    )
    t.same(
      noticesOf(all).map((s) => s.type),
      ['ready', 'close', 'ready'],
      'no reset, no room.left, no room.deleted'
    )
    t.equal(all.filter((s) => s.kind === 'open').length, 2, 'opened twice: once, then once more by itself')
    t.ok(
      all.filter((s) => s.kind === 'error').every((s) => s.readyState === 0),
      'every error was followed by a retry (CONNECTING), never CLOSED'
    )
    t.equal(await page.evaluate<number>('window.__source.readyState'), 1, 'open at the end')
  })

  tap.test('a room stream: live events posted over REST, in order, each once', async (t) => {
    const app = await build(t)
    const base = await listen(app)
    const [owner, member, visitor] = await Promise.all([signUp(app), signUp(app), signUp(app)])
    const room = await createRoom(app, owner)
    await joinRoom(app, member, room.id)
    const fromSeq = (await getRoom(app, owner, room.id)).lastSeq
    const page = await pageAt(t, base)
    await openEventSource(page, roomStreamPath(room.id, member.accessToken))
    await untilPage(page, (all) => all.some((s) => s.kind === 'open'), 'the EventSource to open')
    await until(() => app.realtime.hub.countForUser(member.id) === 1, 'the stream to attach')

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
    const received = storedOf(await seen(page))
    await assertEveryRoomExactly(t, app, member, received, new Map([[room, fromSeq]]))
    t.same(
      received.map((r) => r.lastEventId),
      received.map((r) => String(r.event.seq)),
      'each id is the seq'
    )
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
    await untilPage(page, (all) => all.some((s) => s.type === 'close'), 'the close event')
    t.same(
      noticesOf(await seen(page)).map((s) => [s.type, dataOf(s)]),
      [
        ['room.deleted', { roomId: room.id }],
        ['close', { reason: 'room_deleted' }]
      ],
      'then room.deleted and close'
    )
  })
}

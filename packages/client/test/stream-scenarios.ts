// The user stream's behaviour, the same over either transport: events of several rooms once each in each
// room's order across a server restart while posts go on (compared to history), a refused or expired token
// refreshed, a final close reason and an abort that stop it for good.
import t, { type Test } from 'tap'
import { until } from '@chat/testkit'
import type { ChatClient, ChatEvent, RoomEvent, StateChange, StreamOptions, Transport } from '../src/index.ts'
import { startServer, type TestServer } from './server.ts'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Opens a stream of the client that records what it delivers; closed when the test ends. */
function open(t: Test, client: ChatClient, transport: Transport, more: StreamOptions = {}) {
  const events: ChatEvent[] = []
  const states: StateChange[] = []
  const stream = client.connect({
    transport,
    initialDelayMs: 50,
    maxDelayMs: 500,
    onEvent: (event) => events.push(event),
    onState: (change) => states.push(change),
    ...more
  })
  t.teardown(() => stream.close())
  const stored = (roomId: string) =>
    events.flatMap((e) => (e.type === 'event' && e.event.roomId === roomId ? [e.event] : []))
  return { stream, events, states, stored }
}

/** Every stored event of a room, oldest first, from history. */
async function wholeHistory(client: ChatClient, roomId: string): Promise<RoomEvent[]> {
  const all: RoomEvent[] = []
  for (;;) {
    const page = await client.history(roomId, { after: all.at(-1)?.seq ?? 0, limit: 100 })
    all.push(...page.items)
    if (!page.hasMore) return all
  }
}

/**
 * Posts `count` messages round the rooms, each retried until stored while the server is away (its clientMsgId
 * keeps a retry single), for at most 30 s.
 */
function poster(client: ChatClient, roomIds: string[], count: number, from = 0) {
  const progress = { posted: 0 }
  const deadline = Date.now() + 30_000
  const done = (async () => {
    for (let i = from; i < from + count; i++) {
      for (;;) {
        try {
          await client.postMessage({ roomId: roomIds[i % roomIds.length]!, text: `m${i}`, clientMsgId: `m${i}` })
          break
        } catch (error) {
          if (Date.now() > deadline) throw error
          await sleep(20)
        }
      }
      progress.posted++
    }
  })()
  return { progress, done }
}

async function roomsOf(server: TestServer, count: number) {
  const owner = await server.signedIn()
  const writer = await server.signedIn()
  const rooms = []
  for (let i = 0; i < count; i++) rooms.push(await owner.createRoom({ name: `room ${i}` }))
  return { owner, writer, roomIds: rooms.map((room) => room.id) }
}

export function streamScenarios(transport: Transport): void {
  t.test(`${transport}: several rooms, once each, in order, across a server restart`, async (t) => {
    const server = await startServer(t)
    const { owner, writer, roomIds } = await roomsOf(server, 3)
    const { stream, states, stored } = open(t, owner, transport)
    await until(() => stream.state === 'live', 'live')
    t.equal(stream.cursor !== undefined, true, 'ready gave a cursor')
    for (const roomId of roomIds) await writer.joinRoom(roomId)

    const posts = poster(writer, roomIds, 60)
    await until(() => posts.progress.posted >= 20, '20 posts')
    await server.restart()
    await posts.done
    for (const roomId of roomIds) {
      const history = await wholeHistory(owner, roomId)
      await until(() => stored(roomId).length >= history.length, `every event of ${roomId}`)
      const seen = stored(roomId)
      t.same(
        seen.map((e) => [e.seq, e.id, e.type, e.text]),
        history.map((e) => [e.seq, e.id, e.type, e.text]),
        'the room as history has it: nothing lost, nothing repeated, in order'
      )
    }
    const names = states.map((s) => s.state)
    t.same(names.slice(0, 2), ['connecting', 'live'])
    t.ok(names.indexOf('reconnecting') > 1, 'reconnected by itself')
    t.equal(names.at(-1), 'live', 'live again')
    t.equal(stream.state, 'live')
  })

  t.test(`${transport}: a refused and an expired token are refreshed, and the stream goes on`, async (t) => {
    const server = await startServer(t, { accessTokenTtl: 2 })
    const { owner, writer, roomIds } = await roomsOf(server, 1)
    // The client's own refresh ahead of expiry is out of the way: the server's 401 and token_expired decide.
    const client = server.client({ tokens: { ...owner.tokens!, expiresAt: undefined }, refreshMarginMs: 0 })
    const tokens = client.tokens!
    client.setTokens({ ...tokens, accessToken: tokens.accessToken.slice(0, -4) + 'AAAA' })
    const { stream, states, stored } = open(t, client, transport)
    await until(() => stream.state === 'live', 'live after a refused token')
    await writer.joinRoom(roomIds[0]!)
    const posts = poster(writer, roomIds, 10)
    await posts.done
    await until(() => states.some((s) => s.reason === 'token_expired'), 'closed with token_expired', 10_000)
    await poster(writer, roomIds, 20, 10).done
    // The client holds the owner's session now (its refreshes rotated the owner's refresh token away).
    const history = await wholeHistory(client, roomIds[0]!)
    await until(() => stored(roomIds[0]!).length >= history.length, 'every event')
    t.same(
      stored(roomIds[0]!).map((e) => e.seq),
      history.map((e) => e.seq)
    )
    t.ok(server.count('POST /auth/refresh') >= 2, 'refreshed after the 401 and after token_expired')
    t.not(stream.state, 'closed')
  })

  t.test(`${transport}: a final close reason and an abort stop the stream`, async (t) => {
    const server = await startServer(t)
    const { owner } = await roomsOf(server, 1)
    const route = transport === 'sse' ? 'GET /events' : 'GET /ws'

    const first = open(t, owner, transport)
    await until(() => first.stream.state === 'live', 'live')
    const controller = new AbortController()
    const second = open(t, owner, transport, { signal: controller.signal })
    await until(() => second.stream.state === 'live', 'second live')
    controller.abort()
    t.match(await second.stream.done, { state: 'closed', reason: 'aborted' })

    // The session ended elsewhere (the same tokens, another client): the stream hears `logout` and stops.
    await server.client({ tokens: owner.tokens }).logout()
    t.match(await first.stream.done, { state: 'closed', reason: 'logout' })
    t.ok(
      first.events.some((e) => e.type === 'close' && e.reason === 'logout'),
      'the close event was delivered'
    )
    const opened = server.count(route)
    await sleep(300)
    t.equal(server.count(route), opened, 'no reconnect after a final close or an abort')
    t.equal(first.states.filter((s) => s.state === 'reconnecting').length, 0)

    const third = open(t, await server.signedIn(), transport)
    third.stream.close()
    t.match(await third.stream.done, { state: 'closed', reason: 'closed_by_client' })
  })
}

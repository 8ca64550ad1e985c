// The load's listening side: N SSE streams, room streams (`GET /rooms/:roomId/events`, `id: <seq>`), user
// streams (`GET /events`, `id: <cursor>`, every room of the user, then `ready`) or the floor's stand-in for a
// user stream (one connection on several rooms). Most room streams only count `message` frames on the raw bytes;
// a sample (or, for a strict run, every stream) parses frames, checks that each room's seqs arrive once and in
// order, and reads the send time carried in the message text (`t=<ms since the epoch>`) for publish-to-delivery
// latency. The room and seq are read from the event's data, which every stream kind carries, so one parser
// serves them all; the `id:` line is kept as the stream's resumption point.
//
// The streams are plain TCP sockets speaking HTTP/1.1 (and the WebSocket framing) by hand, not node:http or `ws`
// clients: with a thousand streams on one core, the client's own parsing would otherwise delay the frames it
// timestamps, and the posts, which go out from this process too. A frame is never
// split across HTTP chunks (both servers write whole frames), so counting can ignore the chunked framing; the
// parsing streams undo it first.
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { now } from './http.ts'

const MARKER = Buffer.from('event: message\n')
const READY = Buffer.from('event: ready\n')
const EDGE = MARKER.length - 1
const ROOM = /"roomId":"([^"]+)"/
const SEQ = /"seq":(\d+)/
const SENT = /"text":"t=(\d+(?:\.\d+)?)/
const WS_MESSAGE = Buffer.from('"type":"message"')
const WS_READY = Buffer.from('{"type":"ready"')
const WS_TYPE = /^\{"type":"([^"]+)"/
const WS_CURSOR = /"cursor":"([^"]+)"/
const WS_EVENT_TYPE = /"seq":\d+,"type":"([^"]+)"/

export interface StreamTarget {
  port: number
  /** what is asked for: a room stream, the user stream or the floor's user stream */
  path: string
  token: string
  /** sent as Last-Event-ID: where the stream resumes */
  lastEventId?: string
  /** the stream sends `ready` once it is live (a user stream) */
  sendsReady?: boolean
  /** the user stream over a WebSocket (`GET /ws`): one JSON message a frame */
  websocket?: boolean
}

export const roomStream = (port: number, roomId: string, token: string): StreamTarget => ({
  port,
  path: `/rooms/${roomId}/events`,
  token
})

export const userStream = (port: number, token: string, lastEventId?: string): StreamTarget => ({
  port,
  path: '/events',
  token,
  sendsReady: true,
  ...(lastEventId === undefined ? {} : { lastEventId })
})

/** The user stream over a WebSocket. */
export const wsStream = (port: number, token: string): StreamTarget => ({
  port,
  path: '/ws',
  token,
  sendsReady: true,
  websocket: true
})

/** The floor's WebSocket: an upgraded socket kept and pinged, nothing more (see floor.ts, GET /ws). */
export const floorSocket = (port: number): StreamTarget => ({ port, path: '/ws', token: '', websocket: true })

/** The floor's stand-in for a user stream: one connection hearing every room named (see floor.ts). */
export const floorUserStream = (port: number, roomIds: readonly string[]): StreamTarget => ({
  port,
  path: `/events?rooms=${roomIds.map(encodeURIComponent).join(',')}`,
  token: ''
})

export interface Streams {
  /** message frames counted on each stream */
  readonly counts: number[]
  /** pings seen on each stream */
  readonly pings: number[]
  readonly latencies: number[]
  /** parsed streams: when `ready` arrived (0: not yet) */
  readonly readyAt: number[]
  /** parsed streams: message frames counted before `ready` (a resumed stream's replay) */
  readonly countsAtReady: number[]
  /** parsed streams: the last `id:` seen, the point to resume from (a user stream's cursor, a room stream's seq) */
  readonly lastIds: Array<string | undefined>
  /** parsed streams: each room's last stored seq seen (or announced by `ready`) */
  readonly positions: Array<Map<string, number>>
  /** when each stream's response head arrived, from the start of openStreams */
  readonly headMs: number[]
  /** streams that are `ready` */
  readonly ready: number
  /** `reset` frames seen (a cursor the server could not resume) */
  readonly resets: number
  /** parsed streams where a room's seq repeated, went back or skipped, or `ready` disagreed with what came */
  readonly orderViolations: number
  readonly delivered: number
  /** time of the last counted message frame */
  readonly lastDelivery: number
  close(): void
}

export interface OpenOptions {
  /** every n-th stream parses its frames, the others count */
  sampleEvery?: number
  parseAll?: boolean
  /** streams opened at once (the next batch once these have their heads) */
  batch?: number
  /** per stream, each room's seq it already has: the next event of the room must follow it */
  from?: ReadonlyArray<ReadonlyMap<string, number>>
}

export async function openStreams(
  targets: StreamTarget[],
  // Opened a few hundred at a time by default so that the server's accept queue is not the thing measured.
  { sampleEvery = 20, parseAll = false, batch = 250, from }: OpenOptions = {}
): Promise<Streams> {
  const counts = new Array<number>(targets.length).fill(0)
  const pings = new Array<number>(targets.length).fill(0)
  const readyAt = new Array<number>(targets.length).fill(0)
  const countsAtReady = new Array<number>(targets.length).fill(0)
  const lastIds = new Array<string | undefined>(targets.length).fill(undefined)
  const positions = targets.map((_, i) => new Map(from?.[i] ?? []))
  const headMs = new Array<number>(targets.length).fill(0)
  const latencies: number[] = []
  const sockets: Array<{ destroy(): void }> = []
  const violated = new Set<number>()
  let delivered = 0
  let lastDelivery = 0
  let ready = 0
  let resets = 0

  const countDeliveries = (i: number, n: number, at: number) => {
    counts[i]! += n
    delivered += n
    lastDelivery = at
  }
  const markReady = (i: number, at: number) => {
    if (!readyAt[i]) ready++
    readyAt[i] = at
    countsAtReady[i] = counts[i]!
  }

  const counter = (i: number) => {
    let tail: Buffer = Buffer.alloc(0)
    return (chunk: Buffer) => {
      let n = 0
      for (let at = chunk.indexOf(MARKER); at !== -1; at = chunk.indexOf(MARKER, at + MARKER.length)) n++
      // A marker split across two chunks lies in the window of the previous tail and this head.
      if (tail.length && Buffer.concat([tail, chunk.subarray(0, EDGE)]).includes(MARKER)) n++
      tail = chunk.subarray(Math.max(0, chunk.length - EDGE))
      if (chunk.length < 16 && chunk.includes(': ping')) pings[i]!++
      // A user stream's `ready` comes once, before the events that matter, in a chunk of its own.
      if (!readyAt[i] && chunk.includes(READY)) markReady(i, now())
      if (n) countDeliveries(i, n, now())
    }
  }

  // A WebSocket that is not in the sample: each message is whole, so its type is all there is to read.
  const messageCounter = (i: number) => (message: Buffer) => {
    if (message.includes(WS_MESSAGE)) countDeliveries(i, 1, now())
    else if (!readyAt[i] && message.includes(WS_READY)) markReady(i, now())
  }

  const parser = (i: number) => {
    let text = ''
    const seqs = positions[i]!
    const onFrame = (frame: string, at: number) => {
      if (frame.startsWith(':')) {
        if (frame === ': ping') pings[i]!++
        return
      }
      let id: string | undefined
      let event: string | undefined
      let data = ''
      for (const line of frame.split('\n')) {
        if (line.startsWith('id: ')) id = line.slice(4)
        else if (line.startsWith('event: ')) event = line.slice(7)
        else if (line.startsWith('data: ')) data = line.slice(6)
      }
      onEvent(id, event, data, at)
    }
    // A WebSocket message says the same: `{"type":"event","cursor",...,"event":{"id","roomId","seq","type",...}}`.
    const onMessage = (message: string, at: number) => {
      const type = WS_TYPE.exec(message)?.[1]
      if (type === 'event') onEvent(WS_CURSOR.exec(message)?.[1], WS_EVENT_TYPE.exec(message)?.[1], message, at)
      else if (type === 'ready') onEvent(WS_CURSOR.exec(message)?.[1], 'ready', message, at)
      else if (type === 'reset') onEvent(undefined, 'reset', message, at)
    }
    const onEvent = (id: string | undefined, event: string | undefined, data: string, at: number) => {
      if (id !== undefined) lastIds[i] = id
      if (event === 'reset') resets++
      if (event === 'ready') {
        markReady(i, at)
        // Where the server says each room stands must be where this stream's own frames left it.
        for (const { roomId, lastSeq } of (JSON.parse(data) as { rooms: Array<{ roomId: string; lastSeq: number }> })
          .rooms) {
          const seen = seqs.get(roomId)
          if (seen !== undefined && seen !== lastSeq) violated.add(i)
          seqs.set(roomId, lastSeq)
        }
        return
      }
      // A stored event (it has an id): the next of its room.
      if (id === undefined) return
      const roomId = ROOM.exec(data)?.[1]
      const seq = Number(SEQ.exec(data)?.[1])
      if (roomId === undefined || !Number.isInteger(seq)) {
        violated.add(i)
        return
      }
      const before = seqs.get(roomId)
      if (before !== undefined && seq !== before + 1) violated.add(i)
      seqs.set(roomId, seq)
      if (event !== 'message') return
      countDeliveries(i, 1, at)
      const sent = SENT.exec(data)?.[1]
      if (sent) latencies.push(at - Number(sent))
    }
    if (targets[i]!.websocket) return (message: Buffer) => onMessage(message.toString('utf8'), now())
    return (chunk: Buffer) => {
      const at = now()
      text += chunk.toString('utf8')
      let start = 0
      for (let end; (end = text.indexOf('\n\n', start)) !== -1; start = end + 2) onFrame(text.slice(start, end), at)
      text = text.slice(start)
    }
  }

  const started = now()
  for (let first = 0; first < targets.length; first += batch) {
    await Promise.all(
      targets.slice(first, first + batch).map(async (target, k) => {
        const i = first + k
        const socket = target.websocket
          ? await connectSocket(target, parseAll || i % sampleEvery === 0 ? parser(i) : messageCounter(i), () => {
              pings[i]!++
            })
          : await connectStream(target, parseAll || i % sampleEvery === 0 ? dechunk(parser(i)) : counter(i))
        headMs[i] = now() - started
        sockets.push(socket)
      })
    )
  }
  return {
    counts,
    pings,
    latencies,
    readyAt,
    countsAtReady,
    lastIds,
    positions,
    headMs,
    get ready() {
      return ready
    },
    get resets() {
      return resets
    },
    get orderViolations() {
      return violated.size
    },
    get delivered() {
      return delivered
    },
    get lastDelivery() {
      return lastDelivery
    },
    close() {
      for (const socket of sockets) socket.destroy()
    }
  }
}

/**
 * Sends a request by hand on a plain TCP socket; resolves with the socket once the head is in with the status
 * expected, what follows it handed to the body reader `onBody(socket)` returns.
 */
function openRaw(
  port: number,
  request: string,
  expected: string,
  what: string,
  onBody: (socket: net.Socket) => (chunk: Buffer) => void
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let head: Buffer = Buffer.alloc(0)
    const onHead = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end === -1) return
      socket.off('data', onHead)
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head.subarray(0, 16).toString('latin1'))?.[1]
      if (status !== expected) {
        socket.destroy()
        return reject(new Error(`${what}: HTTP ${status}: ${head.toString('utf8', end + 4)}`))
      }
      const body = onBody(socket)
      socket.on('data', body)
      if (head.length > end + 4) body(head.subarray(end + 4))
      resolve(socket)
    }
    socket.on('data', onHead)
    socket.on('error', reject)
    socket.write(request)
  })
}

/** Sends the GET by hand; resolves with the socket once a 200 status line and headers are in. */
function connectStream(
  { port, path, token, lastEventId }: StreamTarget,
  onBody: (chunk: Buffer) => void
): Promise<net.Socket> {
  const request =
    `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n` +
    `authorization: Bearer ${token}\r\naccept: text/event-stream\r\n` +
    (lastEventId === undefined ? '' : `last-event-id: ${lastEventId}\r\n`) +
    '\r\n'
  return openRaw(port, request, '200', `stream ${path}`, () => onBody)
}

// BENCH_WS_DEFLATE=1: the WebSocket clients offer permessage-deflate, for a server that accepts it. The clients
// still send nothing compressed, and the server's frames (written uncompressed, RSV1 clear) read as before.
const OFFER_DEFLATE = process.env.BENCH_WS_DEFLATE === '1'

/**
 * Opens the WebSocket by hand, as the streams are opened: the upgrade request on a plain TCP socket, then each
 * text message handed on whole (the server never fragments one) and each ping answered. Resolves with the socket
 * once the 101 and its headers are in.
 */
function connectSocket(
  { port, path, token }: StreamTarget,
  onMessage: (message: Buffer) => void,
  onPing: () => void
): Promise<net.Socket> {
  const request =
    `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${token}\r\n` +
    `upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\n` +
    (OFFER_DEFLATE ? 'sec-websocket-extensions: permessage-deflate; client_max_window_bits\r\n' : '') +
    `sec-websocket-key: ${randomBytes(16).toString('base64')}\r\n\r\n`
  return openRaw(port, request, '101', `socket ${path}`, (socket) => deframe(socket, onMessage, onPing))
}

const TEXT = 0x1
const CLOSE = 0x8
const PING = 0x9
const PONG = 0x80 | 0xa

/**
 * Reads server frames (unmasked, RFC 6455 5.1): text messages to `onMessage`, pings answered with a pong and
 * counted with `onPing`.
 */
function deframe(
  socket: net.Socket,
  onMessage: (message: Buffer) => void,
  onPing: () => void
): (chunk: Buffer) => void {
  let buffer: Buffer = Buffer.alloc(0)
  return (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk
    let at = 0
    for (;;) {
      if (buffer.length - at < 2) break
      const opcode = buffer[at]! & 0x0f
      let length = buffer[at + 1]! & 0x7f
      let start = at + 2
      if (length === 126) {
        if (buffer.length - at < 4) break
        length = buffer.readUInt16BE(at + 2)
        start = at + 4
      } else if (length === 127) {
        if (buffer.length - at < 10) break
        length = buffer.readUInt32BE(at + 2) * 2 ** 32 + buffer.readUInt32BE(at + 6)
        start = at + 10
      }
      if (buffer.length < start + length) break
      const payload = buffer.subarray(start, start + length)
      at = start + length
      if (opcode === TEXT) onMessage(payload)
      // A client's frames are masked; a zero key leaves the payload as it is.
      else if (opcode === PING) {
        onPing()
        socket.write(Buffer.concat([Buffer.from([PONG, 0x80 | length, 0, 0, 0, 0]), payload]))
      } else if (opcode === CLOSE) socket.end()
    }
    buffer = buffer.subarray(at)
  }
}

/** Undoes Transfer-Encoding: chunked, handing each chunk's data on. */
function dechunk(onData: (data: Buffer) => void): (chunk: Buffer) => void {
  let buffer: Buffer = Buffer.alloc(0)
  return (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk
    for (;;) {
      const line = buffer.indexOf('\r\n')
      if (line === -1) return
      const size = parseInt(buffer.toString('latin1', 0, line), 16)
      if (size === 0 || Number.isNaN(size)) return
      if (buffer.length < line + 2 + size + 2) return
      onData(buffer.subarray(line + 2, line + 2 + size))
      buffer = buffer.subarray(line + 2 + size + 2)
    }
  }
}

// The load's listening side: N SSE streams. Most only count `message` frames on the raw bytes; a sample (or, for
// a strict run, every stream) parses frames, checks that message seqs arrive once and in order, and reads the
// send time carried in the message text (`t=<ms since the epoch>`) for publish-to-delivery latency.
//
// The streams are plain TCP sockets speaking HTTP/1.1 by hand, not node:http clients: with a thousand streams
// on one core, the client's own HTTP parsing would otherwise delay the frames it timestamps. A frame is never
// split across HTTP chunks (both servers write whole frames), so counting can ignore the chunked framing; the
// parsing streams undo it first.
import net from 'node:net'
import { now } from './http.ts'

const MARKER = Buffer.from('event: message\n')
const EDGE = MARKER.length - 1

export interface StreamTarget {
  port: number
  roomId: string
  token: string
}

export interface Streams {
  /** message frames counted on each stream */
  readonly counts: number[]
  /** pings seen on each stream */
  readonly pings: number[]
  readonly latencies: number[]
  /** parsed streams where a message seq repeated, went back or skipped */
  readonly orderViolations: number
  readonly delivered: number
  /** time of the last counted message frame */
  readonly lastDelivery: number
  close(): void
}

export async function openStreams(
  targets: StreamTarget[],
  { sampleEvery = 20, parseAll = false }: { sampleEvery?: number; parseAll?: boolean } = {}
): Promise<Streams> {
  const counts = new Array<number>(targets.length).fill(0)
  const pings = new Array<number>(targets.length).fill(0)
  const latencies: number[] = []
  const sockets: net.Socket[] = []
  const violated = new Set<number>()
  let delivered = 0
  let lastDelivery = 0

  const counter = (i: number) => {
    let tail: Buffer = Buffer.alloc(0)
    return (chunk: Buffer) => {
      let n = 0
      for (let at = chunk.indexOf(MARKER); at !== -1; at = chunk.indexOf(MARKER, at + MARKER.length)) n++
      // A marker split across two chunks lies in the window of the previous tail and this head.
      if (tail.length && Buffer.concat([tail, chunk.subarray(0, EDGE)]).includes(MARKER)) n++
      tail = chunk.subarray(Math.max(0, chunk.length - EDGE))
      if (chunk.length < 16 && chunk.includes(': ping')) pings[i]!++
      if (n) {
        counts[i]! += n
        delivered += n
        lastDelivery = now()
      }
    }
  }

  const parser = (i: number) => {
    let text = ''
    let lastSeq = -1
    return (chunk: Buffer) => {
      const at = now()
      text += chunk.toString('utf8')
      let end: number
      while ((end = text.indexOf('\n\n')) !== -1) {
        const frame = text.slice(0, end)
        text = text.slice(end + 2)
        if (frame === ': ping') pings[i]!++
        if (!frame.includes('\nevent: message\n')) continue
        counts[i]!++
        delivered++
        lastDelivery = at
        const seq = Number(/^id: (\d+)/.exec(frame)?.[1])
        if (lastSeq !== -1 && seq !== lastSeq + 1) violated.add(i)
        lastSeq = seq
        const sent = /"text":"t=(\d+(?:\.\d+)?)/.exec(frame)?.[1]
        if (sent) latencies.push(at - Number(sent))
      }
    }
  }

  // Opened a few hundred at a time so that the server's accept queue is not the thing measured.
  const BATCH = 250
  for (let from = 0; from < targets.length; from += BATCH) {
    await Promise.all(
      targets.slice(from, from + BATCH).map(async (target, k) => {
        const i = from + k
        const socket = await connectStream(target, parseAll || i % sampleEvery === 0 ? dechunk(parser(i)) : counter(i))
        sockets.push(socket)
      })
    )
  }
  return {
    counts,
    pings,
    latencies,
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

/** Sends the GET by hand; resolves with the socket once a 200 status line and headers are in. */
function connectStream({ port, roomId, token }: StreamTarget, onBody: (chunk: Buffer) => void): Promise<net.Socket> {
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
      if (status !== '200') {
        socket.destroy()
        return reject(new Error(`stream on room ${roomId}: HTTP ${status}: ${head.toString('utf8', end + 4)}`))
      }
      socket.on('data', onBody)
      if (head.length > end + 4) onBody(head.subarray(end + 4))
      resolve(socket)
    }
    socket.on('data', onHead)
    socket.on('error', reject)
    socket.write(
      `GET /rooms/${roomId}/events HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n` +
        `authorization: Bearer ${token}\r\naccept: text/event-stream\r\n\r\n`
    )
  })
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

// The load's listening side: N SSE streams. Most only count `message` frames on the raw bytes; a sample (or, for
// a strict run, every stream) parses frames, checks that message seqs arrive once and in order, and reads the
// send time carried in the message text (`t=<ms since the epoch>`) for publish-to-delivery latency.
import http from 'node:http'
import { once } from 'node:events'
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
  const requests: http.ClientRequest[] = []
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
      targets.slice(from, from + BATCH).map(async ({ port, roomId, token }, k) => {
        const i = from + k
        const req = http.get({
          host: '127.0.0.1',
          port,
          path: `/rooms/${roomId}/events`,
          agent: false,
          headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }
        })
        requests.push(req)
        const [res] = (await once(req, 'response')) as [http.IncomingMessage]
        if (res.statusCode !== 200) throw new Error(`stream ${i}: HTTP ${res.statusCode}`)
        res.on('data', parseAll || i % sampleEvery === 0 ? parser(i) : counter(i))
        res.on('error', () => {})
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
      for (const req of requests) req.destroy()
    }
  }
}

// Fan-out measurement against a real node: one room, N SSE subscribers, M messages posted through
// POST /rooms/message. Prints deliveries per second and publish-to-delivery latency. The server runs as its
// own process on PostgreSQL (DATABASE_URL or the local one), pinned to core 0 when taskset exists, while
// this process (the load) should run on core 1. Most subscribers only count frames; every 20th parses them
// and reads the send time carried in the message text.
import http from 'node:http'
import { once } from 'node:events'
import { percentile, request as call, startServer } from './server.ts'

const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 1000)
const MESSAGES = Number(process.env.MESSAGES ?? 200)
const CONCURRENCY = Number(process.env.POST_CONCURRENCY ?? 4)
const SAMPLE_EVERY = 20

async function main() {
  const server = await startServer({
    MAX_STREAMS_PER_USER: String(SUBSCRIBERS + 10),
    AUTH_RATE_LIMIT: '100000',
    MESSAGE_RATE_LIMIT: '1000000'
  })
  const PORT = server.port
  const request = (method: string, path: string, body?: unknown, token?: string) =>
    call(PORT, method, path, body, token)
  try {
    const password = 'bench password 123'
    await request('POST', '/users', { username: 'bench', password })
    const { json: session } = await request('POST', '/auth/login', { username: 'bench', password })
    const token = String(session.accessToken)
    const { json: room } = await request('POST', '/rooms/create', { name: 'bench' }, token)
    const roomId = String(room.id)

    let delivered = 0
    const latencies: number[] = []
    let lastDelivery = 0
    const sockets: http.ClientRequest[] = []
    await Promise.all(
      Array.from({ length: SUBSCRIBERS }, async (_, i) => {
        const sampled = i % SAMPLE_EVERY === 0
        const req = http.get({
          host: '127.0.0.1',
          port: PORT,
          path: `/rooms/${roomId}/events`,
          agent: false,
          headers: { authorization: `Bearer ${token}` }
        })
        sockets.push(req)
        const [res] = (await once(req, 'response')) as [http.IncomingMessage]
        if (res.statusCode !== 200) throw new Error(`stream ${i}: ${res.statusCode}`)
        res.setEncoding('utf8')
        let tail = ''
        res.on('data', (chunk: string) => {
          const now = performance.timeOrigin + performance.now()
          const text = tail + chunk
          let count = 0
          for (let at = text.indexOf('\nevent: message\n'); at !== -1; at = text.indexOf('\nevent: message\n', at + 1))
            count++
          tail = text.slice(-16)
          delivered += count
          if (count) lastDelivery = now
          if (sampled) for (const m of chunk.matchAll(/"text":"t=(\d+(?:\.\d+)?)"/g)) latencies.push(now - Number(m[1]))
        })
      })
    )
    await new Promise((r) => setTimeout(r, 500))

    const expected = SUBSCRIBERS * MESSAGES
    const started = performance.now()
    const startedAt = performance.timeOrigin + started
    let next = 0
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < MESSAGES) {
          next++
          const text = `t=${performance.timeOrigin + performance.now()}`
          const res = await request('POST', '/rooms/message', { roomId, text }, token)
          if (res.status !== 201) throw new Error(`post: ${res.status}`)
        }
      })
    )
    const deadline = Date.now() + 60_000
    while (delivered < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const wall = (lastDelivery - startedAt) / 1000
    latencies.sort((a, b) => a - b)
    const result = {
      subscribers: SUBSCRIBERS,
      messages: MESSAGES,
      expected,
      delivered,
      lost: expected - delivered,
      wallSeconds: Number(wall.toFixed(3)),
      deliveriesPerSecond: Math.round(delivered / wall),
      latencyMs: {
        p50: Number(percentile(latencies, 50).toFixed(2)),
        p90: Number(percentile(latencies, 90).toFixed(2)),
        p99: Number(percentile(latencies, 99).toFixed(2)),
        max: Number(percentile(latencies, 100).toFixed(2)),
        samples: latencies.length
      }
    }
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    for (const s of sockets) s.destroy()
    if (result.lost !== 0) process.exitCode = 1
  } finally {
    await server.stop()
  }
}

await main()

// Live delivery over Server-Sent Events. Needs a k6 built with the xk6-sse extension:
//   xk6 build --with github.com/phymbert/xk6-sse
//
// setup() registers STREAMS listeners (listener i a member of room i % ROOMS) and POSTERS posters (members of
// every room). Scenario `streams`: STREAMS VUs each hold one stream on their room from the start to the end
// of the test. Scenario `posts`: after WARMUP, RATE posts a second for DURATION, text `t=<epoch ms>`. Each
// listener counts `message` events and records now - t as `sse_delivery_latency` (one sample per delivery,
// so fan-out is included), and checks that `seq` grows by exactly 1. A stream that ends early (close event,
// a node stopped) reopens with Last-Event-ID; replayed events count but give no latency sample.
//
// Server settings: AUTH_RATE_LIMIT above STREAMS + POSTERS (setup logs everyone in from one address);
// MESSAGE_RATE_LIMIT above RATE / POSTERS * 10; ACCESS_TOKEN_TTL above the whole run (default 900 s), since a
// stream ends when its token expires. QUERY_TOKEN=1 sends `?access_token=` (as a browser EventSource does)
// instead of the Authorization header.
//
//   ./k6 run -e BASE_URL=http://127.0.0.1:8080 -e STREAMS=500 -e RATE=100 infra/k6/stream.js
import sse from 'k6/x/sse'
import exec from 'k6/execution'
import { check, sleep } from 'k6'
import { Counter, Trend } from 'k6/metrics'
import { BASE_URL, createRooms, createUsers, durationSeconds, envNumber, joinAll, postMessage, RUN_ID } from './lib.js'

const STREAMS = envNumber('STREAMS', 100)
const POSTERS = envNumber('POSTERS', 20)
const ROOMS = envNumber('ROOMS', 10)
const RATE = envNumber('RATE', 50)
const DURATION = __ENV.DURATION || '1m'
const WARMUP = __ENV.WARMUP || '10s'
// Streams stay open a few seconds past the last post so its deliveries are counted.
const STREAM_SECONDS = durationSeconds(WARMUP) + durationSeconds(DURATION) + 5

const latency = new Trend('sse_delivery_latency', true)
const received = new Counter('sse_messages_received')
const gaps = new Counter('sse_seq_gaps')
const closes = new Counter('sse_close_events')
const streamErrors = new Counter('sse_errors')
const postsCreated = new Counter('posts_created')

export const options = {
  setupTimeout: '10m',
  scenarios: {
    streams: { executor: 'constant-vus', exec: 'listen', vus: STREAMS, duration: `${STREAM_SECONDS}s` },
    posts: {
      executor: 'constant-arrival-rate',
      exec: 'post',
      startTime: WARMUP,
      duration: DURATION,
      rate: RATE,
      timeUnit: '1s',
      preAllocatedVUs: envNumber('VUS', 20),
      maxVUs: envNumber('MAX_VUS', 200)
    }
  },
  thresholds: {
    sse_delivery_latency: [`p(99)<${envNumber('LATENCY_P99', 35)}`],
    sse_seq_gaps: ['count==0'],
    sse_messages_received: ['count>0'],
    checks: ['rate>0.99'],
    'http_req_failed{name:post}': ['rate<0.01'],
    'http_req_duration{name:post}': [`p(99)<${envNumber('P99', 50)}`]
  }
}

export function setup() {
  const listeners = createUsers(STREAMS, 'l')
  const posters = createUsers(POSTERS, 's')
  const rooms = createRooms(posters, ROOMS)
  joinAll(listeners.map((user, i) => [user.token, rooms[i % rooms.length].id]))
  joinAll(posters.flatMap((user) => rooms.map((room) => [user.token, room.id])))
  return { listeners, posters, rooms }
}

// Per VU: the last seq seen, to resume without a gap when a stream has to be reopened.
let lastSeq = null

export function listen({ listeners, rooms }) {
  const i = (exec.vu.idInTest - 1) % listeners.length
  const token = listeners[i].token
  const deadline = exec.scenario.startTime + STREAM_SECONDS * 1000
  if (Date.now() >= deadline - 1000) return sleep(1)

  const query = __ENV.QUERY_TOKEN === '1' ? `?access_token=${encodeURIComponent(token)}` : ''
  const headers = query ? {} : { Authorization: `Bearer ${token}` }
  if (lastSeq !== null) headers['Last-Event-ID'] = String(lastSeq)
  const openedAt = Date.now()

  const url = `${BASE_URL}/rooms/${rooms[i % rooms.length].id}/events${query}`
  const res = sse.open(url, { headers, tags: { name: 'events' } }, (client) => {
    client.on('event', (event) => {
      const now = Date.now()
      if (event.id) {
        const seq = Number(event.id)
        if (lastSeq !== null && seq !== lastSeq + 1) gaps.add(1)
        lastSeq = seq
      }
      if (event.name === 'message') {
        received.add(1)
        const sent = /t=(\d+)/.exec(JSON.parse(event.data).text)
        if (sent && Number(sent[1]) >= openedAt) latency.add(now - Number(sent[1]))
      } else if (event.name === 'close') {
        closes.add(1, { reason: JSON.parse(event.data).reason })
      }
      // Pings (at least every 15 s) make sure this runs even in a quiet room.
      if (now >= deadline) client.close()
    })
    client.on('error', (e) => {
      streamErrors.add(1)
      if (Date.now() < deadline) console.warn(`stream error: ${e.error()}`)
    })
  })
  if (!check(res, { 'stream 200': (r) => r && r.status === 200 })) sleep(1)
}

export function post({ posters, rooms }) {
  const poster = posters[Math.floor(Math.random() * posters.length)]
  const room = rooms[Math.floor(Math.random() * rooms.length)]
  const res = postMessage(poster.token, room.id, `k6 ${RUN_ID} t=${Date.now()}`)
  if (check(res, { 'post 201': (r) => r.status === 201 })) postsCreated.add(1)
}

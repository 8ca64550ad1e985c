// Posting under load: setup() registers USERS users, creates ROOMS rooms and makes each user a member of one
// room (user i of room i % ROOMS); then a constant-arrival-rate scenario posts RATE messages a second for
// DURATION, each by a random user to its room, with a unique clientMsgId.
//
// Server settings for this test:
// - AUTH_RATE_LIMIT above USERS: setup() registers and logs in every user from one client address.
// - MESSAGE_RATE_LIMIT (posts per 10 s per user, default 100): each user posts about RATE / USERS a second,
//   so raise it, or USERS, when RATE / USERS * 10 nears the limit; a 429 counts as a failed request.
//   AUTH_RATE_LIMIT=1000000 MESSAGE_RATE_LIMIT=1000000 pnpm cluster
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=1000 -e DURATION=1m infra/k6/post.js
import { check } from 'k6'
import { Counter } from 'k6/metrics'
import { createRooms, createUsers, durationSeconds, envNumber, joinAll, postMessage, RUN_ID } from './lib.js'

const RATE = envNumber('RATE', 1000)
const DURATION = __ENV.DURATION || '1m'
const USERS = envNumber('USERS', 200)
const ROOMS = envNumber('ROOMS', 100)

const postsCreated = new Counter('posts_created')

export const options = {
  setupTimeout: '10m',
  scenarios: {
    post: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: envNumber('VUS', 50),
      maxVUs: envNumber('MAX_VUS', 500)
    }
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{name:post}': [`p(99)<${envNumber('P99', 50)}`],
    // At least 99% of the planned posts were stored: catches 4xx/5xx and iterations k6 had to drop.
    posts_created: [`count>=${Math.floor(RATE * durationSeconds(DURATION) * 0.99)}`]
  }
}

export function setup() {
  const users = createUsers(USERS, 'p')
  const rooms = createRooms(users, ROOMS)
  joinAll(users.map((user, i) => [user.token, rooms[i % rooms.length].id]))
  return { users, rooms }
}

export default function ({ users, rooms }) {
  const i = Math.floor(Math.random() * users.length)
  const roomId = rooms[i % rooms.length].id
  const res = postMessage(users[i].token, roomId, `k6 ${RUN_ID} t=${Date.now()}`)
  check(res, {
    'post 201': (r) => r.status === 201,
    'post stored in its room': (r) => r.status === 201 && r.json('roomId') === roomId && r.json('seq') >= 1
  })
  if (res.status === 201) postsCreated.add(1)
}

// Posting under load, with edits and reactions mixed in: setup() registers USERS users, creates ROOMS rooms,
// makes each user a member of one room (user i of room i % ROOMS) and has every user post once there (tagged
// `seed`). Then a constant-arrival-rate scenario runs RATE iterations a second for DURATION, each as a random
// user in its room:
// - with probability EDIT_SHARE an edit (`POST /rooms/message/edit`, 201) of one of that user's own posts: its
//   setup post or one this VU posted as the user (VUs share no state, so each keeps its own memory);
// - with probability REACT_SHARE a reaction (`POST /rooms/message/react`) to a recent message of the room (the
//   setup posts, or one this VU saw stored), turn by turn adding one and taking back the last one this VU added
//   as that user; 201, or 204 when that changes nothing (another VU acting as the same user got there first);
// - otherwise a post (`POST /rooms/message`, 201) with a unique clientMsgId (also when there is nothing to edit
//   or react to).
// Requests are tagged `name: post|edit|react`. EDIT_SHARE=0 REACT_SHARE=0 posts only.
//
// Server settings for this test:
// - AUTH_RATE_LIMIT above USERS: setup() registers and logs in every user from one client address.
// - MESSAGE_RATE_LIMIT (requests per 10 s per user, default 100; posts, edits and reactions all count): each
//   user sends about RATE / USERS a second, so raise it, or USERS, when RATE / USERS * 10 nears the limit; a
//   429 counts as a failed request.
//   AUTH_RATE_LIMIT=1000000 MESSAGE_RATE_LIMIT=1000000 pnpm cluster
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=1000 -e DURATION=1m infra/k6/post.js
import http from 'k6/http'
import { check, fail } from 'k6'
import { Counter } from 'k6/metrics'
import {
  createRooms,
  createUsers,
  durationSeconds,
  editMessage,
  envNumber,
  joinAll,
  postAll,
  postMessage,
  react,
  RUN_ID
} from './lib.js'

const RATE = envNumber('RATE', 1000)
const DURATION = __ENV.DURATION || '1m'
const USERS = envNumber('USERS', 200)
const ROOMS = envNumber('ROOMS', 100)
const EDIT_SHARE = envNumber('EDIT_SHARE', 0.2)
const REACT_SHARE = envNumber('REACT_SHARE', 0.2)
const P99 = envNumber('P99', 50)
if (!(EDIT_SHARE >= 0 && REACT_SHARE >= 0 && EDIT_SHARE + REACT_SHARE <= 1))
  fail(`EDIT_SHARE (${EDIT_SHARE}) and REACT_SHARE (${REACT_SHARE}) must be ≥ 0 and add up to ≤ 1`)

// A reaction that changes nothing answers 204; login and join answer 200.
http.setResponseCallback(http.expectedStatuses(200, 201, 204))

/** Successful iterations, tagged with the kind of request (`name`). */
const requestsOk = new Counter('requests_ok')
const kindThresholds = (name, share) =>
  share > 0 ? { [`http_req_duration{name:${name}}`]: [`p(99)<${P99}`], [`requests_ok{name:${name}}`]: ['count>0'] } : {}

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
    checks: ['rate>0.99'],
    // At least 99% of the planned iterations succeeded: catches 4xx/5xx and iterations k6 had to drop.
    requests_ok: [`count>=${Math.floor(RATE * durationSeconds(DURATION) * 0.99)}`],
    ...kindThresholds('post', 1 - EDIT_SHARE - REACT_SHARE),
    ...kindThresholds('edit', EDIT_SHARE),
    ...kindThresholds('react', REACT_SHARE)
  }
}

export function setup() {
  const users = createUsers(USERS, 'p')
  const rooms = createRooms(users, ROOMS)
  const roomOf = (i) => rooms[i % rooms.length].id
  joinAll(users.map((user, i) => [user.token, roomOf(i)]))
  const seeds = postAll(users.map((user, i) => ({ token: user.token, roomId: roomOf(i), text: `k6 ${RUN_ID} seed` })))
  const roomSeeds = rooms.map((_, r) => seeds.filter((_, i) => i % rooms.length === r).map((e) => e.seq))
  return { users, rooms, ownSeeds: seeds.map((e) => e.seq), roomSeeds }
}

// This VU's memory, by user index (own posts, reactions added and not taken back, reactions sent) and by room
// index (messages seen stored), the latest RECENT of each.
const RECENT = 16
const KEYS = ['👍', ':tada:', '🎉', ':eyes:']
const own = {}
const added = {}
const turns = {}
const recent = {}

function remember(memory, index, value) {
  const list = (memory[index] = memory[index] || [])
  list.push(value)
  if (list.length > RECENT) list.shift()
}
const anyOf = (list) => list[Math.floor(Math.random() * list.length)]

function post(user, i, room, roomId) {
  const res = postMessage(user.token, roomId, `k6 ${RUN_ID} t=${Date.now()}`)
  const ok = check(res, {
    'post 201': (r) => r.status === 201,
    'post stored in its room': (r) => r.status === 201 && r.json('roomId') === roomId && r.json('seq') >= 1
  })
  if (!ok) return
  requestsOk.add(1, { name: 'post' })
  remember(own, i, res.json('seq'))
  remember(recent, room, res.json('seq'))
}

/** Edits one of the user's own posts; false when there is none to edit. */
function edit(user, i, roomId, { ownSeeds }) {
  const seq = anyOf((own[i] || []).concat(ownSeeds[i] === undefined ? [] : [ownSeeds[i]]))
  if (seq === undefined) return false
  const res = editMessage(user.token, roomId, seq, `k6 ${RUN_ID} edited t=${Date.now()}`)
  const ok = check(res, {
    'edit 201': (r) => r.status === 201,
    'edit is message.edited': (r) => r.status === 201 && r.json('type') === 'message.edited'
  })
  if (ok) requestsOk.add(1, { name: 'edit' })
  return true
}

/** Adds a reaction to a recent message of the room, or takes back the last one added; false when none is known. */
function reactTo(user, i, room, roomId, { roomSeeds }) {
  const turn = (turns[i] = (turns[i] || 0) + 1)
  const mine = (added[i] = added[i] || [])
  const back = turn % 2 === 0 ? mine.pop() : undefined
  const target = back || {
    seq: anyOf(roomSeeds[room].concat(recent[room] || [])),
    key: KEYS[(turn >> 1) % KEYS.length]
  }
  if (target.seq === undefined) return false
  const res = react(user.token, roomId, target.seq, target.key, Boolean(back))
  const ok = check(res, { 'react 201 or 204': (r) => r.status === 201 || r.status === 204 })
  if (!ok) return true
  requestsOk.add(1, { name: 'react' })
  if (!back && res.status === 201) mine.push(target)
  return true
}

export default function (data) {
  const i = Math.floor(Math.random() * data.users.length)
  const room = i % data.rooms.length
  const user = data.users[i]
  const roomId = data.rooms[room].id
  const u = Math.random()
  const done =
    u < EDIT_SHARE
      ? edit(user, i, roomId, data)
      : u < EDIT_SHARE + REACT_SHARE
        ? reactTo(user, i, room, roomId, data)
        : false
  if (!done) post(user, i, room, roomId)
}

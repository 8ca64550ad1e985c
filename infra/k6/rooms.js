// Rooms under load: setup() registers USERS users and creates ROOMS rooms; then VUs (ramping to VUS) each act
// as one of those users and, every iteration, join a random room (idempotent), read it, list all rooms and
// their own, and now and then (CREATE_RATIO) create a room.
//
// setup() registers and logs in USERS users: the server must run with AUTH_RATE_LIMIT raised above that
// (it counts attempts per client address per minute, default 20), e.g. AUTH_RATE_LIMIT=1000000 pnpm cluster.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=50 -e DURATION=2m infra/k6/rooms.js
import { check, group, sleep } from 'k6'
import { createRoom, createRooms, createUsers, envNumber, expect, getRoom, joinRoom, listRooms, RUN_ID } from './lib.js'

const VUS = envNumber('VUS', 20)
const USERS = envNumber('USERS', 50)
const ROOMS = envNumber('ROOMS', 50)
const CREATE_RATIO = envNumber('CREATE_RATIO', 0.05)
const P95 = envNumber('P95', 100)
const P99 = envNumber('P99', 250)

export const options = {
  setupTimeout: '5m',
  scenarios: {
    rooms: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: __ENV.RAMP || '30s', target: VUS },
        { duration: __ENV.DURATION || '1m', target: VUS },
        { duration: '10s', target: 0 }
      ],
      gracefulRampDown: '10s'
    }
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'http_req_duration{name:join}': [`p(95)<${P95}`, `p(99)<${P99}`],
    'http_req_duration{name:create}': [`p(95)<${P95}`, `p(99)<${P99}`],
    'http_req_duration{name:room}': [`p(95)<${P95}`, `p(99)<${P99}`],
    'http_req_duration{name:list}': [`p(95)<${P95}`, `p(99)<${P99}`],
    'http_req_duration{name:list_mine}': [`p(95)<${P95}`, `p(99)<${P99}`]
  }
}

export function setup() {
  const users = createUsers(USERS, 'r')
  const rooms = createRooms(users, ROOMS)
  return { users, rooms }
}

export default function ({ users, rooms }) {
  const user = users[(__VU - 1) % users.length]
  const room = rooms[Math.floor(Math.random() * rooms.length)]
  group('join and read', () => {
    const joined = expect(joinRoom(user.token, room.id), 200, 'join')
    if (joined) check(joined, { 'join returns the room': (r) => r.id === room.id })
    expect(getRoom(user.token, room.id), 200, 'room')
  })
  group('list', () => {
    expect(listRooms(user.token), 200, 'list')
    expect(listRooms(user.token, true), 200, 'list_mine')
  })
  if (Math.random() < CREATE_RATIO) {
    group('create', () => {
      expect(createRoom(user.token, `k6 ${RUN_ID} vu ${__VU} ${__ITER}`), 201, 'create')
    })
  }
  sleep(envNumber('SLEEP', 0.2))
}

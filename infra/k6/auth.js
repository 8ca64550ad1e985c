// Registration and login under load: every iteration registers a new user, logs in, reads /users/me with
// the new access token and logs out. VUs ramp from 0 to VUS, hold for DURATION, then ramp down.
//
// Passwords are hashed with argon2id (19 MiB, t=2, p=1) on a bounded pool, so registration and login are
// deliberately costly: their latency grows with concurrency (`pnpm bench:login`: ~36 ms alone, ~700 ms p50
// with 50 at once on 2 cores). The thresholds below are for the default VUS; tune LOGIN_P95 / LOGIN_P99.
//
// The server limits registration, login and refresh per client address (AUTH_RATE_LIMIT, 20 a minute),
// and all of k6's traffic comes from one address: start the server with a raised limit, e.g.
//   AUTH_RATE_LIMIT=1000000 pnpm cluster
// otherwise nearly every request past the first 20 is a 429 CHAT_RATE_LIMITED.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=20 -e DURATION=2m infra/k6/auth.js
import { group, sleep } from 'k6'
import { envNumber, expect, login, logout, me, register, uniqueUsername } from './lib.js'

const VUS = envNumber('VUS', 10)
const DURATION = __ENV.DURATION || '1m'
const RAMP = __ENV.RAMP || '30s'

export const options = {
  scenarios: {
    auth: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: RAMP, target: VUS },
        { duration: DURATION, target: VUS },
        { duration: '10s', target: 0 }
      ],
      gracefulRampDown: '10s'
    }
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
    'http_req_duration{name:login}': [`p(95)<${envNumber('LOGIN_P95', 1000)}`, `p(99)<${envNumber('LOGIN_P99', 2000)}`],
    'http_req_duration{name:register}': [
      `p(95)<${envNumber('LOGIN_P95', 1000)}`,
      `p(99)<${envNumber('LOGIN_P99', 2000)}`
    ],
    // Routes without a password hash stay fast even while hashing saturates the pool.
    'http_req_duration{name:me}': ['p(95)<50'],
    'http_req_duration{name:logout}': ['p(95)<50']
  }
}

export default function () {
  const username = uniqueUsername('a')
  let session = null
  group('register and login', () => {
    const user = expect(register(username), 201, 'register')
    if (user) session = expect(login(username), 200, 'login')
  })
  if (!session) return
  group('use and end the session', () => {
    expect(me(session.accessToken), 200, 'me')
    expect(logout(session.accessToken), 204, 'logout')
  })
  sleep(envNumber('SLEEP', 0.5))
}

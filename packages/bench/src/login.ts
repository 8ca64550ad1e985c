// Login cost: the time of one login (argon2id verify + session insert) measured sequentially, then 50
// concurrent logins while another client pings /healthz, to show what hashing does to everyone else.
import { randomBytes } from 'node:crypto'
import { startServer, request, percentile } from './server.ts'

const SEQUENTIAL = Number(process.env.LOGINS ?? 30)
const CONCURRENT = Number(process.env.CONCURRENT_LOGINS ?? 50)

const server = await startServer({ AUTH_RATE_LIMIT: '100000' })
try {
  const username = `bench_${randomBytes(3).toString('hex')}`
  const password = 'bench password 123'
  await request(server.port, 'POST', '/users', { username, password })
  const login = async () => {
    const started = performance.now()
    const res = await request(server.port, 'POST', '/auth/login', { username, password })
    if (res.status !== 200) throw new Error(`login: ${res.status}`)
    return performance.now() - started
  }
  const sequential: number[] = []
  for (let i = 0; i < SEQUENTIAL; i++) sequential.push(await login())
  sequential.sort((a, b) => a - b)

  let flooding = true
  const pings: number[] = []
  const pinger = (async () => {
    while (flooding) {
      const started = performance.now()
      await request(server.port, 'GET', '/healthz')
      pings.push(performance.now() - started)
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  const flood = await Promise.all(Array.from({ length: CONCURRENT }, login))
  flooding = false
  await pinger
  flood.sort((a, b) => a - b)
  pings.sort((a, b) => a - b)
  const ms = (v: number) => Number(v.toFixed(1))
  process.stdout.write(
    JSON.stringify(
      {
        loginMs: { p50: ms(percentile(sequential, 50)), p90: ms(percentile(sequential, 90)), n: SEQUENTIAL },
        concurrentLogins: { n: CONCURRENT, p50: ms(percentile(flood, 50)), max: ms(percentile(flood, 100)) },
        healthzDuringFloodMs: { p50: ms(percentile(pings, 50)), max: ms(percentile(pings, 100)), n: pings.length }
      },
      null,
      2
    ) + '\n'
  )
} finally {
  await server.stop()
}

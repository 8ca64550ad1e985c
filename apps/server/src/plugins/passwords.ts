// Password hashing with argon2id at (at least) the OWASP parameters. Hashes run on libuv's thread pool; a
// small semaphore bounds how many run at once and how many may wait, so a login flood costs a bounded amount
// of memory and never starves the event loop or the pool.
import fp from 'fastify-plugin'
import argon2 from 'argon2'
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { ServerBusy } from '../errors.ts'

// 19 MiB, 2 passes, 1 lane: OWASP's minimum for argon2id.
const PARAMS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const

export interface Passwords {
  hash(password: string): Promise<string>
  /** False for a wrong password or a missing hash; takes as long either way. */
  verify(hash: string | null | undefined, password: string): Promise<boolean>
}

declare module 'fastify' {
  interface FastifyInstance {
    passwords: Passwords
  }
}

class Semaphore {
  private active = 0
  private readonly waiting: Array<() => void> = []
  constructor(
    private readonly max: number,
    private readonly maxWaiting: number
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) {
      if (this.waiting.length >= this.maxWaiting) throw new ServerBusy()
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    } else {
      this.active++
    }
    try {
      return await task()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.active--
    }
  }
}

export interface PasswordOptions {
  /** Hashes running at once (default: the number of cores). */
  concurrency?: number
  /** Hashes allowed to wait before new ones are refused with 503 (default 256). */
  maxWaiting?: number
}

export default fp<PasswordOptions>(
  async (app, opts) => {
    const gate = new Semaphore(opts.concurrency ?? availableParallelism(), opts.maxWaiting ?? 256)
    // Unknown users are checked against this hash so that they take as long as a wrong password.
    const dummyHash = await argon2.hash(randomBytes(16), PARAMS)
    const passwords: Passwords = {
      hash: (password) => gate.run(() => argon2.hash(password, PARAMS)),
      verify: (hash, password) =>
        gate.run(async () => {
          const ok = await argon2.verify(hash ?? dummyHash, password)
          return ok && Boolean(hash)
        })
    }
    app.decorate('passwords', passwords)
  },
  { name: 'passwords' }
)

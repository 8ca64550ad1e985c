// Access tokens and the `authenticate` hook. An access token is a short-lived HS256 JWT naming its session
// (sid); every request checks the signature, every claim, and that the session is still live (app.sessions),
// so a logout, a rotation replay or a deleted user takes effect at once on every node sharing the database.
import fp from 'fastify-plugin'
import jwt from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import { Unauthorized } from '../errors.ts'

export const TOKEN_ISSUER = 'chat-api'
export const TOKEN_AUDIENCE = 'chat-api'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface AuthContext {
  userId: string
  sessionId: string
  /** Access token expiry, ms since the epoch. */
  expiresAt: number
}

export interface AccessTokens {
  /** A signed access token for a live session, valid for `ttl` seconds. */
  issue(userId: string, sessionId: string): string
  readonly ttl: number
}

export interface AuthOptions {
  secret: string
  accessTokenTtl: number
}

declare module 'fastify' {
  interface FastifyInstance {
    accessTokens: AccessTokens
    authenticate(request: FastifyRequest): Promise<void>
  }
  interface FastifyRequest {
    auth: AuthContext
  }
  interface FastifyContextConfig {
    /** Stream routes: EventSource cannot send headers, so ?access_token= is accepted too. */
    tokenInQuery?: boolean
  }
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header) {
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header)
    return match?.[1]
  }
  if (request.routeOptions.config.tokenInQuery) {
    const query = request.query as { access_token?: unknown }
    if (typeof query.access_token === 'string') return query.access_token
  }
  return undefined
}

/**
 * Tokens this node already verified, by their exact text, with their claims. A token's signature and claims never
 * change, so a repeated token skips the HMAC and the claim checks (about 6 µs of a post's ~100 µs of CPU) and
 * only its expiry is looked at again; any other text, a tampered one included, is verified in full. Only tokens
 * that passed are kept, and the session check still runs on every request, so a logout or a revoked session
 * is refused as before. Bounded: past `max` tokens the oldest goes.
 */
export class VerifiedTokens {
  readonly #claims = new Map<string, Readonly<AuthContext>>()
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  get size(): number {
    return this.#claims.size
  }

  /** The token's claims if it was verified here and has not expired. */
  get(token: string, now = Date.now()): Readonly<AuthContext> | undefined {
    const auth = this.#claims.get(token)
    if (auth === undefined || auth.expiresAt > now) return auth
    this.#claims.delete(token)
    return undefined
  }

  set(token: string, auth: Readonly<AuthContext>): void {
    if (this.#claims.size >= this.#max) this.#claims.delete(this.#claims.keys().next().value!)
    this.#claims.set(token, auth)
  }
}

/** How many verified tokens a node remembers: a few MiB at most. */
const VERIFIED_TOKENS = 10_000

/** The claims of a token this node signed and has not expired, or null. */
function claimsOf(verify: (token: string) => unknown, token: string): Readonly<AuthContext> | null {
  let claims: { sub?: unknown; sid?: unknown; exp?: unknown }
  try {
    claims = verify(token) as typeof claims
  } catch {
    return null
  }
  const { sub, sid, exp } = claims
  if (typeof sub !== 'string' || typeof sid !== 'string' || typeof exp !== 'number') return null
  if (!UUID.test(sub) || !UUID.test(sid)) return null
  return Object.freeze({ userId: sub, sessionId: sid, expiresAt: exp * 1000 })
}

export default fp<AuthOptions>(
  async (app, opts) => {
    await app.register(jwt, {
      secret: opts.secret,
      // @fastify/jwt reads a numeric expiresIn as seconds (it converts to ms for fast-jwt itself).
      sign: { algorithm: 'HS256', iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, expiresIn: opts.accessTokenTtl },
      verify: {
        algorithms: ['HS256'],
        allowedIss: TOKEN_ISSUER,
        allowedAud: TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'sid', 'iat', 'exp', 'iss', 'aud']
      }
    })
    app.decorate('accessTokens', {
      issue: (userId: string, sessionId: string) => app.jwt.sign({ sub: userId, sid: sessionId }),
      ttl: opts.accessTokenTtl
    } satisfies AccessTokens)

    const verify = (token: string) => app.jwt.verify(token)
    const verified = new VerifiedTokens(VERIFIED_TOKENS)
    const authOf = (token: string) => {
      const known = verified.get(token)
      if (known) return known
      const auth = claimsOf(verify, token)
      if (auth) verified.set(token, auth)
      return auth
    }
    app.decorateRequest('auth', null as unknown as AuthContext)
    app.decorate('authenticate', async function authenticate(request: FastifyRequest) {
      const token = bearer(request)
      const auth = token === undefined ? null : authOf(token)
      if (!auth || !(await app.sessions.isLive(auth.userId, auth.sessionId))) throw new Unauthorized()
      request.auth = auth
    })
  },
  { name: 'auth', dependencies: ['sessions'] }
)

// The session a client holds and every HTTP call made with it: the bearer token on each request, one refresh
// in flight however many calls wait for it, a refresh before a token known to have lapsed is sent, and after
// a 401 one refresh and one retry.
import type { Session } from '@chat/contracts'
import { ChatApiError } from './errors.ts'
import type { FetchLike, Tokens } from './types.ts'
import { abortable } from './abort.ts'

type Query = Record<string, string | number | boolean | undefined>

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  query?: Query
  body?: unknown
  signal?: AbortSignal | undefined
  /** false for registration, login and refresh, which take no token. */
  auth?: boolean
}

/** The claims of a JWT the client reads (never trusts: the server checks them), or none if it is not one. */
function jwtClaims(token: string): { exp?: unknown; iat?: unknown; sub?: string } {
  const payload = token.split('.')[1]
  if (!payload) return {}
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>
    return { exp: claims.exp, iat: claims.iat, ...(typeof claims.sub === 'string' && { sub: claims.sub }) }
  } catch {
    return {}
  }
}

const seconds = (value: unknown) => (typeof value === 'number' ? value * 1000 : undefined)
/** When a JWT lapses, in ms since the epoch, or undefined when that cannot be read from it. */
const jwtExpiry = (token: string) => seconds(jwtClaims(token).exp)
const jwtIssued = (token: string) => seconds(jwtClaims(token).iat)

export class SessionKeeper {
  #current: Tokens | null
  #refreshing: Promise<Tokens> | null = null
  #refreshAt: number | undefined
  readonly #baseUrl: string
  readonly #onTokens: ((tokens: Tokens | null) => void) | undefined
  readonly #marginMs: number

  constructor(
    baseUrl: string,
    readonly fetch: FetchLike,
    tokens: Tokens | null,
    onTokens: ((tokens: Tokens | null) => void) | undefined,
    marginMs: number
  ) {
    this.#baseUrl = baseUrl
    this.#onTokens = onTokens
    this.#marginMs = marginMs
    this.#current = tokens ? { ...tokens, expiresAt: tokens.expiresAt ?? jwtExpiry(tokens.accessToken) } : null
    this.#refreshAt = this.#current ? this.#refreshTime(this.#current, jwtIssued(this.#current.accessToken)) : undefined
  }

  /**
   * When to refresh before a token goes out: the margin ahead of its expiry, but never more than a quarter of its
   * lifetime (a short-lived token would otherwise be refreshed before every call).
   */
  #refreshTime(tokens: Tokens, issuedAt: number | undefined): number | undefined {
    if (tokens.expiresAt === undefined) return undefined
    const lifetime = issuedAt === undefined ? Infinity : tokens.expiresAt - issuedAt
    return tokens.expiresAt - Math.min(this.#marginMs, lifetime / 4)
  }

  get tokens(): Tokens | null {
    return this.#current
  }

  /** The signed-in user's id (the access token's subject), or undefined when signed out. */
  get userId(): string | undefined {
    return this.#current ? jwtClaims(this.#current.accessToken).sub : undefined
  }

  set(tokens: Tokens | null, issuedAt?: number): void {
    this.#current = tokens
    this.#refreshAt = tokens ? this.#refreshTime(tokens, issuedAt ?? jwtIssued(tokens.accessToken)) : undefined
    this.#onTokens?.(tokens)
  }

  /** Keeps a session the server just issued. */
  adopt(session: Session): Tokens {
    const now = Date.now()
    const tokens = {
      accessToken: session.accessToken,
      refreshToken: session.refreshToken,
      expiresAt: now + session.expiresIn * 1000
    }
    this.set(tokens, now)
    return tokens
  }

  url(path: string, query?: Query): string {
    const params = new URLSearchParams()
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) params.set(key, String(value))
    }
    const search = params.toString()
    return `${this.#baseUrl}${path}${search ? `?${search}` : ''}`
  }

  /**
   * A new pair of tokens. Every caller while one refresh is in flight shares it; a caller's signal only stops
   * its own wait, never the refresh the others wait for. A refused refresh token ends the session.
   */
  refresh(signal?: AbortSignal): Promise<Tokens> {
    if (!this.#refreshing) {
      const refreshToken = this.#current?.refreshToken
      this.#refreshing = (async () => {
        if (!refreshToken) {
          throw new ChatApiError({
            statusCode: 401,
            code: 'CHAT_UNAUTHORIZED',
            error: 'Unauthorized',
            message: 'No session to refresh'
          })
        }
        try {
          const response = await this.#send({ method: 'POST', path: '/auth/refresh', body: { refreshToken } }, null)
          return this.adopt((await response.json()) as Session)
        } catch (error) {
          if (
            error instanceof ChatApiError &&
            error.statusCode === 401 &&
            this.#current?.refreshToken === refreshToken
          ) {
            this.set(null)
          }
          throw error
        }
      })().finally(() => {
        this.#refreshing = null
      })
    }
    return abortable(this.#refreshing, signal)
  }

  /** An access token good to send now: refreshed first when it is known to lapse within the margin. */
  async accessToken(signal?: AbortSignal): Promise<string | null> {
    if (this.#refreshing) return (await abortable(this.#refreshing, signal)).accessToken
    const tokens = this.#current
    if (!tokens) return null
    if (this.#refreshAt !== undefined && this.#refreshAt <= Date.now()) {
      return (await this.refresh(signal)).accessToken
    }
    return tokens.accessToken
  }

  /**
   * After `used` was refused: the token some other call already got in its place, or a refreshed one. Null when
   * there is no session to refresh (the 401 stands).
   */
  async renew(used: string | null, signal?: AbortSignal): Promise<string | null> {
    if (this.#refreshing) return (await abortable(this.#refreshing, signal)).accessToken
    const tokens = this.#current
    if (!tokens) return null
    if (tokens.accessToken !== used) return tokens.accessToken
    return (await this.refresh(signal)).accessToken
  }

  /** One authenticated call: an ok response, or a ChatApiError. A 401 is followed by one refresh and one retry. */
  async request(spec: RequestSpec): Promise<Response> {
    if (spec.auth === false) return this.#send(spec, null)
    const token = await this.accessToken(spec.signal)
    try {
      return await this.#send(spec, token)
    } catch (error) {
      if (!(error instanceof ChatApiError) || error.statusCode !== 401) throw error
      const renewed = await this.renew(token, spec.signal)
      if (renewed === null) throw error
      return this.#send(spec, renewed)
    }
  }

  async #send(spec: RequestSpec, token: string | null): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (token !== null) headers.authorization = `Bearer ${token}`
    if (spec.body !== undefined) headers['content-type'] = 'application/json'
    const init: RequestInit = { method: spec.method, headers }
    if (spec.body !== undefined) init.body = JSON.stringify(spec.body)
    if (spec.signal) init.signal = spec.signal
    const response = await this.fetch(this.url(spec.path, spec.query), init)
    if (!response.ok) throw await ChatApiError.fromResponse(response)
    return response
  }
}

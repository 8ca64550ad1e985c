// Environment → typed configuration, read once at start. A bad value is a ConfigError naming the variable and
// what it expects; the process entry prints that one line and exits.
import { isIP } from 'node:net'

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export type TrustProxy = boolean | number | string[]
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface Config {
  port: number
  host: string
  /** Unset: embedded PostgreSQL (PGlite) in dataDir. */
  databaseUrl: string | undefined
  /** Unset (and no redisCluster): in-process bus, one node. */
  redisUrl: string | undefined
  /** A Redis Cluster instead of one Redis: its seed nodes, and how many partitions its channels are hashed into. */
  redisCluster: { nodes: { host: string; port: number }[]; partitions: number } | undefined
  /** Put before every Redis key and channel of this deployment, so several can share one Redis. */
  redisPrefix: string
  /** Unset with the embedded database: generated once and kept in dataDir. */
  jwtSecret: string | undefined
  dataDir: string
  trustProxy: TrustProxy
  logLevel: LogLevel
  accessTokenTtl: number
  refreshTokenTtl: number
  maxStreamsPerUser: number
  authRateLimit: number
  messageRateLimit: number
  /** Typing requests per 10 seconds per user. */
  typingRateLimit: number
  /** Typists a room shows at once. */
  typingMaxPerRoom: number
  /** Rooms with more members get no `presence` events. */
  presenceMaxMembers: number
  /** '*' for any origin, a list of origins, or false for same-origin only. */
  corsOrigins: '*' | string[] | false
}

type Env = Record<string, string | undefined>

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${raw}")`)
  }
  return Number(raw)
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim()
  return raw ? raw : undefined
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = optional(env, name)
  if (raw === undefined) return undefined
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    throw new ConfigError(`${name} must be a URL like ${protocols[0]}//host:port/… (got an unparsable value)`)
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${name} must use ${protocols.join(' or ')} (got "${parsed.protocol}")`)
  }
  return raw
}

// An address or CIDR Fastify's proxy-addr accepts; anything else would crash it at start with a bare TypeError.
function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true
  const [address = '', bits, ...rest] = entry.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128))
}

function trustProxy(env: Env): TrustProxy {
  const raw = optional(env, 'TRUST_PROXY')
  if (raw === undefined || raw === 'false') return false
  if (raw === 'true') return true
  if (/^\d+$/.test(raw)) return Number(raw)
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (list.some((entry) => !isProxyAddress(entry))) {
    throw new ConfigError(
      'TRUST_PROXY must be true, false, a number of hops, or a comma-separated list of proxy addresses/CIDRs'
    )
  }
  return list
}

function corsOrigins(env: Env): Config['corsOrigins'] {
  const raw = optional(env, 'CORS_ORIGINS')
  if (raw === undefined) return false
  if (raw === '*') return '*'
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const origin of list) {
    let parsed: URL | undefined
    try {
      parsed = new URL(origin)
    } catch {
      parsed = undefined
    }
    if (!parsed || parsed.origin !== origin) {
      throw new ConfigError(
        `CORS_ORIGINS must be "*" or comma-separated origins like https://app.example.com (bad: "${origin}")`
      )
    }
  }
  return list
}

// No braces: they would turn part of every key into a Redis Cluster hash tag.
function redisPrefix(env: Env): string {
  const raw = optional(env, 'REDIS_PREFIX') ?? 'chat:'
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(raw)) {
    throw new ConfigError(`REDIS_PREFIX must be 1 to 64 characters of A-Z a-z 0-9 _ . : - (got "${raw}")`)
  }
  return raw
}

// REDIS_CLUSTER_NODES: comma-separated host:port seeds (IPv6 in brackets); any reachable one finds the rest.
function redisCluster(env: Env): Config['redisCluster'] {
  const raw = optional(env, 'REDIS_CLUSTER_NODES')
  if (raw === undefined) return undefined
  if (optional(env, 'REDIS_URL') !== undefined) {
    throw new ConfigError('REDIS_URL and REDIS_CLUSTER_NODES are mutually exclusive: set one of them')
  }
  const nodes = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((seed) => {
      const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(seed)
      const port = Number(match?.[2])
      if (!match || port < 1 || port > 65535) {
        throw new ConfigError(`REDIS_CLUSTER_NODES must be comma-separated host:port seeds (bad: "${seed}")`)
      }
      return { host: match[1]!.replace(/^\[|\]$/g, ''), port }
    })
  if (nodes.length === 0) throw new ConfigError('REDIS_CLUSTER_NODES names no node')
  return { nodes, partitions: integer(env, 'REDIS_CLUSTER_PARTITIONS', 64, 1, 16_384) }
}

/** Reads and validates the whole configuration; throws ConfigError on the first bad value. */
export function loadConfig(env: Env = process.env): Config {
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:'])
  const jwtSecret = optional(env, 'JWT_SECRET')
  if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < 32) {
    throw new ConfigError('JWT_SECRET must be at least 32 bytes long')
  }
  if (databaseUrl !== undefined && jwtSecret === undefined) {
    throw new ConfigError('JWT_SECRET is required when DATABASE_URL is set (at least 32 bytes, the same on every node)')
  }
  const logLevel = (optional(env, 'LOG_LEVEL') ?? 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`)
  }
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host: optional(env, 'HOST') ?? '127.0.0.1',
    databaseUrl,
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisCluster: redisCluster(env),
    redisPrefix: redisPrefix(env),
    jwtSecret,
    dataDir: optional(env, 'DATA_DIR') ?? './data',
    trustProxy: trustProxy(env),
    logLevel,
    accessTokenTtl: integer(env, 'ACCESS_TOKEN_TTL', 900, 10, 86_400),
    refreshTokenTtl: integer(env, 'REFRESH_TOKEN_TTL', 30 * 86_400, 60, 365 * 86_400),
    maxStreamsPerUser: integer(env, 'MAX_STREAMS_PER_USER', 10, 1, 10_000),
    authRateLimit: integer(env, 'AUTH_RATE_LIMIT', 20, 1, 1_000_000),
    messageRateLimit: integer(env, 'MESSAGE_RATE_LIMIT', 100, 1, 1_000_000),
    typingRateLimit: integer(env, 'TYPING_RATE_LIMIT', 50, 1, 1_000_000),
    typingMaxPerRoom: integer(env, 'TYPING_MAX_PER_ROOM', 5, 1, 1_000),
    presenceMaxMembers: integer(env, 'PRESENCE_MAX_MEMBERS', 500, 0, 1_000_000),
    corsOrigins: corsOrigins(env)
  }
}

// Configuration is the one place an operator talks to the server, so a mistake must fail at start with a message
// naming the variable, never half-start or fall back silently. The last test runs the real entry point to see
// that what an operator gets is one clear line on stderr and exit code 1, not a stack trace.
import t from 'tap'
import { spawn } from 'node:child_process'
import Fastify from 'fastify'
import { fileURLToPath } from 'node:url'
import { ConfigError, loadConfig } from '../src/config.ts'

const SECRET = 'x'.repeat(32)

t.test('defaults with an empty environment', async (t) => {
  t.same(loadConfig({}), {
    port: 3000,
    host: '127.0.0.1',
    databaseUrl: undefined,
    redisUrl: undefined,
    redisPrefix: 'chat:',
    jwtSecret: undefined,
    dataDir: './data',
    trustProxy: false,
    logLevel: 'info',
    accessTokenTtl: 900,
    refreshTokenTtl: 30 * 86_400,
    maxStreamsPerUser: 10,
    authRateLimit: 20,
    messageRateLimit: 100,
    typingRateLimit: 50,
    typingMaxPerRoom: 5,
    presenceMaxMembers: 500,
    corsOrigins: false
  })
  t.equal(loadConfig({ PORT: '', LOG_LEVEL: '  ' }).port, 3000, 'empty values are unset')
})

t.test('good values are read and typed', async (t) => {
  const config = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    DATABASE_URL: 'postgres://chat@db:5432/chat',
    REDIS_URL: 'redis://cache:6379',
    REDIS_PREFIX: 'chat-staging:',
    JWT_SECRET: SECRET,
    DATA_DIR: '/var/lib/chat',
    TRUST_PROXY: '10.0.0.0/8, loopback',
    LOG_LEVEL: 'warn',
    ACCESS_TOKEN_TTL: '60',
    REFRESH_TOKEN_TTL: '3600',
    MAX_STREAMS_PER_USER: '3',
    AUTH_RATE_LIMIT: '5',
    MESSAGE_RATE_LIMIT: '50',
    TYPING_RATE_LIMIT: '20',
    TYPING_MAX_PER_ROOM: '3',
    PRESENCE_MAX_MEMBERS: '0',
    CORS_ORIGINS: 'https://app.example.com,http://localhost:5173'
  })
  t.match(config, {
    port: 8080,
    host: '0.0.0.0',
    databaseUrl: 'postgres://chat@db:5432/chat',
    redisUrl: 'redis://cache:6379',
    redisPrefix: 'chat-staging:',
    jwtSecret: SECRET,
    dataDir: '/var/lib/chat',
    trustProxy: ['10.0.0.0/8', 'loopback'],
    logLevel: 'warn',
    accessTokenTtl: 60,
    refreshTokenTtl: 3600,
    maxStreamsPerUser: 3,
    authRateLimit: 5,
    messageRateLimit: 50,
    typingRateLimit: 20,
    typingMaxPerRoom: 3,
    presenceMaxMembers: 0,
    corsOrigins: ['https://app.example.com', 'http://localhost:5173']
  })
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2)
  t.equal(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins, '*')
  t.equal(loadConfig({ PORT: '0' }).port, 0)
  t.equal(loadConfig({ DATABASE_URL: 'postgresql://db/chat', JWT_SECRET: SECRET }).databaseUrl, 'postgresql://db/chat')
})

t.test('REDIS_CLUSTER_NODES: seeds of a Redis Cluster, instead of REDIS_URL', async (t) => {
  t.equal(loadConfig({}).redisCluster, undefined, 'unset: no cluster')
  t.same(loadConfig({ REDIS_CLUSTER_NODES: 'redis-1:7000, 10.0.0.2:7001,[::1]:7002' }).redisCluster, {
    nodes: [
      { host: 'redis-1', port: 7000 },
      { host: '10.0.0.2', port: 7001 },
      { host: '::1', port: 7002 }
    ],
    partitions: 64
  })
  t.equal(loadConfig({ REDIS_CLUSTER_NODES: 'r:7000', REDIS_CLUSTER_PARTITIONS: '16' }).redisCluster?.partitions, 16)
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ REDIS_CLUSTER_NODES: 'r:7000', REDIS_URL: 'redis://r:6379' }, /mutually exclusive/],
    [{ REDIS_CLUSTER_NODES: 'r' }, /REDIS_CLUSTER_NODES .*"r"/],
    [{ REDIS_CLUSTER_NODES: 'r:0' }, /REDIS_CLUSTER_NODES/],
    [{ REDIS_CLUSTER_NODES: 'r:7000,redis://s:7001' }, /REDIS_CLUSTER_NODES .*redis:\/\/s:7001/],
    [{ REDIS_CLUSTER_NODES: ',' }, /names no node/],
    [{ REDIS_CLUSTER_NODES: 'r:7000', REDIS_CLUSTER_PARTITIONS: '0' }, /REDIS_CLUSTER_PARTITIONS/]
  ]
  for (const [env, message] of refused)
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env))
})

t.test('every TRUST_PROXY list it accepts is one Fastify accepts too', async (t) => {
  for (const value of ['10.0.0.0/8', '::1, 192.168.0.1', 'fe80::/10,loopback,uniquelocal', '2001:db8::1/128']) {
    const { trustProxy } = loadConfig({ TRUST_PROXY: value })
    t.ok(Array.isArray(trustProxy), value)
    t.doesNotThrow(() => Fastify({ trustProxy: trustProxy as string[] }), value)
  }
})

t.test('each bad value is a ConfigError naming its variable', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ PORT: '80.5' }, 'PORT'],
    [{ JWT_SECRET: 'too-short' }, 'JWT_SECRET'],
    [{ DATABASE_URL: 'postgres://db/chat' }, 'JWT_SECRET'],
    [{ DATABASE_URL: 'mysql://db/chat', JWT_SECRET: SECRET }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url', JWT_SECRET: SECRET }, 'DATABASE_URL'],
    [{ REDIS_URL: 'http://cache:6379' }, 'REDIS_URL'],
    [{ REDIS_PREFIX: '{chat}:' }, 'REDIS_PREFIX'],
    [{ REDIS_PREFIX: 'chat prod:' }, 'REDIS_PREFIX'],
    [{ REDIS_PREFIX: 'x'.repeat(65) }, 'REDIS_PREFIX'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ CORS_ORIGINS: 'not-a-url' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://app.example.com/path' }, 'CORS_ORIGINS'],
    [{ TRUST_PROXY: 'garbage' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: 'cafe' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/99' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.1, nonsense' }, 'TRUST_PROXY'],
    [{ ACCESS_TOKEN_TTL: '5' }, 'ACCESS_TOKEN_TTL'],
    [{ ACCESS_TOKEN_TTL: '15m' }, 'ACCESS_TOKEN_TTL'],
    [{ REFRESH_TOKEN_TTL: 'forever' }, 'REFRESH_TOKEN_TTL'],
    [{ MAX_STREAMS_PER_USER: '0' }, 'MAX_STREAMS_PER_USER'],
    [{ AUTH_RATE_LIMIT: '0' }, 'AUTH_RATE_LIMIT'],
    [{ MESSAGE_RATE_LIMIT: 'lots' }, 'MESSAGE_RATE_LIMIT'],
    [{ TYPING_RATE_LIMIT: '0' }, 'TYPING_RATE_LIMIT'],
    [{ TYPING_MAX_PER_ROOM: '0' }, 'TYPING_MAX_PER_ROOM'],
    [{ PRESENCE_MAX_MEMBERS: '-1' }, 'PRESENCE_MAX_MEMBERS']
  ]
  for (const [env, variable] of cases) {
    let caught: unknown
    try {
      loadConfig(env)
    } catch (error) {
      caught = error
    }
    t.type(caught, ConfigError, `${JSON.stringify(env)} is refused`)
    t.match((caught as Error | undefined)?.message, new RegExp(`^${variable}\\b`), `…naming ${variable}`)
  }
})

t.test('the real process: a bad value is one line on stderr and exit code 1', async (t) => {
  const cwd = fileURLToPath(new URL('..', import.meta.url))
  const child = spawn(process.execPath, ['--conditions=@chat/source', '--import', 'tsx', 'src/server.ts'], {
    cwd,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: 'abc' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  t.equal(code, 1)
  t.match(stderr, /^Invalid configuration: PORT .*\n$/, stderr)
  t.equal(stderr.split('\n').length, 2, 'exactly one line')
  t.notMatch(stderr, /\bat .*:\d+:\d+/, 'no stack trace')
  t.equal(stdout, '')
})

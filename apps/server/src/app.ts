// Builds one Fastify instance from a Config: plugins first, then routes, one error handler. Nothing here is
// module-level state, so a process (or a test) can build as many apps as it likes.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify'
import type { DestinationStream } from 'pino'
import sensible from '@fastify/sensible'
import cors from '@fastify/cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { STATUS_CODES } from 'node:http'
import type { DbOptions } from '@chat/db'
import type { Config } from './config.ts'
import { RouteNotFound, Unavailable, errorChain } from './errors.ts'
import { validatorCompiler } from './validation.ts'
import { loadOrCreateSecret } from './secret.ts'
import dbPlugin from './plugins/db.ts'
import passwordsPlugin from './plugins/passwords.ts'
import redisPlugin from './plugins/redis.ts'
import sessionsPlugin from './plugins/sessions.ts'
import authPlugin from './plugins/auth.ts'
import rateLimitPlugin from './plugins/rate-limit.ts'
import docsPlugin from './plugins/docs.ts'
import metricsPlugin from './plugins/metrics.ts'
import realtimePlugin, { type RealtimeOptions } from './plugins/realtime.ts'
import streamSlotsPlugin from './plugins/stream-slots.ts'
import roomsService from './services/rooms.ts'
import usersService from './services/users.ts'
import healthRoutes from './routes/health.ts'
import authRoutes from './routes/auth.ts'
import userRoutes from './routes/users.ts'
import roomRoutes from './routes/rooms.ts'
import messageRoutes from './routes/messages.ts'
import eventRoutes from './routes/events.ts'

export const BODY_LIMIT = 64 * 1024

export interface AppOptions {
  config: Config
  /** Overrides the database the config describes (tests hand in a fresh one). */
  database?: DbOptions
  /** The bus and stream tuning (tests shorten the heartbeat or hand in a lossy bus). */
  realtime?: RealtimeOptions
  /** Where log lines go (default: stdout); tests read them from here. */
  logStream?: DestinationStream
}

// Connection-level failures of PostgreSQL: the request could succeed later, so they are 503, not 500.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  '57P01',
  '57P02',
  '57P03',
  '3D000',
  '53300',
  '55000'
])

function isUnavailable(error: unknown): boolean {
  return errorChain(error).some(
    (e) =>
      (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) ||
      e.message === 'PGlite is closed'
  )
}

/** Strips the value of access_token from a URL so it never reaches a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access(?:_|%5f)token=)[^&#]*/gi, '$1[redacted]')
}

export function databaseFromConfig(config: Config): DbOptions {
  return config.databaseUrl
    ? { kind: 'postgres', url: config.databaseUrl }
    : { kind: 'pglite', dataDir: config.dataDir }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options
  const database = options.database ?? databaseFromConfig(config)
  const secret = config.jwtSecret ?? (await loadOrCreateSecret(config.dataDir))

  const app = Fastify({
    logger: {
      level: config.logLevel,
      ...(options.logStream ? { stream: options.logStream } : {}),
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '[redacted]' },
      serializers: {
        req: (req) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip, reqId: req.id })
      }
    },
    bodyLimit: BODY_LIMIT,
    // Fastify accepts a hop count too; its types lag behind.
    trustProxy: config.trustProxy as boolean | string[],
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 }
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(validatorCompiler())
  // JSON only: a text/plain body is a 415, not a string handed to a schema that wants an object.
  app.removeContentTypeParser('text/plain')

  app.setErrorHandler((error: FastifyError, request, reply) => {
    let status = error.statusCode ?? 500
    let err: FastifyError = error
    if (status >= 500 && isUnavailable(error)) {
      err = new Unavailable()
      status = 503
    }
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed')
      return reply.code(status).send({
        statusCode: status,
        code: status === 503 ? err.code : 'CHAT_INTERNAL',
        error: STATUS_CODES[status] ?? 'Internal Server Error',
        message: status === 503 ? err.message : 'Internal Server Error'
      })
    }
    return reply.code(status).send({
      statusCode: status,
      code: err.code ?? (err.validation ? 'FST_ERR_VALIDATION' : 'CHAT_BAD_REQUEST'),
      error: STATUS_CODES[status] ?? 'Error',
      message: err.message
    })
  })
  app.setNotFoundHandler((request) => {
    throw new RouteNotFound(request.method, redactUrl(request.url).split('?')[0])
  })

  await app.register(sensible)
  await app.register(cors, {
    origin: config.corsOrigins === '*' ? '*' : config.corsOrigins,
    methods: ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Last-Event-ID'],
    exposedHeaders: ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
    maxAge: 600
  })
  await app.register(docsPlugin)
  await app.register(metricsPlugin)
  await app.register(dbPlugin, { database })
  await app.register(redisPlugin, { url: config.redisUrl })
  await app.register(passwordsPlugin)
  await app.register(sessionsPlugin, { refreshTokenTtl: config.refreshTokenTtl })
  await app.register(authPlugin, { secret, accessTokenTtl: config.accessTokenTtl })
  await app.register(realtimePlugin, options.realtime ?? {})
  await app.register(streamSlotsPlugin, { maxStreamsPerUser: config.maxStreamsPerUser })
  await app.register(rateLimitPlugin, { authPerMinute: config.authRateLimit, messagesPer10s: config.messageRateLimit })
  await app.register(roomsService)
  await app.register(usersService)

  await app.register(healthRoutes)
  await app.register(authRoutes)
  await app.register(userRoutes)
  await app.register(roomRoutes)
  await app.register(messageRoutes)
  await app.register(eventRoutes, { maxStreamsPerUser: config.maxStreamsPerUser })
  return app
}

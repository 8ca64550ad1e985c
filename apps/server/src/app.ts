// Builds one Fastify instance from a Config: plugins first, then routes, one error handler. Nothing here is
// module-level state, so a process (or a test) can build as many apps as it likes.
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify'
import type { DestinationStream } from 'pino'
import sensible from '@fastify/sensible'
import cors from '@fastify/cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { Duplex } from 'node:stream'
import { ErrorBody } from '@chat/contracts'
import type { DbOptions } from '@chat/db'
import type { Config } from './config.ts'
import {
  BadUrl,
  HeadersTooLarge,
  MalformedRequest,
  RequestTimeout,
  RouteNotFound,
  UriTooLong,
  bounded,
  errorBody,
  errorBodyOf
} from './errors.ts'
import { schemaErrorFormatter, validatorCompiler } from './validation.ts'
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
import nodePlugin from './plugins/node.ts'
import presencePlugin, { type PresenceOptions } from './plugins/presence.ts'
import typingService, { type TypingOptions } from './services/typing.ts'
import roomsService from './services/rooms.ts'
import usersService from './services/users.ts'
import userStreamsService from './services/user-streams.ts'
import healthRoutes from './routes/health.ts'
import authRoutes from './routes/auth.ts'
import userRoutes from './routes/users.ts'
import roomRoutes from './routes/rooms.ts'
import messageRoutes from './routes/messages.ts'
import eventRoutes from './routes/events.ts'
import wsRoutes from './routes/ws.ts'
import webPlugin, { type WebOptions } from './plugins/web.ts'

export const BODY_LIMIT = 64 * 1024
// Longer URLs are a 414. Node refuses a request line and headers past 16 KiB (431) before Fastify sees them;
// this bound holds for whatever comes in under it, and no id or query value of the API comes near it.
export const MAX_URL_LENGTH = 8 * 1024
// Statuses any route can answer before its handler runs, so each route's OpenAPI responses list them.
const ANY_ROUTE_ERRORS = [414, 431]

export interface AppOptions {
  config: Config
  /** Overrides the database the config describes (tests hand in a fresh one). */
  database?: DbOptions
  /** The bus and stream tuning (tests shorten the heartbeat or hand in a lossy bus). */
  realtime?: RealtimeOptions
  /** Typing's timings (tests shorten them). */
  typing?: TypingOptions
  /** Presence's timings and pacing (tests shorten them); the member cap comes from the config. */
  presence?: Omit<PresenceOptions, 'maxMembers'>
  /** Where the built web client is served from (tests hand in their own folder). */
  web?: WebOptions
  /** Where log lines go (default: stdout); tests read them from here. */
  logStream?: DestinationStream
}

/** Strips the value of access_token from a URL so it never reaches a log line. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]access(?:_|%5f)token=)[^&#]*/gi, '$1[redacted]')
}

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (headers too large, a timeout, bytes
 * that are not HTTP) in the contract's error shape, on the raw socket, then closes it.
 */
function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new HeadersTooLarge()
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new RequestTimeout()
        : new MalformedRequest()
  const body = errorBody(error.statusCode!, error.code, error.message)
  const json = JSON.stringify(body)
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${body.statusCode} ${body.error}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(json)}\r\n` +
        'Connection: close\r\n\r\n' +
        json
    )
  }
  socket.destroy()
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
    // Opening and migrating the database is a plugin's start: on a loaded machine it may take longer than
    // Fastify's 10 s default without anything being wrong.
    pluginTimeout: 60_000,
    // A malformed id of any length a URL may have reaches its schema and is a 400 there.
    routerOptions: { maxParamLength: MAX_URL_LENGTH },
    clientErrorHandler,
    // The router's own refusals go through the one error handler like every other error.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      void reply.send(error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? new UriTooLong(MAX_URL_LENGTH) : new BadUrl())
    },
    schemaErrorFormatter
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.addHook('onRoute', (route) => {
    const response = route.schema?.response as Record<string, unknown> | undefined
    if (response) for (const status of ANY_ROUTE_ERRORS) response[status] ??= ErrorBody
  })
  app.addHook('onRequest', async (request) => {
    if (request.url.length > MAX_URL_LENGTH) throw new UriTooLong(MAX_URL_LENGTH)
  })

  app.setValidatorCompiler(validatorCompiler())
  // JSON only: a text/plain body is a 415, not a string handed to a schema that wants an object.
  app.removeContentTypeParser('text/plain')

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const body = errorBodyOf(error, (err) => request.log.error({ err }, 'request failed'))
    return reply.code(body.statusCode).send(body)
  })
  app.setNotFoundHandler((request) => {
    throw new RouteNotFound(request.method, bounded(redactUrl(request.url).split('?')[0]!))
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
  await app.register(redisPlugin, {
    url: config.redisUrl,
    cluster: config.redisCluster,
    prefix: config.redisPrefix
  })
  await app.register(nodePlugin)
  await app.register(passwordsPlugin)
  await app.register(sessionsPlugin, { refreshTokenTtl: config.refreshTokenTtl })
  await app.register(authPlugin, { secret, accessTokenTtl: config.accessTokenTtl })
  await app.register(realtimePlugin, options.realtime ?? {})
  await app.register(streamSlotsPlugin, { maxStreamsPerUser: config.maxStreamsPerUser })
  await app.register(rateLimitPlugin, {
    authPerMinute: config.authRateLimit,
    messagesPer10s: config.messageRateLimit,
    typingPer10s: config.typingRateLimit
  })
  await app.register(presencePlugin, { ...options.presence, maxMembers: config.presenceMaxMembers })
  await app.register(typingService, { maxPerRoom: config.typingMaxPerRoom, ...options.typing })
  await app.register(roomsService)
  await app.register(usersService)
  await app.register(userStreamsService)

  await app.register(healthRoutes)
  await app.register(authRoutes)
  await app.register(userRoutes)
  await app.register(roomRoutes)
  await app.register(messageRoutes)
  await app.register(eventRoutes, { maxStreamsPerUser: config.maxStreamsPerUser })
  await app.register(wsRoutes, { maxStreamsPerUser: config.maxStreamsPerUser, corsOrigins: config.corsOrigins })
  await app.register(webPlugin, options.web ?? {})
  return app
}

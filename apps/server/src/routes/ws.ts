// The WebSocket (`GET /ws`): the user stream's events as JSON messages on the same hub, and commands from the
// client, each answered by exactly one reply. Everything is checked before the upgrade (token, Origin, cursor,
// the per-user cap), so a refusal is a plain HTTP response in the error shape, never an opened socket. Frames
// are bounded at 64 KiB (ws closes a bigger one with 1009); a frame that is binary (1003), not JSON (1007) or
// without a readable id (1008) closes the socket; a readable id with a bad command gets 400 CHAT_BAD_COMMAND.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import websocket from '@fastify/websocket'
import type { FastifyError, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { RawData, WebSocket } from 'ws'
import { CLOSE_REASONS, UserStreamQuery, WsCommand, WsServerMessage, errors, type ErrorBody } from '@chat/contracts'
import { WS_CLOSE_CODES, wsCodec, wsSink, type UserStream } from '@chat/realtime'
import { BadCommand, Forbidden, RateLimited, TooManyStreams, UpgradeRequired, errorBodyOf } from '../errors.ts'
import type { Budget } from '../plugins/rate-limit.ts'
import { compileStrict } from '../validation.ts'

export interface WsOptions {
  maxStreamsPerUser: number
  corsOrigins: '*' | string[] | false
}

export const MAX_FRAME_BYTES = 64 * 1024
// Commands a socket may have unanswered at once; past it, a command is refused with 429 at once.
const MAX_IN_FLIGHT = 32

const CLOSE_CODES =
  Object.entries(WS_CLOSE_CODES)
    .map(([reason, code]) => `${code} after close {reason: ${reason}}`)
    .join('; ') +
  '; 1003 for a binary frame, 1007 for one that is not JSON, 1008 for a command without a readable id, 1009 for ' +
  `a frame over ${MAX_FRAME_BYTES / 1024} KiB`

const wsRoutes: FastifyPluginAsyncTypebox<WsOptions> = async (app, opts) => {
  const isCommand = compileStrict(WsCommand)
  const releases = new WeakMap<FastifyRequest, () => void>()

  await app.register(websocket, {
    options: { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false },
    // Every socket is told `close {shutdown}` (1001) by the hub before the server goes.
    preClose: async () => {
      await app.realtime.hub.close('shutdown')
      for (const client of app.websocketServer.clients) client.close(1001, 'shutdown')
      await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()))
    }
  })

  /** A browser Origin must be one CORS_ORIGINS allows, or the server's own. */
  const originAllowed = (request: FastifyRequest): boolean => {
    const origin = request.headers.origin
    if (origin === undefined || opts.corsOrigins === '*') return true
    if (opts.corsOrigins && opts.corsOrigins.includes(origin)) return true
    try {
      return new URL(origin).host === request.headers.host
    } catch {
      return false
    }
  }

  app.route({
    method: 'GET',
    url: '/ws',
    onRequest: app.authenticate,
    config: { tokenInQuery: true },
    schema: {
      tags: ['events'],
      summary: 'The user stream and commands over one WebSocket',
      description:
        'Upgrade with `Authorization: Bearer` or ?access_token=; resume with ?cursor= (the user stream’s cursors). ' +
        'Server messages: {type:"event",cursor,event}, {type:"ready",cursor,rooms}, {type:"reset",reason}, ' +
        '{type:"room.deleted"|"room.left",roomId}, {type:"typing",roomId,user,typing}, ' +
        '{type:"presence",roomId,userId,online}, {type:"read",roomId,seq}, {type:"reply",id,ok,result|error}, ' +
        `{type:"close",reason} (reasons: ${CLOSE_REASONS.join(', ')}) just before the server closes the socket. ` +
        'Commands: {id,type:"message",roomId,text,clientMsgId?,replyTo?} (as POST /rooms/message), ' +
        '{id,type:"typing",roomId,typing?} (as POST /rooms/typing), {id,type:"read",roomId,seq} (as POST ' +
        '/rooms/read), {id,type:"ping"}; typing, read and ping answer with result null. Errors use the REST ' +
        `codes; a 429 carries retryAfter. Server pings every 15 s. Close codes: ${CLOSE_CODES}. A refused upgrade is an ` +
        'HTTP response: 400 (a malformed cursor), 401, 403 (an Origin CORS_ORIGINS does not allow), 429 (the ' +
        'per-user cap); a request without Upgrade is 426.',
      querystring: UserStreamQuery,
      response: {
        101: {
          description:
            'Switching Protocols: the socket is open. Each server message is one of these, one JSON object a text ' +
            'frame; commands are described above.',
          content: { 'application/json': { schema: WsServerMessage } }
        },
        ...errors(400, 401, 403, 426, 429)
      }
    },
    preHandler: async (request, reply) => {
      if (!request.ws) throw new UpgradeRequired()
      if (!originAllowed(request)) throw new Forbidden('This Origin may not open a WebSocket here')
      app.userStreams.checkCursor(request.query.cursor)
      const release = await app.streamSlots.acquire(request.auth.userId)
      if (!release) {
        reply.header('retry-after', '5')
        throw new TooManyStreams(opts.maxStreamsPerUser)
      }
      releases.set(request, release)
    },
    handler: async () => {
      throw new UpgradeRequired()
    },
    wsHandler: (socket, request) => {
      const release = releases.get(request) ?? (() => {})
      releases.delete(request)
      void serve(socket, request, release)
    }
  })

  /**
   * What an open socket keeps for its life instead of the request (whose headers hold the access token, and
   * which keeps Fastify's reply and child logger): the user, the request id for logs, the stream and the count
   * of commands in flight.
   */
  class Commands {
    readonly #socket: WebSocket
    readonly #userId: string
    readonly #reqId: string
    #stream: UserStream | null = null
    /** Commands that came before the stream was attached; null once it is. */
    #early: Array<[RawData, boolean]> | null = []
    #inFlight = 0

    constructor(socket: WebSocket, userId: string, reqId: string) {
      this.#socket = socket
      this.#userId = userId
      this.#reqId = reqId
    }

    onMessage = (data: RawData, isBinary: boolean): void => {
      if (this.#stream) void this.#command(this.#stream, data, isBinary)
      else this.#early?.push([data, isBinary])
    }

    onError = (err: Error): void => {
      app.log.error({ err, reqId: this.#reqId }, 'websocket error')
      this.#socket.terminate()
    }

    attached(stream: UserStream): void {
      this.#stream = stream
      const early = this.#early ?? []
      this.#early = null
      for (const [data, isBinary] of early) void this.#command(stream, data, isBinary)
    }

    async #command(stream: UserStream, data: RawData, isBinary: boolean): Promise<void> {
      const socket = this.#socket
      if (isBinary) return socket.close(1003, 'commands are text frames')
      let parsed: unknown
      try {
        parsed = JSON.parse(data.toString())
      } catch {
        return socket.close(1007, 'a command is one JSON object')
      }
      const id = (parsed as { id?: unknown } | null)?.id
      if (!((typeof id === 'number' && Number.isSafeInteger(id)) || (typeof id === 'string' && id.length <= 64))) {
        return socket.close(1008, 'a command needs an id')
      }
      const type = String((parsed as { type?: unknown }).type)
      const answer = (
        reply: { ok: true; result: unknown } | { ok: false; error: ErrorBody & { retryAfter?: number } }
      ) => {
        app.metrics.commands.inc({ type, outcome: reply.ok ? 'ok' : reply.error.code })
        stream.send(Buffer.from(JSON.stringify({ type: 'reply', id, ...reply })))
      }
      if (this.#inFlight >= MAX_IN_FLIGHT) {
        return answer({ ok: false, error: errorBodyOf(new RateLimited('1 second'), () => {}) })
      }
      this.#inFlight++
      try {
        answer({ ok: true, result: await run(parsed, this.#userId) })
      } catch (error) {
        const body = errorBodyOf(error as FastifyError, (err) =>
          app.log.error({ err, reqId: this.#reqId }, 'command failed')
        )
        const retryAfter = (error as { retryAfter?: number }).retryAfter
        answer({ ok: false, error: retryAfter === undefined ? body : { ...body, retryAfter } })
      } finally {
        this.#inFlight--
      }
    }
  }

  async function serve(socket: WebSocket, request: FastifyRequest, release: () => void): Promise<void> {
    const { userId, sessionId, expiresAt } = request.auth
    const { cursor } = request.query as { cursor?: string }
    const raw = request.raw.socket as Socket & { _httpMessage?: ServerResponse | null }
    // The upgrade's stand-in response (@fastify/websocket's) would stay on the socket, holding the request; the
    // plugin's error listener holds the request and reply: both go, and the socket keeps nothing of the request.
    raw._httpMessage?.detachSocket(raw)
    const commands = new Commands(socket, userId, String(request.id))
    socket.removeAllListeners('error')
    socket.on('error', commands.onError)
    socket.on('message', commands.onMessage)
    let stream: UserStream
    try {
      stream = await app.realtime.hub.attachUser({
        userId,
        sessionId,
        res: wsSink(socket, raw),
        expiresAt,
        codec: wsCodec,
        plan: () => app.userStreams.plan(userId, cursor)
      })
    } catch (err) {
      release()
      request.log.warn({ err }, 'socket could not attach')
      socket.close(1011, 'catch_up_failed')
      return
    }
    // Presence and the stream slot follow the stream, through callbacks that hold nothing of the request.
    app.presence.holdWhile(stream)
    stream.whenEnded(release)
    if (!(await app.sessions.isLive(userId, sessionId))) stream.close('session_ended')
    commands.attached(stream)
  }

  async function run(parsed: unknown, userId: string): Promise<unknown> {
    if (!isCommand(parsed)) throw new BadCommand(`Not a command this server knows: ${isCommand.errorText()}`)
    switch (parsed.type) {
      case 'ping':
        return null
      case 'message': {
        await withinBudget(app.rateLimits.messageBudget, userId)
        const { id: _id, type: _type, ...body } = parsed
        return (await app.rooms.post(userId, body)).event
      }
      case 'typing': {
        await withinBudget(app.rateLimits.typingBudget, userId)
        await app.typing.set(userId, { roomId: parsed.roomId, typing: parsed.typing ?? true })
        return null
      }
      case 'read':
        await app.rooms.read(userId, { roomId: parsed.roomId, seq: parsed.seq })
        return null
    }
  }

  /** A 429 with retryAfter once the user's budget is spent. */
  async function withinBudget(budget: Budget, userId: string): Promise<void> {
    const retryAfter = await budget(userId)
    if (retryAfter > 0) throw Object.assign(new RateLimited(`${retryAfter} seconds`), { retryAfter })
  }
}

export default wsRoutes

// The node's realtime side: the bus (Redis pub/sub on the connections of the redis plugin, or in-process), the
// hub that owns this node's streams, and the publisher the services call after a commit. Revoked sessions end
// their streams on every node through the bus. The hub is closed before the server stops listening, so every
// stream is told `shutdown`.
import fp from 'fastify-plugin'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import {
  Hub,
  MemoryBus,
  RedisBus,
  ShardedBus,
  type Bus,
  type EndReason,
  type EndStreamsFilter,
  Publisher,
  type RoomNoticeMessage
} from '@chat/realtime'
import type { RoomEvent, User } from '@chat/contracts'
import type { Database } from '@chat/db'
import { Lookups } from '../per-turn.ts'
import { eventsAfter, eventsAfterMany, headSeqs } from '../repositories/room-log.ts'
import { saveBase } from '../repositories/stream-bases.ts'
import type { Revocation, RevokeReason } from './sessions.ts'

export interface RealtimeOptions {
  /** A bus handed in (tests); it stays open when the app closes. */
  bus?: Bus
  heartbeatMs?: number
  maxBacklogBytes?: number
}

/**
 * What services call after a commit. A failed publish does not fail the request: the event is stored, and
 * every node's broadcaster reads it from the database when it notices the gap.
 */
export class Realtime {
  readonly hub: Hub
  readonly bus: Bus
  readonly #publisher: Publisher
  readonly #metrics: FastifyInstance['metrics']
  readonly #log: FastifyBaseLogger

  constructor(hub: Hub, bus: Bus, metrics: FastifyInstance['metrics'], log: FastifyBaseLogger) {
    this.hub = hub
    this.bus = bus
    this.#publisher = new Publisher(bus)
    this.#metrics = metrics
    this.#log = log
  }

  /** A stored event, to every node's broadcaster of its room. */
  async publishEvent(event: RoomEvent): Promise<void> {
    this.#metrics.eventsPublished.inc({ type: event.type })
    await this.#publisher.publishEvent(event).catch(this.#failed('event'))
  }

  /** The user's streams on every node start following the room from its event `seq` (0: from its first). */
  async publishJoined(userId: string, roomId: string, seq: number): Promise<void> {
    await this.#publisher.publishJoined(userId, roomId, seq).catch(this.#failed('join'))
  }

  /** The user's own connections on every node hear that their read marker in the room moved to `seq`. */
  async publishRead(userId: string, roomId: string, seq: number): Promise<void> {
    await this.#publisher.publishRead(userId, roomId, seq).catch(this.#failed('read marker'))
  }

  /** The other members' connections of the room, on every node, hear that `user` is typing or stopped. */
  async publishTyping(roomId: string, user: User, typing: boolean): Promise<void> {
    await this.#notice({ k: 'typing', roomId, user, typing })
  }

  /** The other members' connections of the room, on every node, hear that the user came online or went offline. */
  async publishPresence(roomId: string, userId: string, online: boolean): Promise<void> {
    await this.#notice({ k: 'presence', roomId, userId, online })
  }

  async #notice(msg: RoomNoticeMessage): Promise<void> {
    await this.#publisher.publishNotice(msg).catch(this.#failed(msg.k))
  }

  /** A deleted room: its streams everywhere get room.deleted, then close. */
  async publishRoomDeleted(roomId: string): Promise<void> {
    await this.#publisher.publishRoomDeleted(roomId).catch(this.#failed('room deletion'))
  }

  /** Ends matching streams on every node with a `close` frame carrying `reason`. */
  async endStreams(filter: EndStreamsFilter, reason: EndReason): Promise<void> {
    await this.#publisher.endStreams(filter, reason).catch(this.#failed('end of streams'))
  }

  #failed(what: string) {
    return (err: unknown) => this.#log.warn({ err }, `bus: ${what} not published`)
  }
}

/**
 * Where broadcasters start: the heads of the rooms asked for in one turn, in one read. A user stream opening a
 * thousand rooms on a cold node costs one query, not a thousand.
 */
class HeadReader {
  readonly #lookups: Lookups<string, number>

  constructor(db: Database) {
    this.#lookups = new Lookups(async (roomIds) => {
      const heads = await headSeqs(db, [...new Set(roomIds)])
      return (roomId) => heads.get(roomId) ?? 0
    }, 1000)
  }

  read(roomId: string): Promise<number> {
    return this.#lookups.ask(roomId)
  }

  close(): Promise<void> {
    return this.#lookups.close()
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    realtime: Realtime
  }
}

const END_REASON: Record<RevokeReason, EndReason> = {
  logout: 'logout',
  password_changed: 'session_ended',
  refresh_reuse: 'session_ended',
  user_deleted: 'user_deleted'
}

export default fp<RealtimeOptions>(
  async (app, opts) => {
    const { metrics, redis } = app
    const onError = (err: unknown) => app.log.warn({ err }, 'redis bus')
    const bus =
      opts.bus ??
      (redis?.kind === 'cluster'
        ? new ShardedBus({ cluster: redis.commands, partitions: redis.partitions, prefix: redis.prefix, onError })
        : redis
          ? new RedisBus({ ...redis, onError })
          : new MemoryBus())
    const heads = new HeadReader(app.db)
    const hub = new Hub({
      bus,
      loadEvents: (roomId, afterSeq, limit) => eventsAfter(app.db, roomId, afterSeq, limit),
      loadEventsMany: (after, limit) => eventsAfterMany(app.db, after, limit),
      saveBase: (userId, positions) => saveBase(app.db, userId, positions),
      headSeq: (roomId) => heads.read(roomId),
      heartbeatMs: opts.heartbeatMs,
      maxBacklogBytes: opts.maxBacklogBytes,
      metrics: {
        streamOpened: (kind) => metrics.streamsOpen.inc({ kind }),
        streamClosed: (reason, kind) => {
          metrics.streamsOpen.dec({ kind })
          metrics.streamsClosed.inc({ reason, kind })
        },
        delivered: (count) => metrics.eventsDelivered.inc(count),
        deliveryLatency: (ms) => metrics.deliveryLatency.observe(ms / 1000),
        slowConsumer: () => metrics.slowConsumers.inc(),
        gapFilled: (count) => metrics.gapFilled.inc(count)
      },
      onError: (err) => app.log.warn({ err }, 'realtime'),
      // Every node hears every revocation here, so each forgets the sessions it had found live.
      onEndStreams: ({ sessionIds }) => sessionIds && app.sessions.forget(sessionIds)
    })
    bus.onReconnect(() => metrics.busReconnects.inc())
    const realtime = new Realtime(hub, bus, metrics, app.log)
    const endRevokedStreams = ({ sessionIds, reason }: Revocation) =>
      void realtime.endStreams({ sessionIds }, END_REASON[reason])
    app.sessions.on('revoked', endRevokedStreams)
    app.decorate('realtime', realtime)

    app.addHook('preClose', async () => hub.close('shutdown'))
    app.addHook('onClose', async () => {
      await heads.close()
      app.sessions.off('revoked', endRevokedStreams)
      if (!opts.bus) await bus.close()
    })
  },
  { name: 'realtime', dependencies: ['db', 'redis', 'sessions', 'metrics'] }
)

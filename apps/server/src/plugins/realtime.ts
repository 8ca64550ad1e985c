// The node's realtime side: the bus (in-process by default), the hub that owns this node's SSE streams, and
// the publisher the routes call after a commit. Revoked sessions end their streams on every node through the
// bus. The hub is closed before the server stops listening, so every stream is told `shutdown`.
import fp from 'fastify-plugin'
import { Hub, MemoryBus, RedisBus, createPublisher, type Bus, type EndReason, type Publisher } from '@chat/realtime'
import { tables, eq } from '@chat/db'
import type { RevokeReason } from './auth.ts'
import { eventsAfter } from '../repositories/rooms.ts'

export interface RealtimeOptions {
  /** A bus handed in (tests); it stays open when the app closes. */
  bus?: Bus
  /** Redis pub/sub between nodes; without it (and without bus) an in-process bus: one node. */
  redisUrl?: string
  heartbeatMs?: number
  maxBacklogBytes?: number
}

/**
 * What routes call after a commit. A failed publish does not fail the request: the event is stored, and
 * every node's broadcaster reads it from the database when it notices the gap.
 */
export interface Realtime extends Publisher {
  hub: Hub
  bus: Bus
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
    const bus =
      opts.bus ??
      (opts.redisUrl
        ? new RedisBus({ url: opts.redisUrl, onError: (err) => app.log.warn({ err }, 'redis bus') })
        : new MemoryBus())
    const { metrics } = app
    const hub = new Hub({
      bus,
      loadEvents: (roomId, afterSeq, limit) => eventsAfter(app.db, roomId, afterSeq, limit),
      headSeq: async (roomId) => {
        const [room] = await app.db
          .select({ lastSeq: tables.rooms.lastSeq })
          .from(tables.rooms)
          .where(eq(tables.rooms.id, roomId))
        return room?.lastSeq ?? 0
      },
      heartbeatMs: opts.heartbeatMs,
      maxBacklogBytes: opts.maxBacklogBytes,
      metrics: {
        streamOpened: () => metrics.streamsOpen.inc(),
        streamClosed: (reason) => {
          metrics.streamsOpen.dec()
          metrics.streamsClosed.inc({ reason })
        },
        delivered: (count) => metrics.eventsDelivered.inc(count),
        deliveryLatency: (ms) => metrics.deliveryLatency.observe(ms / 1000),
        slowConsumer: () => metrics.slowConsumers.inc(),
        gapFilled: (count) => metrics.gapFilled.inc(count)
      },
      onError: (err) => app.log.warn({ err }, 'realtime')
    })
    const publisher = createPublisher(bus)
    bus.onReconnect(() => metrics.busReconnects.inc())

    const logFailure = (what: string) => (err: unknown) => app.log.warn({ err }, `bus: ${what} not published`)
    const realtime: Realtime = {
      hub,
      bus,
      publishEvent: async (event) => {
        metrics.eventsPublished.inc({ type: event.type })
        await publisher.publishEvent(event).catch(logFailure('event'))
      },
      publishRoomDeleted: (roomId) => publisher.publishRoomDeleted(roomId).catch(logFailure('room deletion')),
      endStreams: (filter, reason) => publisher.endStreams(filter, reason).catch(logFailure('end of streams'))
    }
    app.sessions.onRevoked(({ sessionIds, reason }) => realtime.endStreams({ sessionIds }, END_REASON[reason]))
    app.decorate('realtime', realtime)

    app.addHook('preClose', async () => hub.close('shutdown'))
    app.addHook('onClose', async () => {
      if (!opts.bus) await bus.close()
    })
  },
  { name: 'realtime', dependencies: ['db', 'auth', 'metrics'] }
)

// Prometheus metrics on GET /metrics. Each app has its own registry (no process-wide default), so apps built
// side by side in one process keep separate counts.
import fp from 'fastify-plugin'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { Type } from 'typebox'
import { CONNECTION_KINDS } from '@chat/realtime'

export interface Metrics {
  registry: Registry
  httpDuration: Histogram<'method' | 'route' | 'status'>
  streamsOpen: Gauge<'kind'>
  streamsClosed: Counter<'reason' | 'kind'>
  commands: Counter<'type' | 'outcome'>
  eventsPublished: Counter<'type'>
  eventsDelivered: Counter
  deliveryLatency: Histogram
  slowConsumers: Counter
  gapFilled: Counter
  busReconnects: Counter
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

export default fp(
  async (app) => {
    const registry = new Registry()
    collectDefaultMetrics({ register: registry })
    const metrics: Metrics = {
      registry,
      httpDuration: new Histogram({
        name: 'chat_http_request_duration_seconds',
        help: 'HTTP request durations by route and status',
        labelNames: ['method', 'route', 'status'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry]
      }),
      streamsOpen: new Gauge({
        name: 'chat_streams_open',
        help: 'Open connections on this node by kind: room (a room stream), user (the user stream over SSE), ws',
        labelNames: ['kind'],
        registers: [registry]
      }),
      streamsClosed: new Counter({
        name: 'chat_streams_closed_total',
        help: 'Connections ended, by reason and kind',
        labelNames: ['reason', 'kind'],
        registers: [registry]
      }),
      commands: new Counter({
        name: 'chat_ws_commands_total',
        help: 'WebSocket commands by type and outcome (ok, or the error code)',
        labelNames: ['type', 'outcome'],
        registers: [registry]
      }),
      eventsPublished: new Counter({
        name: 'chat_events_published_total',
        help: 'Room events stored and published by this node',
        labelNames: ['type'],
        registers: [registry]
      }),
      eventsDelivered: new Counter({
        name: 'chat_events_delivered_total',
        help: 'Event frames queued to SSE streams on this node',
        registers: [registry]
      }),
      deliveryLatency: new Histogram({
        name: 'chat_delivery_latency_seconds',
        help: 'Time from publish to delivery to the local streams, once per event per node',
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [registry]
      }),
      slowConsumers: new Counter({
        name: 'chat_slow_consumer_disconnects_total',
        help: 'Streams closed because they could not keep up',
        registers: [registry]
      }),
      gapFilled: new Counter({
        name: 'chat_gap_filled_events_total',
        help: 'Events read from the database because the bus did not bring them',
        registers: [registry]
      }),
      busReconnects: new Counter({
        name: 'chat_bus_reconnects_total',
        help: 'Times the bus subscriber reconnected',
        registers: [registry]
      })
    }
    // Every kind shows from the start, at 0.
    for (const kind of CONNECTION_KINDS) metrics.streamsOpen.set({ kind }, 0)
    app.decorate('metrics', metrics)

    app.addHook('onResponse', async (request, reply) => {
      metrics.httpDuration.observe(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
        reply.elapsedTime / 1000
      )
    })

    app.get(
      '/metrics',
      {
        schema: {
          tags: ['operations'],
          summary: 'Prometheus metrics',
          security: [],
          produces: ['text/plain'],
          response: { 200: Type.String() }
        }
      },
      async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics())
    )
  },
  { name: 'metrics' }
)

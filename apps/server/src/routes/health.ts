// Liveness and readiness for load balancers and orchestrators.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const Health = Type.Object({ status: Type.String(), checks: Type.Optional(Type.Record(Type.String(), Type.String())) })

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'The process is running', security: [], response: { 200: Health } } },
    async (_request, reply) => reply.cacheControl('no-store').send({ status: 'ok' })
  )

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'The database answers (and the bus is subscribed)',
        security: [],
        response: { 200: Health, 503: Health }
      }
    },
    async (_request, reply) => {
      const checks: Record<string, string> = {}
      try {
        await app.dbPing(2000)
        checks.database = 'ok'
      } catch {
        checks.database = 'unavailable'
      }
      checks.bus = app.realtime.bus.ready ? 'ok' : 'unavailable'
      const ready = Object.values(checks).every((v) => v === 'ok')
      // A probe's answer is about this instant: no proxy may keep it (@fastify/sensible's helper).
      return reply
        .cacheControl('no-store')
        .code(ready ? 200 : 503)
        .send({ status: ready ? 'ok' : 'unavailable', checks })
    }
  )
}

export default healthRoutes

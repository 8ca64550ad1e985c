// The OpenAPI document, generated from the routes' TypeBox schemas, at /docs/json, with its UI at /docs.
import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Chat API',
          version: '0.1.0',
          description:
            'Users, JWT sessions, rooms, messages and live Server-Sent Events. Errors have the shape ' +
            '{statusCode, code, error, message}; lists take ?limit= (1–100, default 50) and ?cursor=.'
        },
        components: {
          securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } }
        },
        security: [{ bearer: [] }]
      }
    })
    await app.register(swaggerUi, { routePrefix: '/docs' })
  },
  { name: 'docs' }
)

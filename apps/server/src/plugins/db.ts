// The database: opened and migrated when the app starts, closed when it closes. Decorates app.db (drizzle) and
// app.dbPing for readiness.
import fp from 'fastify-plugin'
import { createDb, type Database, type DbOptions } from '@chat/db'

declare module 'fastify' {
  interface FastifyInstance {
    db: Database
    dbPing(timeoutMs?: number): Promise<void>
  }
}

export default fp<{ database: DbOptions }>(
  async (app, opts) => {
    const opened = await createDb(opts.database)
    app.decorate('db', opened.db)
    app.decorate('dbPing', opened.ping)
    app.addHook('onClose', async () => opened.close())
    app.log.info({ database: opened.kind }, 'database ready')
  },
  { name: 'db' }
)

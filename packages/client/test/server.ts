// The real server for the client's tests: the app built from @chat/server's source on a fresh database,
// listening on a real port, counting the requests it receives by route, and able to go down and come back on
// the same port and database (as a redeploy would).
import type { Test } from 'tap'
import { buildApp, type AppOptions } from '@chat/server/src/app.ts'
import type { Config } from '@chat/server/src/config.ts'
import { freshDatabase, testConfig, uniqueName } from '@chat/server/test/helper.ts'
import WebSocket from 'ws'
import { ChatClient, type ChatClientOptions, type WebSocketConstructor } from '../src/index.ts'

export { uniqueName }

type App = Awaited<ReturnType<typeof buildApp>>

export interface TestServer {
  baseUrl: string
  app: App
  /** How many requests reached each `METHOD /route` (e.g. `POST /auth/refresh`), over every restart. */
  count(route: string): number
  /** Closes the app (streams get `close: shutdown`) and starts a new one on the same port and database. */
  restart(between?: () => Promise<void>): Promise<void>
  /** A client of this server, not signed in (its WebSocket class the `ws` package's: Node 20 has none). */
  client(options?: Partial<ChatClientOptions>): ChatClient
  /** A client signed in as a new user. */
  signedIn(options?: Partial<ChatClientOptions>): Promise<ChatClient & { userId: string; username: string }>
}

export const PASSWORD = 'correct horse battery'

export async function startServer(
  t: Test,
  config: Partial<Config> = {},
  options: Omit<AppOptions, 'config'> = {}
): Promise<TestServer> {
  const db = await freshDatabase()
  const counts = new Map<string, number>()
  const start = async (port: number) => {
    const app = await buildApp({ ...options, config: testConfig(config), database: db.options })
    app.addHook('onRequest', async (request) => {
      const route = `${request.method} ${request.routeOptions.url ?? request.url}`
      counts.set(route, (counts.get(route) ?? 0) + 1)
    })
    await app.listen({ port, host: '127.0.0.1' })
    return app
  }
  let app = await start(0)
  const address = app.server.address()
  if (!address || typeof address === 'string') throw new Error('no port')
  const baseUrl = `http://127.0.0.1:${address.port}`
  t.teardown(async () => {
    await app.close()
    await db.drop()
  })
  const server: TestServer = {
    baseUrl,
    get app() {
      return app
    },
    count: (route) => counts.get(route) ?? 0,
    async restart(between) {
      await app.close()
      await between?.()
      app = await start(address.port)
    },
    client: (more = {}) =>
      new ChatClient({ baseUrl, WebSocket: WebSocket as unknown as WebSocketConstructor, ...more }),
    async signedIn(more = {}) {
      const client = server.client(more)
      const username = uniqueName('client')
      const session = await client.registerAndLogin({ username, password: PASSWORD })
      return Object.assign(client, { userId: session.user.id, username })
    }
  }
  return server
}

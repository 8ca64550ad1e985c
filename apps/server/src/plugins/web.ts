// The browser client (apps/web, built by Vite into apps/web/dist) served at `/` on the API's own origin.
// Only the built files get routes, plus `/chat/*` (the client's own paths, so a reload in a room finds the
// page): an unknown path stays the API's JSON 404 and no API route is shadowed.
import { access } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import fastifyStatic from '@fastify/static'

export interface WebOptions {
  /** The built client's folder (default: apps/web/dist of this workspace); null: serve none. */
  root?: string | null
}

/** Where `pnpm --filter @chat/web build` writes, seen from src/plugins and from dist/plugins alike. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../../web/dist', import.meta.url))

// Vite names every file under assets/ by a hash of its content: a new build is a new name, so a browser may keep
// them for good. index.html names the current ones, so it is revalidated on every load.
const IMMUTABLE = 'public, max-age=31536000, immutable'

function setCacheHeaders(reply: FastifyReply, path: string): void {
  reply.header('Cache-Control', /[\\/]assets[\\/]/.test(path) ? IMMUTABLE : 'no-cache')
}

export default fp<WebOptions>(
  async (app, options) => {
    if (options.root === null) return
    const root = options.root ?? DEFAULT_WEB_ROOT
    const built = await access(`${root}/index.html`).then(
      () => true,
      () => false
    )
    if (!built) {
      app.log.info(`no web client in ${root}: build it with \`pnpm --filter @chat/web build\``)
      return
    }
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      // One route per built file, found once at start, rather than a catch-all that would answer every path.
      wildcard: false,
      index: ['index.html'],
      cacheControl: false,
      setHeaders: setCacheHeaders
    })
    for (const url of ['/chat', '/chat/*']) {
      app.get(url, { schema: { hide: true } }, (_request, reply) =>
        reply.header('Cache-Control', 'no-cache').sendFile('index.html')
      )
    }
  },
  // After the OpenAPI plugin, so it sees these routes and leaves them out of the document.
  { name: 'web', dependencies: ['docs'] }
)

// The SDK in a real browser: bundled for the browser by esbuild (as Vite would), loaded in headless Chromium
// (Debian's, driven by playwright-core) on a page of another origin, so every call crosses CORS with its
// Authorization and Last-Event-ID headers. Over fetch streaming and over the browser's own WebSocket: a token the
// server refuses refreshed, then events of two rooms each once and in order, across a restart of the server on
// the same port and database.
import { access, constants } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import tap from 'tap'
import { build } from 'esbuild'
import { chromium, type Page } from 'playwright-core'
import { until } from '@chat/testkit'
import type { RoomEvent, Transport } from '../../src/index.ts'
import { PASSWORD, startServer } from '../server.ts'

const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const inCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0'
const missing = await access(executablePath, constants.X_OK).then(
  () => undefined,
  () => `no Chromium at ${executablePath}: apt-get install chromium, or set CHROMIUM_PATH`
)
if (missing && inCi) throw new Error(`${missing}; the browser test runs in CI and must not be skipped`)
if (missing) tap.plan(0, missing)
else await browserTests()

async function browserTests(): Promise<void> {
  const bundle = await build({
    entryPoints: [new URL('../../src/index.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'ChatSdk',
    conditions: ['@chat/source'],
    write: false
  })
  const script = bundle.outputFiles[0]!.text

  // The page's own origin: another port than the API's.
  const pages = createServer((_, res) => res.end('<!doctype html><title>sdk</title>'))
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve))
  tap.teardown(() => new Promise((resolve) => pages.close(resolve)))
  const pageOrigin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`

  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] })
  tap.teardown(() => browser.close())

  for (const transport of ['sse', 'websocket'] as Transport[]) {
    tap.test(`${transport} in Chromium: two rooms in order across a server restart`, async (t) => {
      const server = await startServer(t, { corsOrigins: '*' })
      const owner = await server.signedIn()
      const writer = await server.signedIn()
      const rooms = [await owner.createRoom({ name: 'a' }), await owner.createRoom({ name: 'b' })]

      const context = await browser.newContext()
      t.teardown(() => context.close())
      const page: Page = await context.newPage()
      await page.goto(pageOrigin)
      // tsx compiles this file keeping function names through a `__name` helper, which the page lacks.
      await page.addScriptTag({ content: 'window.__name = (fn) => fn' })
      await page.addScriptTag({ content: script })
      await page.evaluate(
        async ({ baseUrl, username, password, transport }) => {
          const sdk = (window as unknown as { ChatSdk: typeof import('../../src/index.ts') }).ChatSdk
          const chat = new sdk.ChatClient({ baseUrl })
          await chat.login({ username, password })
          // A token the server refuses: the stream must refresh it, though a browser's WebSocket does not say why
          // its upgrade was refused.
          const tokens = chat.tokens!
          chat.setTokens({ ...tokens, accessToken: `${tokens.accessToken.slice(0, -4)}AAAA`, expiresAt: undefined })
          const record = window as unknown as { events: unknown[]; states: string[] }
          record.events = []
          record.states = []
          chat.connect({
            transport,
            initialDelayMs: 50,
            maxDelayMs: 500,
            onEvent: (event) => record.events.push(event),
            onState: (change) => record.states.push(change.state)
          })
        },
        { baseUrl: server.baseUrl, username: owner.username, password: PASSWORD, transport }
      )
      const states = () => page.evaluate(() => (window as unknown as { states: string[] }).states)
      const stored = async (roomId: string) =>
        (
          await page.evaluate(() => (window as unknown as { events: { type: string; event?: RoomEvent }[] }).events)
        ).flatMap((e) => (e.type === 'event' && e.event!.roomId === roomId ? [e.event!] : []))
      await until(async () => (await states()).includes('live'), 'live in the page')

      let i = 0
      const post = async (count: number) => {
        for (const end = i + count; i < end; i++) {
          await writer.postMessage({ roomId: rooms[i % 2]!.id, text: `m${i}` })
        }
      }
      for (const room of rooms) await writer.joinRoom(room.id)
      await post(10)
      await server.restart()
      await post(10)
      for (const room of rooms) {
        const history = (await writer.history(room.id, { after: 0, limit: 100 })).items
        await until(async () => (await stored(room.id)).length >= history.length, `every event of ${room.name}`)
        t.same(
          (await stored(room.id)).map((e) => [e.seq, e.id]),
          history.map((e) => [e.seq, e.id]),
          'each event once, in order, as history has it'
        )
      }
      const seenStates = await states()
      t.ok(seenStates.includes('reconnecting'), 'reconnected by itself')
      t.equal(seenStates.at(-1), 'live')
      t.ok(server.count('POST /auth/refresh') >= 1, 'the refused token was refreshed')
    })
  }
}

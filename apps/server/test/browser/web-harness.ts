// What the web client's browser tests share: the built client (built first when apps/web/dist is missing or
// older than its sources), Chromium (Debian's, driven by playwright-core), a node serving both on a real port,
// a TCP proxy that can cut a page off the server, and the steps a user takes in the page.
import tap, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { constants } from 'node:fs'
import { access, mkdir, readdir, stat } from 'node:fs/promises'
import { createServer, connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { listen } from '@chat/testkit'
import { build } from '../helper.ts'

const WEB = fileURLToPath(new URL('../../../web/', import.meta.url))
export const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url))
export const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium'

async function newest(dir: string): Promise<number> {
  let latest = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, (await stat(join(entry.parentPath, entry.name))).mtimeMs)
  }
  return latest
}

/** Builds apps/web unless its dist is newer than every source of the client and of the SDK it bundles. */
export async function ensureWebBuilt(): Promise<void> {
  const built = await stat(join(WEB, 'dist', 'index.html')).then(
    (s) => s.mtimeMs,
    () => 0
  )
  const sources = Math.max(
    await newest(join(WEB, 'src')),
    (await stat(join(WEB, 'index.html'))).mtimeMs,
    await newest(fileURLToPath(new URL('../../../../packages/client/src', import.meta.url)))
  )
  if (built > sources) return
  execFileSync('pnpm', ['--filter', '@chat/web', 'build'], { stdio: 'ignore' })
}

/** Chromium, or why the file must skip (locally) or fail (in CI, where the browser tests run). */
export async function launchOrSkip(): Promise<Browser | undefined> {
  const inCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0'
  const missing = await access(executablePath, constants.X_OK).then(
    () => undefined,
    () => `no Chromium at ${executablePath}: run infra/scripts/machine-setup.sh (apt package chromium)`
  )
  if (missing && inCi) throw new Error(`${missing}; the browser test runs in CI and must not be skipped`)
  if (missing) {
    tap.plan(0, missing)
    return undefined
  }
  await ensureWebBuilt()
  await mkdir(ARTIFACTS, { recursive: true })
  const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] })
  tap.teardown(() => browser.close())
  return browser
}

/** A node with the built client, listening on a real port. */
export async function serveApp(t: Test): Promise<{ app: FastifyInstance; base: string }> {
  const app = await build(t, { web: { root: join(WEB, 'dist') } })
  return { app, base: await listen(app) }
}

export const serve = async (t: Test) => (await serveApp(t)).base

export async function contextAt(t: Test, browser: Browser, width = 1280, height = 800): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width, height } })
  t.teardown(() => context.close())
  return context
}

/** A TCP proxy in front of the node; `cut` destroys every piped socket and refuses new ones until `restore`. */
export async function cuttableProxy(t: Test, base: string) {
  const target = Number(new URL(base).port)
  const sockets = new Set<Socket>()
  let cut = false
  const server = createServer((client) => {
    if (cut) return void client.destroy()
    const upstream = connect(target, '127.0.0.1')
    for (const [a, b] of [
      [client, upstream],
      [upstream, client]
    ] as const) {
      sockets.add(a)
      a.pipe(b)
      a.on('error', () => b.destroy())
      a.on('close', () => {
        sockets.delete(a)
        b.destroy()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      cut = true
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      cut = false
    }
  }
}

/** Opens the client and signs in through its form, with a new account or an existing one; resolves once the
 * room list is shown. */
async function signIn(page: Page, base: string, username: string, button: 'Create account' | 'Log in') {
  await page.goto(base)
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Password').fill('correct horse battery')
  await page.getByRole('button', { name: button }).click()
  await page.getByRole('navigation', { name: 'Rooms' }).waitFor()
}

export const register = (page: Page, base: string, username: string) => signIn(page, base, username, 'Create account')
export const logIn = (page: Page, base: string, username: string) => signIn(page, base, username, 'Log in')

export async function createRoomInPage(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: 'New room' }).click()
  await page.getByLabel('Room name').fill(name)
  await page.getByRole('button', { name: 'Create' }).click()
  await page.getByRole('heading', { name }).waitFor()
}

export async function joinRoomInPage(page: Page, name: string): Promise<void> {
  await page.getByRole('link', { name: 'Browse rooms' }).click()
  await page.getByRole('listitem').filter({ hasText: name }).getByRole('button', { name: 'Join' }).click()
  await page.getByRole('heading', { name }).waitFor()
}

export const messages = (page: Page) => page.getByRole('list', { name: 'Messages' })
export const messageWith = (page: Page, text: string) =>
  messages(page)
    .locator('> li')
    .filter({ has: page.getByText(text, { exact: true }) })

export async function say(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message' }).fill(text)
  await page.getByRole('button', { name: 'Send' }).click()
  await messageWith(page, text).waitFor()
}

/** The texts of the "Messages" list's messages, in order. */
export async function texts(page: Page): Promise<string[]> {
  return messages(page).locator('> li.message .text:not(.deleted)').allTextContents()
}

/** The serious and critical axe-core violations of the page as it stands. */
export async function axeViolations(page: Page): Promise<Array<{ id: string; targets: string[] }>> {
  await page.addScriptTag({ path: fileURLToPath(import.meta.resolve('axe-core/axe.min.js')) })
  return page.evaluate(`axe.run().then((r) => r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, targets: v.nodes.map((n) => String(n.target)) })))`)
}

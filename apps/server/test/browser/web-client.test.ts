// The web client in real Chromium against a real node on PostgreSQL: two users in two browser contexts register,
// create and join a room, chat both ways, see typing and unread counts change, edit, delete and react, and find
// the same history after a reload; a page cut off the server by a TCP proxy says it is reconnecting and, once
// back, shows every message posted meanwhile once and in order; hostile text stays text; axe-core finds no
// serious or critical violation in the main views at desktop and phone widths. Screenshots of those views go to
// test/browser/artifacts/. Without Chromium the file skips locally and fails in CI.
import tap from 'tap'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { until } from '@chat/testkit'
import { signUp, uniqueName } from '../helper.ts'
import { createRoom, joinRoom, post } from '../rooms-helper.ts'
import {
  ARTIFACTS,
  axeViolations,
  contextAt,
  createRoomInPage,
  cuttableProxy,
  joinRoomInPage,
  launchOrSkip,
  logIn,
  messageWith,
  register,
  say,
  serve,
  serveApp,
  texts
} from './web-harness.ts'

const browser = await launchOrSkip()
if (browser) {
  const status = (page: Page) => page.getByRole('status')
  const roomLink = (page: Page, name: string) =>
    page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: new RegExp(`^${name}\\b`) })

  tap.test(
    'two users chat both ways: typing, unread counts, edit, delete, react, the same history after a reload',
    async (t) => {
      const base = await serve(t)
      const [alice, bob] = [uniqueName('alice'), uniqueName('bob')]
      const a = await (await contextAt(t, browser)).newPage()
      const b = await (await contextAt(t, browser)).newPage()
      await register(a, base, alice)
      await register(b, base, bob)
      await createRoomInPage(a, 'general')
      await joinRoomInPage(b, 'general')

      await roomLink(a, 'general')
        .and(a.getByRole('link', { name: /someone online/ }))
        .waitFor()
      t.pass('a presence dot on the room once Bob, online, is in it')

      await say(a, 'Hello Bob')
      await messageWith(b, 'Hello Bob').waitFor()
      await say(b, 'Hi Alice\nhow are you?')
      await messageWith(a, 'Hi Alice\nhow are you?').waitFor()

      await b.getByRole('textbox', { name: 'Message' }).pressSequentially('typing…')
      await a.getByText(`${bob} is typing…`).waitFor()
      await say(b, 'typing…')
      await a.getByText(`${bob} is typing…`).waitFor({ state: 'hidden' })

      // Alice looks elsewhere; Bob's posts raise her unread count; opening the room clears it.
      await a.getByRole('link', { name: 'Browse rooms' }).click()
      await say(b, 'one')
      await say(b, 'two')
      await roomLink(a, 'general')
        .and(a.getByRole('link', { name: /2 unread/ }))
        .waitFor()
      await roomLink(a, 'general').click()
      await messageWith(a, 'two').waitFor()
      await a.getByRole('link', { name: /unread/ }).waitFor({ state: 'detached' })
      t.pass('unread count up to 2 while away, gone once the room is open')

      // Bob edits his message, Alice reacts to it and deletes her own.
      await messageWith(b, 'one').getByRole('button', { name: 'Edit' }).click()
      await b.getByLabel('Edit message').fill('one, edited')
      await b.getByRole('button', { name: 'Save' }).click()
      await messageWith(a, 'one, edited').getByText('(edited)').waitFor()
      t.equal(
        await messageWith(a, 'one, edited').getByRole('button', { name: 'Edit' }).count(),
        0,
        'no Edit on others’'
      )
      await messageWith(a, 'one, edited').getByRole('button', { name: 'React' }).click()
      await a.getByRole('button', { name: '👍' }).click()
      await messageWith(b, 'one, edited').getByRole('button', { name: '👍 1' }).waitFor()
      await messageWith(a, 'Hello Bob').getByRole('button', { name: 'Delete' }).click()
      await b.getByText('This message was deleted.').waitFor()
      t.equal(await messageWith(b, 'one, edited').getByRole('button', { name: 'Delete' }).count(), 1, 'his own')
      t.equal(await messageWith(b, 'Hi Alice\nhow are you?').getByRole('button', { name: 'Delete' }).count(), 1)

      await messageWith(a, 'two').getByRole('button', { name: 'Reply' }).click()
      await a.getByText(`Replying to ${bob}`).waitFor()
      await say(a, 'two what?')
      await messageWith(b, 'two what?').getByText(`${bob}: two`, { exact: true }).waitFor()
      t.pass('a reply shows the message it answers')

      const expected = ['Hi Alice\nhow are you?', 'typing…', 'one, edited', 'two', 'two what?']
      t.same(await texts(a), expected, 'Alice’s page')
      t.same(await texts(b), expected, 'Bob’s page')
      await b.reload()
      await messageWith(b, 'two what?').waitFor()
      t.same(await texts(b), expected, 'the same history after a reload, still signed in')
      await messageWith(b, 'one, edited').getByRole('button', { name: '👍 1' }).waitFor()
      t.equal(await b.getByText('This message was deleted.').count(), 1)
      await b.getByRole('textbox', { name: 'Message' }).pressSequentially('sure')
      await a.getByText(`${bob} is typing…`).waitFor()
      await a.screenshot({ path: join(ARTIFACTS, 'conversation-desktop.png') })

      await b.getByRole('button', { name: 'Log out' }).click()
      await b.getByRole('button', { name: 'Log in' }).waitFor()
      await b.reload()
      await b.getByRole('button', { name: 'Log in' }).waitFor()
      t.pass('logged out, and still after a reload')
    }
  )

  tap.test('cut off and back: "reconnecting…", then every message once, in order', async (t) => {
    const base = await serve(t)
    const proxy = await cuttableProxy(t, base)
    const [alice, bob] = [uniqueName('alice'), uniqueName('bob')]
    const a = await (await contextAt(t, browser)).newPage()
    const b = await (await contextAt(t, browser)).newPage()
    await register(a, base, alice)
    await register(b, proxy.url, bob)
    await createRoomInPage(a, 'ops')
    await joinRoomInPage(b, 'ops')
    await say(a, 'before the cut')
    await messageWith(b, 'before the cut').waitFor()
    await until(async () => (await status(b).textContent()) === '', 'Bob’s stream to be live')

    proxy.cut()
    await status(b)
      .getByText(/reconnecting…/i)
      .waitFor()
    t.pass('the cut took: the page says it is reconnecting')
    const away = Array.from({ length: 6 }, (_, i) => `while away ${i + 1}`)
    for (const text of away) await say(a, text)
    await b.waitForTimeout(500)
    t.notOk((await texts(b)).includes('while away 1'), 'nothing reaches the page while it is cut off')
    proxy.restore()

    await messageWith(b, 'while away 6').waitFor({ timeout: 60_000 })
    await until(async () => (await status(b).textContent()) === '', 'the status cleared once live again')
    await say(a, 'after the cut')
    await messageWith(b, 'after the cut').waitFor()
    t.same(await texts(b), ['before the cut', ...away, 'after the cut'], 'each message once, in order')
  })

  tap.test('hostile text is shown as text and runs nothing', async (t) => {
    const base = await serve(t)
    const page = await (await contextAt(t, browser)).newPage()
    const dialogs: string[] = []
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.dismiss()
    })
    await register(page, base, uniqueName('mallory'))
    await createRoomInPage(page, 'xss')
    const hostile = '<img src=x onerror=alert(1)>'
    await say(page, hostile)
    await say(page, `<script>alert(2)</script> and a long word ${'w'.repeat(600)}`)
    t.same((await texts(page))[0], hostile, 'the exact text')
    t.equal(await page.getByRole('list', { name: 'Messages' }).locator('img, script').count(), 0, 'no element made')
    await page.waitForTimeout(300)
    t.same(dialogs, [], 'no dialog opened')
    const overflows = await page.evaluate(
      `(() => { const l = document.querySelector('ol.messages'); return l.scrollWidth > l.clientWidth })()`
    )
    t.notOk(overflows, 'a long word wraps inside the list')
  })

  tap.test('axe-core: no serious or critical violation in the main views, desktop and phone', async (t) => {
    const base = await serve(t)
    for (const [label, width, height] of [
      ['desktop', 1280, 800],
      ['phone', 390, 844]
    ] as const) {
      const page = await (await contextAt(t, browser, width, height)).newPage()
      await page.goto(base)
      await page.getByLabel('Username').waitFor()
      t.same(await axeViolations(page), [], `login, ${label}`)
      await page.screenshot({ path: join(ARTIFACTS, `login-${label}.png`) })
      await register(page, base, uniqueName('ada'))
      t.same(await axeViolations(page), [], `room list, ${label}`)
      await page.screenshot({ path: join(ARTIFACTS, `rooms-${label}.png`) })
      await createRoomInPage(page, `room ${label}`)
      await say(page, 'A message to check the room view')
      await messageWith(page, 'A message to check the room view').getByRole('button', { name: 'React' }).click()
      await page.getByRole('button', { name: '🎉' }).click()
      await page.getByRole('button', { name: '🎉 1' }).waitFor()
      t.same(await axeViolations(page), [], `room view, ${label}`)
      await page.screenshot({ path: join(ARTIFACTS, `room-${label}.png`) })
    }
  })

  tap.test('keyboard alone; older pages on scroll up; leave, and delete for the owner', async (t) => {
    const { app, base } = await serveApp(t)
    const [owner, member] = await Promise.all([signUp(app), signUp(app)])
    const room = await createRoom(app, owner, { name: 'history' })
    await joinRoom(app, member, room.id)
    const posted = Array.from({ length: 120 }, (_, i) => `message ${i + 1}`)
    for (const text of posted) await post(app, owner, room.id, text)

    const page = await (await contextAt(t, browser)).newPage()
    await page.goto(base)
    await page.getByLabel('Username').waitFor()
    await page.keyboard.type(member.username)
    await page.keyboard.press('Tab')
    await page.keyboard.type(member.password)
    await page.keyboard.press('Enter')
    const link = roomLink(page, 'history')
    await link.waitFor()
    // What has the focus, by what the test knows of it: the room link's address, or the composer's id.
    const focused = () =>
      page.evaluate<string>("document.activeElement?.getAttribute('href') ?? document.activeElement?.id ?? ''")
    for (let i = 0; i < 20 && (await focused()) !== `/chat/${room.id}`; i++) await page.keyboard.press('Tab')
    t.equal(await focused(), `/chat/${room.id}`, 'the room link is reached with Tab')
    await page.keyboard.press('Enter')
    await messageWith(page, 'message 120').waitFor()
    t.equal((await texts(page)).length, 50, 'the latest page first')
    for (let i = 0; i < 400 && (await focused()) !== 'composer-text'; i++) await page.keyboard.press('Tab')
    t.equal(await focused(), 'composer-text', 'the composer is reached with Tab')
    await page.keyboard.type('sent with Enter')
    await page.keyboard.press('Enter')
    await messageWith(page, 'sent with Enter').waitFor()

    await until(async () => {
      await page.evaluate("document.querySelector('ol.messages').scrollTop = 0")
      return (await texts(page)).length === 121
    }, 'every older page read by scrolling up')
    t.same(await texts(page), [...posted, 'sent with Enter'], 'the whole history, in order, each once')

    await page.getByRole('button', { name: 'Leave room' }).click()
    await link.waitFor({ state: 'detached' })
    t.pass('left: the room is gone from the list')

    const owners = await (await contextAt(t, browser)).newPage()
    await logIn(owners, base, owner.username)
    await roomLink(owners, 'history').click()
    t.equal(await owners.getByRole('button', { name: 'Leave room' }).count(), 0, 'the owner cannot leave')
    owners.once('dialog', (dialog) => void dialog.accept())
    await owners.getByRole('button', { name: 'Delete room' }).click()
    await roomLink(owners, 'history').waitFor({ state: 'detached' })
    t.pass('deleted by the owner')
  })

  tap.test('time to first message: open the page, log in, the room shown (printed, not asserted)', async (t) => {
    const base = await serve(t)
    const setup = await (await contextAt(t, browser)).newPage()
    const name = uniqueName('tim')
    await register(setup, base, name)
    await createRoomInPage(setup, 'timing')
    await say(setup, 'the first message')
    const page = await (await contextAt(t, browser)).newPage()
    const started = performance.now()
    await logIn(page, base, name)
    await roomLink(page, 'timing').click()
    await messageWith(page, 'the first message').waitFor()
    t.comment(`time to first message: ${Math.round(performance.now() - started)} ms (goto, log in, room shown)`)
  })
}

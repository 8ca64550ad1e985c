// The embedded default's signing secret: whoever can read it can mint tokens for anyone, and if it changed on
// restart every session would end. So it is created once, private to its owner, reused as is, and a file too
// short to be a real secret stops the start instead of being used as a weak key.
import t, { type Test } from 'tap'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadOrCreateSecret } from '../src/secret.ts'

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-secret-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('created once, in a DATA_DIR it creates, mode 0600, then reused', async (t) => {
  const dataDir = join(await tempDir(t), 'nested', 'data')
  const secret = await loadOrCreateSecret(dataDir)
  t.ok(Buffer.byteLength(secret) >= 32, 'at least 32 bytes')
  t.ok(Buffer.from(secret, 'base64url').length >= 32, 'of randomness')
  t.equal((await stat(join(dataDir, 'jwt-secret'))).mode & 0o777, 0o600)
  t.equal(await loadOrCreateSecret(dataDir), secret, 'the same secret next time')
})

t.test('callers racing on an empty directory all get the same secret', async (t) => {
  const dataDir = await tempDir(t)
  const secrets = await Promise.all(Array.from({ length: 5 }, () => loadOrCreateSecret(dataDir)))
  t.equal(new Set(secrets).size, 1)
})

t.test('an operator-provided file is used as is (surrounding whitespace aside)', async (t) => {
  const dataDir = await tempDir(t)
  const mine = 'an-operator-chosen-secret-of-more-than-32-bytes'
  await writeFile(join(dataDir, 'jwt-secret'), `${mine}\n`, { mode: 0o600 })
  t.equal(await loadOrCreateSecret(dataDir), mine)
})

t.test('a file too short to be a secret is refused, never used', async (t) => {
  for (const content of ['', '\n', 'short', 'x'.repeat(31)]) {
    const dataDir = await tempDir(t)
    await writeFile(join(dataDir, 'jwt-secret'), content, { mode: 0o600 })
    await t.rejects(loadOrCreateSecret(dataDir), /jwt-secret holds fewer than 32 bytes/, JSON.stringify(content))
  }
})

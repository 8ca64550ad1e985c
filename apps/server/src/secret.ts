// The embedded default's JWT secret: generated on first start and kept in DATA_DIR (mode 0600), so tokens
// stay valid across restarts without any configuration.
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

// A file too short to be a secret is refused, never used: it would sign tokens with a guessable key.
async function readSecret(file: string): Promise<string | undefined> {
  let existing: string
  try {
    existing = (await readFile(file, 'utf8')).trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  if (Buffer.byteLength(existing) < 32) {
    throw new Error(`${file} holds fewer than 32 bytes, too few for a JWT secret; delete it to have one generated`)
  }
  return existing
}

export async function loadOrCreateSecret(dataDir: string): Promise<string> {
  const file = join(dataDir, 'jwt-secret')
  const existing = await readSecret(file)
  if (existing !== undefined) return existing
  await mkdir(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  // 'wx' fails if another process created it first; then theirs is the one to use.
  try {
    await writeFile(file, secret + '\n', { mode: 0o600, flag: 'wx' })
    return secret
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return (await readSecret(file))!
    throw error
  }
}

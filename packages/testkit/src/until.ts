// Waiting on a condition of a system under test: tests assert what happens, never how soon, so a condition is
// polled up to a generous bound and a timeout names what never came.
import { WAIT_MS } from './sse-client.ts'

const POLL_MS = 10

/** Resolves once `check` (sync or async) returns true; rejects naming `what` after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number = WAIT_MS
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

// Waiting for something asynchronous without asserting how long it takes: poll a condition, fail with a message
// past a generous bound.
export const UNTIL_MS = 10_000

export async function until(check: () => boolean | Promise<boolean>, what: string, ms = UNTIL_MS): Promise<void> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

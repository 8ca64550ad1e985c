// The codes the API throws are the contract's list: every error class of errors.ts must use a code of that
// list with the status the list gives it, and every code of the list must be thrown by some class.
import t from 'tap'
import { ERROR_CODES } from '@chat/contracts'
import * as errors from '../src/errors.ts'

type ErrorClass = new (...args: unknown[]) => Error & { code: string; statusCode?: number }

const classes = (Object.entries(errors) as Array<[string, unknown]>).filter(
  (entry): entry is [string, ErrorClass] =>
    typeof entry[1] === 'function' && (entry[1] as { prototype?: unknown }).prototype instanceof Error
)

t.test('every error class uses a listed code with its status', async (t) => {
  t.ok(classes.length >= Object.keys(ERROR_CODES).length, 'the classes are found')
  for (const [name, ErrorClass] of classes) {
    const error = new ErrorClass('x', 'y')
    t.ok(Object.hasOwn(ERROR_CODES, error.code), `${name}: ${error.code} is in the list`)
    t.equal(error.statusCode, ERROR_CODES[error.code as keyof typeof ERROR_CODES], `${name}: its status`)
  }
})

t.test('every listed code is thrown by some class', async (t) => {
  const used = new Set(classes.map(([, ErrorClass]) => new ErrorClass().code))
  for (const code of Object.keys(ERROR_CODES)) t.ok(used.has(code), `${code} has an error class`)
})

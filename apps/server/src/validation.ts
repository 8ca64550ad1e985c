// Request validation. Bodies are validated strictly: no type coercion and no silently dropped properties, so
// `{"password": 12345678}` or `{"isAdmin": true}` is a 400, not a guess. Query strings and params arrive as
// text, so those are coerced to the schema's types. A few schema rules answer with their own CHAT_ code,
// so a client can tell them apart; every other failure is Fastify's FST_ERR_VALIDATION.
// Draft 2019-09, a superset of draft-07 for these schemas, for `dependentRequired`.
import { Ajv2019 as Ajv } from 'ajv/dist/2019.js'
import type { Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { Static, TSchema } from 'typebox'
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'
import { LAST_EVENT_ID_PATTERN, MAX_SEQ } from '@chat/contracts'
import { CurrentPasswordRequired, InvalidCursor, InvalidLastEventId, InvalidQuery, bounded } from './errors.ts'

// `verbose` keeps the failing keyword's schema on each error, which names the exclusive query parameters.
const common: Options = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false, verbose: true }

function make(options: Options): Ajv {
  const ajv = new Ajv({ ...common, ...options })
  addFormats.default(ajv)
  return ajv
}

/** A strict validator for a message that is not a request (a WebSocket command), with a bounded error text. */
export function compileStrict<T extends TSchema>(
  schema: T
): ((value: unknown) => value is Static<T>) & { errorText(): string } {
  const ajv = make({ coerceTypes: false })
  const validate = ajv.compile(schema as object)
  const check = ((value: unknown) => validate(value)) as ((value: unknown) => value is Static<T>) & {
    errorText(): string
  }
  check.errorText = () => bounded(ajv.errorsText(validate.errors, { dataVar: 'command' }))
  return check
}

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = make({ coerceTypes: false })
  const coercing = make({ coerceTypes: 'array' })
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object)
}

/**
 * The error a failed validation throws. Ajv's messages name the schema (a pattern, a limit), never the value
 * sent, and each is bounded, so the message cannot echo what the client wrote.
 */
export function schemaErrorFormatter(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0]
  if (first?.keyword === 'dependentRequired' && first.params.missingProperty === 'currentPassword') {
    return new CurrentPasswordRequired()
  }
  if (dataVar === 'querystring' && first?.instancePath === '/lastEventId') return new InvalidLastEventId()
  if (dataVar === 'querystring' && first?.instancePath === '/cursor') return new InvalidCursor()
  if (dataVar === 'querystring' && first?.keyword === 'not') {
    const required = (first as { schema?: { required?: unknown } }).schema?.required
    const names = Array.isArray(required) ? required.join(', ') : 'these parameters'
    return new InvalidQuery(`Give only one of ${names}`)
  }
  return new Error(errors.map((e) => bounded(`${dataVar}${e.instancePath} ${e.message ?? 'is invalid'}`)).join(', '))
}

const LAST_EVENT_ID = new RegExp(LAST_EVENT_ID_PATTERN)

/**
 * A stream's resumption point (the Last-Event-ID header or ?lastEventId=): null when absent. The rule is the
 * query schema's; a value past MAX_SEQ is beyond every room's lastSeq, so it is read as MAX_SEQ and replays
 * nothing.
 */
export function parseLastEventId(value: string | undefined): number | null {
  if (value === undefined) return null
  if (!LAST_EVENT_ID.test(value)) throw new InvalidLastEventId()
  return Math.min(Number(value), MAX_SEQ)
}

// Request validation. Bodies are validated strictly: no type coercion and no silently dropped properties, so
// `{"password": 12345678}` or `{"isAdmin": true}` is a 400, not a guess. Query strings and params arrive as
// text, so those are coerced to the schema's types.
import { Ajv, type Options } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

const common: Options = { allErrors: false, useDefaults: true, removeAdditional: false, strict: false }

function make(options: Options): Ajv {
  const ajv = new Ajv({ ...common, ...options })
  addFormats.default(ajv)
  return ajv
}

export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = make({ coerceTypes: false })
  const coercing = make({ coerceTypes: 'array' })
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object)
}

// drizzle-kit: generates the committed SQL migrations in ./drizzle from src/schema.ts.
import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/schema.ts',
  out: './drizzle'
})

// Process entry: read the configuration, build the app, listen; close gracefully on SIGTERM/SIGINT so open
// streams are told `shutdown` and in-flight requests finish.
import closeWithGrace from 'close-with-grace'
import { ConfigError, loadConfig, type Config } from './config.ts'
import { buildApp } from './app.ts'

let config: Config
try {
  config = loadConfig(process.env)
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`Invalid configuration: ${error.message}\n`)
    process.exit(1)
  }
  throw error
}

const app = await buildApp({ config })

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an uncaught error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

await app.listen({ port: config.port, host: config.host })

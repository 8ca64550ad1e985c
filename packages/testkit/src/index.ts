// What the test suites of the server, the realtime package and the local cluster share: a real SSE
// client and one poller.
export {
  listen,
  openStream,
  SseClient,
  streamUrl,
  WAIT_MS,
  type Listenable,
  type SseEvent,
  type StreamOptions,
  type Teardown
} from './sse-client.ts'
export { until } from './until.ts'

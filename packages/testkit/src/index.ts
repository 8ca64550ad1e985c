// Helpers shared by the test suites of the server and of the local cluster: a real SSE client.
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

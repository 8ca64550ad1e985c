// Builds the browser client into dist/ (served by the node at `/`), and in development serves it with hot
// reload while proxying the API, its streams and its WebSocket to the node on CHAT_API (default :3000), so the
// page talks to one origin in both cases.
import { defineConfig, defaultClientConditions } from 'vite'
import react from '@vitejs/plugin-react'

const api = process.env.CHAT_API ?? 'http://127.0.0.1:3000'
const API_PATHS = ['/users', '/auth', '/rooms', '/events', '/healthz', '/readyz', '/docs']

export default defineConfig({
  plugins: [react()],
  // The workspace's packages are read from their TypeScript sources, as the server's tests read them.
  resolve: { conditions: ['@chat/source', ...defaultClientConditions] },
  build: { target: 'es2022', sourcemap: true },
  server: {
    proxy: {
      ...Object.fromEntries(API_PATHS.map((path) => [path, { target: api }])),
      '/ws': { target: api, ws: true }
    }
  }
})

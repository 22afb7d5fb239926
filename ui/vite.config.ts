import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// `npm run dev` proxies /api (including the live WebSocket) to a local
// `telltaled serve` on 127.0.0.1:7878 (override with TELLTALE_API).
// `changeOrigin: false` keeps the browser's Host header, so the server sees
// the dev server's origin as its own and needs no --allow-origin
// (docs/cli.md, "HTTP server security").
declare const process: { env: Record<string, string | undefined> };
const api = process.env.TELLTALE_API ?? 'http://127.0.0.1:7878';

export default defineConfig({
  plugins: [svelte()],
  // Relative asset URLs work under any mount point and in Tauri.
  base: './',
  build: { outDir: 'dist', target: 'es2022', sourcemap: false },
  server: {
    proxy: { '/api': { target: api, ws: true, changeOrigin: false } },
  },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
  },
});

import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import AutoImport from 'unplugin-auto-import/vite'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// The Jiesu server the dev and preview servers forward `/api` to.
const api = process.env.JIESU_API ?? 'http://127.0.0.1:8090'
// Keep the Host header of the browser: the server rejects writes whose Origin differs from Host.
const proxy = { '/api': { target: api, changeOrigin: false } }
// The Content-Security-Policy the server sends with index.html (crates/jiesu/src/api/ui.rs), so
// that `vite preview` (used by the e2e tests) catches anything it would block.
const csp =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
  "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

export default defineConfig({
  plugins: [
    vue(),
    AutoImport({
      resolvers: [ElementPlusResolver()],
      dts: 'src/auto-imports.d.ts',
    }),
    Components({
      resolvers: [ElementPlusResolver()],
      dts: 'src/components.d.ts',
      dirs: [],
    }),
  ],
  server: { proxy },
  preview: { proxy, headers: { 'Content-Security-Policy': csp } },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    chunkSizeWarningLimit: 1200,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'echarts'
          return undefined
        },
      },
    },
  },
})

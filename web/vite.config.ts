import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'
import { fileURLToPath, URL } from 'node:url'

const backend = process.env.KEFU_BACKEND ?? 'http://127.0.0.1:8765'

export default defineConfig({
  base: '/',
  plugins: [vue()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  server: {
    proxy: {
      '/api': backend,
      '/ws': { target: backend.replace(/^http/, 'ws'), ws: true },
    },
  },
  build: {
    outDir: '../src/kefu/static',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes('node_modules/element-plus') || id.includes('node_modules/@element-plus')) return 'element-plus'
          // Only the bot statistics page draws charts: ECharts stays in that page's lazy chunk.
          if (/node_modules\/(echarts|zrender|vue-echarts)\//.test(id)) return undefined
          if (id.includes('node_modules')) return 'vendor'
          return undefined
        },
      },
    },
  },
})

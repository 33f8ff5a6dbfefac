import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'
import { copyFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, URL } from 'node:url'

const outDir = fileURLToPath(new URL('../src/kefu/static', import.meta.url))

// The API docs (/docs) are served by kefu itself, never from a CDN: Swagger UI's files are
// copied from the npm package into the built front end.
function apiDocsAssets(): Plugin {
  const swagger = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
  return {
    name: 'kefu-api-docs-assets',
    apply: 'build',
    closeBundle() {
      const target = join(outDir, 'api-docs')
      mkdirSync(target, { recursive: true })
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css', 'favicon-32x32.png', 'LICENSE']) {
        copyFileSync(join(swagger, file), join(target, file))
      }
    },
  }
}

const backend = process.env.KEFU_BACKEND ?? 'http://127.0.0.1:8765'

export default defineConfig({
  base: '/',
  plugins: [vue(), apiDocsAssets()],
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
    outDir,
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

// Builds the console into console/dist (scripts/setup.mjs runs it when sources changed).
// Every asset is bundled and self-hosted: police intranets reach no CDN. Screens are loaded
// per route, so Element Plus components and ECharts arrive with the screen that uses them.
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1200,
    // No inline scripts or eval anywhere: the service's CSP allows script-src 'self' only.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:3000', '/media': 'http://127.0.0.1:3000' } },
});

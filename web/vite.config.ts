import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';

// The node serves the built portal (`dist/`, embedded in the btcr binary). `npm run dev`
// serves it with hot reload instead, passing API and JSON-RPC calls to a local node.
const node = process.env.BTCR_NODE ?? 'http://127.0.0.1:8545';

export default defineConfig({
  plugins: [react(), tailwindcss()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: {
    proxy: {
      '/api': { target: node, ws: true },
      '/rpc': { target: node, ws: true, rewrite: () => '/' },
    },
  },
});

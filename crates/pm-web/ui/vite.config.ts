import { defineConfig } from "vite";

// The build is committed (../dist) and embedded into the pmhub binary by the pm-web crate.
// It must be reproducible: `make ui` twice gives the same bytes (checked by `make ui-check`).
export default defineConfig({
  base: "/ui/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "../dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    // No inline polyfill script: the page's policy is `default-src 'self'`.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: "es2022",
  },
});

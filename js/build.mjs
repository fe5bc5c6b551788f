// Bundle the canvas into self-contained ES modules inside the Python package: canvas.js, the
// anywidget module, and page.js, the same canvas as the designer's own web page.
import { mkdirSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(here, "../jaxl_designer/static");
const entries = { canvas: "src/index.jsx", page: "src/page.js" };

mkdirSync(outdir, { recursive: true });
await build({
  entryPoints: Object.entries(entries).map(([out, src]) => ({ out, in: resolve(here, src) })),
  outdir,
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2020",
  platform: "browser",
  jsx: "automatic",
  loader: { ".css": "text" },
  define: { "process.env.NODE_ENV": '"production"' },
  legalComments: "none",
  charset: "utf8",
  sourcemap: false,
  logLevel: "warning",
});
for (const name of Object.keys(entries)) {
  const outfile = resolve(outdir, `${name}.js`);
  const bytes = statSync(outfile).size;
  console.log(`${relative(process.cwd(), outfile)}: ${(bytes / 1024).toFixed(1)} kB (${bytes} bytes)`);
}

// Bundle the client into the Python package (src/orderchat/web/static): one ES module, one
// stylesheet, the page. Run by the install (hatch_build.py) after `npm ci`.
import { build } from "esbuild";
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, "..", "src", "orderchat", "web", "static");
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  format: "esm",
  target: ["es2022"],
  minify: true,
  sourcemap: false,
  legalComments: "eof",
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
await build({ entryPoints: [join(here, "src", "app.css")], bundle: true, minify: true, outfile: join(out, "app.css"), logLevel: "warning" });
await copyFile(join(here, "index.html"), join(out, "index.html"));
console.log(`orderchat web client built into ${out}`);

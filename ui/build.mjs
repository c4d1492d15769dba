// Builds the run monitor into triggers/ui_assets/ (what the Function App package ships): the page's
// script, the layout worker (dagre inside), the page and its style sheet. Nothing is fetched when the page runs.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "triggers", "ui_assets");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(here, "src", "main.js"), layout: join(here, "src", "layout-worker.js") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["chrome110", "firefox110", "safari16"],
  outdir: out,
  legalComments: "linked",
  logLevel: "warning",
});
for (const name of ["index.html", "style.css"]) copyFileSync(join(here, name), join(out, name));
console.log(`run monitor built into ${out}`);

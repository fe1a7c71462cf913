// node bundle.mjs OUT.js: entry.js and what it imports (the real @uppy/core, @uppy/aws-s3 and
// the glue) as one script for the test's page.
import { build } from "esbuild";

await build({
  entryPoints: [new URL("./entry.js", import.meta.url).pathname],
  bundle: true,
  format: "iife",
  target: "chrome120",
  outfile: process.argv[2],
  logLevel: "warning",
});

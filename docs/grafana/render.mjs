#!/usr/bin/env node
// Screenshots latchkey-dashboard.json as drawn by render.html from a Prometheus that scrapes a
// latchkey: serves the page, the dashboard and uPlot on a loopback port, proxies /api/v1/ to
// Prometheus, and has headless Chromium (through playwright-core) take a full-page PNG.
//
//   node docs/grafana/render.mjs --modules /tmp/dashrender/node_modules \
//     --prometheus http://127.0.0.1:19090 --minutes 6 --scrape 2 --out docs/grafana-dashboard.png
//
// --modules is a node_modules folder holding playwright-core and uplot (npm install
// playwright-core uplot); --chromium the browser to drive (default /usr/bin/chromium). The time
// range ends at --end (unix seconds, default now) and starts --minutes before it, or at --start.
// --scrape is the scrape interval Grafana's data source would be set to ($__rate_interval is
// max($__interval + scrape, 4 × scrape)); --var NAME=VALUE picks a template variable's value
// (default All).

import { createServer } from "node:http";
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const opt = {
  modules: process.env.RENDER_NODE_MODULES || "/tmp/dashrender/node_modules",
  prometheus: "http://127.0.0.1:19090",
  dashboard: join(here, "latchkey-dashboard.json"),
  out: resolve(here, "..", "grafana-dashboard.png"),
  minutes: "10",
  start: "",
  end: "",
  scrape: "15",
  width: "1600",
  chromium: "/usr/bin/chromium",
  vars: [],
  note: "Drawn by docs/grafana/render.mjs from latchkey-dashboard.json and Prometheus, not by Grafana.",
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const k = argv[i].replace(/^--/, "");
  if (k === "var") { opt.vars.push(argv[++i]); continue; } // --var realm=demo
  if (!(k in opt)) { console.error(`unknown option --${k}`); process.exit(2); }
  opt[k] = argv[++i];
}
const prom = new URL(opt.prometheus);
if (!["127.0.0.1", "localhost", "[::1]"].includes(prom.hostname)) {
  console.error("Prometheus must be on this machine (loopback)"); process.exit(2);
}

const require = createRequire(join(resolve(opt.modules), "noop.js"));
const { chromium } = require("playwright-core");
const uplotDist = dirname(require.resolve("uplot/dist/uPlot.iife.min.js"));

const files = {
  "/": [join(here, "render.html"), "text/html; charset=utf-8"],
  "/dashboard.json": [opt.dashboard, "application/json"],
  "/uplot/uPlot.iife.min.js": [join(uplotDist, "uPlot.iife.min.js"), "text/javascript"],
  "/uplot/uPlot.min.css": [join(uplotDist, "uPlot.min.css"), "text/css"],
};

const server = createServer(async (req, res) => {
  const url = new URL(req.url, "http://x");
  try {
    if (url.pathname.startsWith("/api/v1/")) {
      const r = await fetch(new URL(url.pathname + url.search, prom));
      res.writeHead(r.status, { "content-type": "application/json" });
      res.end(Buffer.from(await r.arrayBuffer()));
      return;
    }
    if (url.pathname === "/favicon.ico") { res.writeHead(204); res.end(); return; }
    const f = files[url.pathname];
    if (!f) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { "content-type": f[1] });
    res.end(await readFile(f[0]));
  } catch (e) {
    res.writeHead(502); res.end(String(e));
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const port = server.address().port;

const end = opt.end ? Number(opt.end) : Math.floor(Date.now() / 1000);
const range = opt.start ? end - Number(opt.start) : Math.round(Number(opt.minutes) * 60);
const q = new URLSearchParams({ range: String(range), end: String(end), scrape: opt.scrape });
for (const v of opt.vars) { const [k, ...rest] = v.split("="); q.set(k, rest.join("=")); }
if (opt.note) q.set("note", opt.note);

const browser = await chromium.launch({
  executablePath: opt.chromium,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: Number(opt.width), height: 900 }, deviceScaleFactor: 1 });
  page.on("console", (m) => { if (m.type() === "error") console.error("page:", m.text()); });
  page.on("pageerror", (e) => { console.error("page:", e.message); failed = true; });
  await page.goto(`http://127.0.0.1:${port}/?${q}`);
  await page.waitForFunction(() => window.__done === true, null, { timeout: 60000 });
  const errors = await page.evaluate(() => window.__errors || 0);
  if (errors) { console.error(`${errors} panel(s) failed to draw`); failed = true; }
  await page.screenshot({ path: opt.out, fullPage: true });
  console.log(`wrote ${opt.out}`);
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);

// Starts the real latchkey binary and a static server for the test pages, and launches
// Debian's Chromium through playwright-core.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, "../..");
const BIN = process.env.LATCHKEY_BIN || path.join(ROOT, "target/release/latchkey");

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export async function startLatchkey(realm) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-browser-"));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, "realm.json"), JSON.stringify(realm));
  const log = fs.openSync(path.join(dir, "server.log"), "a");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("LATCHKEY_")));
  const proc = spawn(BIN, ["serve", "--listen", `127.0.0.1:${port}`, "--db", `sqlite://${dir}/db.sqlite`,
    "--import-realm", path.join(dir, "realm.json")], { stdio: ["ignore", log, log], env });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(`${base}/health/ready`);
      if (r.ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base,
    dir,
    log: () => fs.readFileSync(path.join(dir, "server.log"), "utf8"),
    stop: () => new Promise((resolve) => { proc.once("exit", resolve); proc.kill("SIGTERM"); }),
  };
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png" };

/** Serves the example SPA, the test pages and the client libraries from node_modules. */
export async function startStatic(port) {
  const mounts = {
    "/keycloak.js": path.join(here, "node_modules/keycloak-js/lib/keycloak.js"),
    "/spa/keycloak.js": path.join(here, "node_modules/keycloak-js/lib/keycloak.js"),
    "/oidc-client-ts.js": path.join(here, "node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js"),
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    if (url.pathname === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    let file = mounts[url.pathname];
    if (!file && url.pathname.startsWith("/spa/")) {
      const rel = url.pathname.slice(5) || "index.html";
      file = path.join(ROOT, "examples/spa-keepalive", path.normalize(rel).replace(/^(\.\.[/\\])+/, ""));
    }
    if (!file && url.pathname.startsWith("/pages/")) {
      file = path.join(here, "pages", path.basename(url.pathname));
    }
    if (!file || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] || "application/octet-stream", "cache-control": "no-store" });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return { base: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => server.close(r)) };
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run", "--disable-quic"],
  });
}

/** Collects console errors and page errors of a page. */
export function watchErrors(page) {
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(String(e)));
  return errors;
}

export async function signIn(page, username = "alice", password = "alice-password") {
  await page.waitForSelector("input[name=username]");
  await page.fill("input[name=username]", username);
  await page.fill("input[name=password]", password);
  await page.click("#kc-login");
}

/** The echo upstream (tests/upstream.py). */
export async function startUpstream() {
  const port = await freePort();
  const proc = spawn("python3", [path.join(ROOT, "tests/upstream.py"), String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve) => proc.stdout.once("data", resolve));
  return { base: `http://127.0.0.1:${port}`, stop: () => proc.kill("SIGKILL") };
}

/** `latchkey gateway` with a Kong declarative configuration (an object, written as JSON). */
export async function startGateway(config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-gateway-"));
  const [port, statusPort] = [await freePort(), await freePort()];
  fs.writeFileSync(path.join(dir, "kong.json"), JSON.stringify(config));
  const log = fs.openSync(path.join(dir, "gateway.log"), "a");
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("LATCHKEY_")));
  const proc = spawn(BIN, ["gateway", "--config", path.join(dir, "kong.json"), "--listen", `127.0.0.1:${port}`,
    "--status-listen", `127.0.0.1:${statusPort}`], { stdio: ["ignore", log, log], env });
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${statusPort}/health/ready`)).ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    base: `http://127.0.0.1:${port}`,
    status: `http://127.0.0.1:${statusPort}`,
    log: () => fs.readFileSync(path.join(dir, "gateway.log"), "utf8"),
    stop: () => new Promise((resolve) => { proc.once("exit", resolve); proc.kill("SIGTERM"); }),
  };
}

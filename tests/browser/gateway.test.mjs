// A browser behind latchkey gateway (issue 18, the BFF): Chromium signs in through the gateway
// (authorization code with PKCE at latchkey's login page) and uses an app whose 3 s access
// token expires while it works; the gateway refreshes it, the app never sees a token.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { freePort, launch, signIn, startGateway, startLatchkey, startStatic, startUpstream, watchErrors } from "./harness.mjs";

let idp, app, api, gw, browser;

before(async () => {
  idp = await startLatchkey({
    realm: "bff",
    accessTokenLifespan: 3,
    clients: [{ clientId: "gateway", secret: "gateway-secret", redirectUris: ["http://127.0.0.1:*"] }],
    users: [{ username: "alice", credentials: [{ type: "password", value: "alice-password" }] }],
  });
  app = await startStatic(await freePort());
  api = await startUpstream();
  gw = await startGateway({
    _format_version: "3.0",
    services: [
      { name: "app", url: app.base, routes: [{ name: "pages", paths: ["/pages", "/favicon.ico"], strip_path: false }] },
      { name: "api", url: api.base, routes: [{ name: "api", paths: ["/api"] }] },
    ],
    plugins: [{
      name: "openid-connect",
      config: {
        issuer: `${idp.base}/realms/bff`,
        client_id: ["gateway"],
        client_secret: ["gateway-secret"],
        auth_methods: ["authorization_code", "session"],
        login_action: "redirect",
        leeway: 1,
      },
    }],
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await gw?.stop();
  api?.stop();
  await app?.stop();
  await idp?.stop();
});

test("gateway: sign in through the gateway; the app keeps working while its access token expires", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${gw.base}/pages/gateway-app.html?seconds=7`);
  await signIn(page);
  await page.waitForFunction(() => document.getElementById("status")?.textContent === "done", null, { timeout: 30000 });
  const result = JSON.parse(await page.textContent("#result"));
  assert.equal(result.ok, result.count, `every API call succeeded: ${JSON.stringify(result)}`);
  assert.deepEqual(result.statuses, [200]);
  assert.ok(result.distinctTokens >= 2, `the access token was refreshed while the app worked: ${JSON.stringify(result)}`);
  assert.equal(result.visibleCookies, "", "the session cookie is HttpOnly");
  const session = (await context.cookies()).find((c) => c.name === "session");
  assert.ok(session?.httpOnly && session.sameSite === "Lax");
  assert.ok(!page.url().includes("code=") && !page.url().includes("token"), page.url());
  const storage = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }]));
  assert.equal(storage, "[{},{}]", "no token in the browser's storage");
  assert.deepEqual(errors, []);
  await context.close();
});

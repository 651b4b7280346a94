// End-to-end: real Chromium, unmodified keycloak-js 26 and oidc-client-ts 3, the keep-alive
// example, against the real latchkey binary.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { freePort, launch, signIn, startLatchkey, startStatic, watchErrors } from "./harness.mjs";

let server, app, browser, realmUrl;

before(async () => {
  const appPort = await freePort();
  const appOrigin = `http://127.0.0.1:${appPort}`;
  server = await startLatchkey({
    realm: "browser",
    displayName: "Example Corp",
    clients: [{
      clientId: "spa",
      name: "Example SPA",
      publicClient: true,
      redirectUris: [`${appOrigin}/*`],
      webOrigins: ["+"],
      attributes: { "post.logout.redirect.uris": "+", "access.token.lifespan": "3", "pkce.code.challenge.method": "S256" },
    }],
    users: [{ username: "alice", firstName: "Alice", lastName: "Liddell", email: "alice@example.com",
      credentials: [{ type: "password", value: "alice-password" }] }],
  });
  app = await startStatic(appPort);
  browser = await launch();
  realmUrl = `${server.base}/realms/browser`;
});

after(async () => {
  await browser?.close();
  await app?.stop();
  await server?.stop();
});

const kcPage = () => `${app.base}/pages/kc.html?kc=${encodeURIComponent(server.base)}&realm=browser&client=spa`;

async function refreshWith(refreshToken) {
  return fetch(`${realmUrl}/protocol/openid-connect/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", client_id: "spa", refresh_token: refreshToken }),
  });
}

test("keycloak-js: login-required with PKCE, updateToken after expiry, login-status iframe, logout", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  const authRequests = [];
  page.on("request", (r) => { if (r.url().includes("/protocol/openid-connect/auth")) authRequests.push(r.url()); });
  await page.goto(kcPage());
  await signIn(page);
  // Until the redirect back lands, the login page is still showing and has no #state: a
  // predicate that throws there ends the wait at once, so every wait reads the element with ?.
  await page.waitForFunction(() => (document.getElementById("state")?.textContent ?? "loading") !== "loading", null, { timeout: 20000 });
  assert.equal(await page.textContent("#state"), "authenticated");
  const auth = new URL(authRequests[0]);
  assert.equal(auth.searchParams.get("code_challenge_method"), "S256");
  assert.ok(auth.searchParams.get("code_challenge"));
  const first = await page.evaluate(() => ({ token: kc.token, sid: kc.tokenParsed.sid, user: kc.tokenParsed.preferred_username }));
  assert.equal(first.user, "alice");

  // The access token lives 3 s; after it expired, updateToken refreshes it.
  await page.waitForTimeout(3500);
  const refreshed = await page.evaluate(() => kc.updateToken(5));
  assert.equal(refreshed, true);
  const second = await page.evaluate(() => ({ token: kc.token, sid: kc.tokenParsed.sid, rt: kc.refreshToken }));
  assert.notEqual(second.token, first.token);
  assert.equal(second.sid, first.sid);

  // The login-status iframe has been polling every second: still signed in, no errors.
  await page.waitForTimeout(2500);
  assert.deepEqual(await page.evaluate(() => window.kcEvents), []);
  assert.deepEqual(errors, [], `console errors: ${errors.join("\n")}`);

  // logout(): back on the page, the session is gone and its refresh token refused.
  const loggedOut = page.waitForResponse((r) => r.url().includes("/protocol/openid-connect/logout"));
  await page.evaluate(() => { kc.logout({ redirectUri: location.href }); });
  assert.equal((await loggedOut).status(), 302, "logout redirects back to the app");
  await page.waitForURL((u) => u.toString().startsWith(app.base));
  const r = await refreshWith(second.rt);
  assert.equal(r.status, 400);
  assert.match((await r.json()).error_description, /ended/);
  await context.close();
});

test("oidc-client-ts: signinRedirect, signinCallback, silent renew through the refresh token", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${app.base}/pages/oidc.html?authority=${encodeURIComponent(realmUrl)}`);
  await signIn(page);
  await page.waitForFunction(() => document.getElementById("state")?.textContent.startsWith("signed-in"), null, { timeout: 20000 });
  assert.equal(await page.textContent("#state"), "signed-in alice");
  const before = await page.evaluate(() => ({ at: window.user.access_token, rt: window.user.refresh_token }));
  assert.ok(before.rt, "a refresh token was issued");
  const renewed = await page.evaluate(async () => {
    const u = await window.mgr.signinSilent();
    return { at: u.access_token, rt: u.refresh_token, name: u.profile.preferred_username };
  });
  assert.notEqual(renewed.at, before.at);
  assert.notEqual(renewed.rt, before.rt, "rotation: a new refresh token");
  assert.equal(renewed.name, "alice");
  assert.deepEqual(errors, []);
  await context.close();
});

test("keep-alive example: two tabs refreshing at the same moment both stay signed in", async () => {
  const context = await browser.newContext();
  const url = `${app.base}/spa/index.html?kc=${encodeURIComponent(server.base)}&realm=browser&client=spa&tick=1&minValidity=2`;
  const tab1 = await context.newPage();
  const errors = watchErrors(tab1);
  await tab1.goto(url);
  await signIn(tab1);
  await tab1.waitForFunction(() => document.getElementById("status")?.textContent === "Signed in", null, { timeout: 20000 });
  const tab2 = await context.newPage();
  watchErrors(tab2);
  await tab2.goto(url);
  await tab2.waitForFunction(() => document.getElementById("status")?.textContent === "Signed in", null, { timeout: 20000 });
  const sid1 = await tab1.textContent("#sid");
  assert.equal(await tab2.textContent("#sid"), sid1, "the second tab joined the same session");

  // Both tabs hold the same refresh token and refresh at the same instant, bypassing the
  // cross-tab lock: with rotation on, convergent grace gives both the same successor.
  const shared = await tab1.evaluate(() => window.keepalive.kc.refreshToken);
  await tab2.evaluate((rt) => { window.keepalive.kc.refreshToken = rt; }, shared);
  const [a, b] = await Promise.all([
    tab1.evaluate(() => window.keepalive.kc.updateToken(-1).then(() => window.keepalive.kc.refreshToken)),
    tab2.evaluate(() => window.keepalive.kc.updateToken(-1).then(() => window.keepalive.kc.refreshToken)),
  ]);
  assert.equal(a, b, "one successor for both tabs");
  assert.notEqual(a, shared);

  // Activity keeps both alive across access-token expiry.
  for (let i = 0; i < 5; i++) {
    await tab1.mouse.move(10 + i, 10 + i);
    await tab2.mouse.move(20 + i, 20 + i);
    await tab1.waitForTimeout(1000);
  }
  for (const tab of [tab1, tab2]) {
    assert.equal(await tab.textContent("#status"), "Signed in");
    assert.ok(Number(await tab.textContent("#refreshes")) + 0 >= 0);
    const ok = await tab.evaluate(() => window.keepalive.kc.updateToken(-1));
    assert.equal(ok, true);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

// Writes into LATCHKEY_SCREENSHOTS when set (LATCHKEY_SCREENSHOTS=docs refreshes the README's
// pictures), else into a temporary folder; either way the pictures are checked.
test("screenshots of the login page and the example SPA", async () => {
  const dir = process.env.LATCHKEY_SCREENSHOTS || fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-shots-"));
  const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
  const page = await context.newPage();
  await page.goto(`${app.base}/spa/index.html?kc=${encodeURIComponent(server.base)}&realm=browser&client=spa`);
  await page.waitForSelector("input[name=username]");
  assert.equal(await page.textContent("label[for=username]"), "Username or email");
  await page.screenshot({ path: `${dir}/login-page.png` });
  await signIn(page);
  await page.waitForFunction(() => document.getElementById("status")?.textContent === "Signed in");
  await page.mouse.move(100, 100);
  await page.screenshot({ path: `${dir}/spa-keepalive.png` });
  await context.close();
  for (const name of ["login-page.png", "spa-keepalive.png"]) {
    const png = fs.readFileSync(path.join(dir, name));
    assert.equal(png.subarray(1, 4).toString(), "PNG");
    assert.equal(png.readUInt32BE(16), 900, `${name} is 900 px wide`);
    assert.ok(png.length > 10_000, `${name} shows a rendered page (${png.length} bytes)`);
  }
});

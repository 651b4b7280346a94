// Keep a keycloak-js session alive while the user is active, and only then.
//
// - Activity (pointer, keys, scrolling, navigation, focus) is recorded; a timer refreshes the
//   access token ahead of expiry only if there was activity since the last refresh.
// - Tabs share one token set in localStorage. A refresh runs under a Web Lock, so one tab
//   refreshes at a time; the result is broadcast to the other tabs, which adopt it.
// - If two tabs still race (no Web Locks, a retry after a lost response), latchkey's convergent
//   grace period hands both the same successor refresh token: nobody is logged out.
// - When the session truly ends (refresh answered 400), the tab signs out.
import Keycloak from "./keycloak.js";

const params = new URLSearchParams(location.search);
const config = {
  url: params.get("kc") || "http://127.0.0.1:8080",
  realm: params.get("realm") || "demo",
  clientId: params.get("client") || "spa",
};
const MIN_VALIDITY = Number(params.get("minValidity") || 30); // seconds ahead of expiry
const IDLE_AFTER = Number(params.get("idleAfter") || 300); // seconds without activity = idle
const TICK = Number(params.get("tick") || 5) * 1000;
const STORE = `latchkey:${config.realm}:${config.clientId}`;

const kc = new Keycloak(config);
const channel = "BroadcastChannel" in window ? new BroadcastChannel(STORE) : null;
let lastActivity = Date.now();
let lastRefresh = Date.now();
let refreshes = 0;

function saved() {
  try { return JSON.parse(localStorage.getItem(STORE) || "null"); } catch { return null; }
}
function save() {
  const t = { token: kc.token, refreshToken: kc.refreshToken, idToken: kc.idToken };
  localStorage.setItem(STORE, JSON.stringify(t));
  channel?.postMessage(t);
}
function adopt(t) {
  if (!t || !t.refreshToken || t.refreshToken === kc.refreshToken) return;
  // keycloak-js has no public setter: re-init state the way it does after a refresh.
  kc.token = t.token; kc.refreshToken = t.refreshToken; kc.idToken = t.idToken;
  kc.tokenParsed = decode(t.token); kc.refreshTokenParsed = decode(t.refreshToken);
  kc.idTokenParsed = t.idToken ? decode(t.idToken) : undefined;
  render();
}
function decode(jwt) {
  const p = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(decodeURIComponent(escape(atob(p))));
}

for (const ev of ["pointermove", "pointerdown", "keydown", "scroll", "wheel", "focus", "hashchange", "popstate"]) {
  window.addEventListener(ev, () => { lastActivity = Date.now(); render(); }, { passive: true });
}
channel?.addEventListener("message", (e) => adopt(e.data));
window.addEventListener("storage", (e) => { if (e.key === STORE) adopt(saved()); });

/** Refresh now (under the cross-tab lock). `force` ignores the remaining validity. */
async function refresh(force = false) {
  const run = async () => {
    adopt(saved()); // another tab may have refreshed while we waited for the lock
    const refreshed = await kc.updateToken(force ? -1 : MIN_VALIDITY);
    if (refreshed) {
      refreshes += 1;
      lastRefresh = Date.now();
      save();
    }
    return refreshed;
  };
  return navigator.locks ? navigator.locks.request(STORE, run) : run();
}

async function tick() {
  const activeSinceRefresh = lastActivity > lastRefresh;
  const idle = Date.now() - lastActivity > IDLE_AFTER * 1000;
  if (kc.authenticated && activeSinceRefresh && !idle) {
    try {
      await refresh();
    } catch {
      return signedOut("The session ended.");
    }
  }
  render();
}

function signedOut(why) {
  localStorage.removeItem(STORE);
  document.getElementById("status").textContent = `Signed out: ${why}`;
  kc.clearToken();
}

kc.onTokenExpired = () => render();
kc.onAuthRefreshError = () => signedOut("the session ended.");

function render() {
  const el = (id) => document.getElementById(id);
  if (!kc.tokenParsed) return;
  el("status").textContent = "Signed in";
  el("user").textContent = kc.tokenParsed.preferred_username;
  el("sid").textContent = kc.tokenParsed.sid;
  el("expires").textContent = `${Math.round(kc.tokenParsed.exp - Date.now() / 1000 + (kc.timeSkew || 0))} s`;
  el("refreshes").textContent = String(refreshes);
  el("activity").textContent = `${Math.round((Date.now() - lastActivity) / 1000)} s ago`;
}

const stored = saved();
const authenticated = await kc.init({
  onLoad: "login-required",
  pkceMethod: "S256",
  checkLoginIframe: true,
  ...(stored ? { token: stored.token, refreshToken: stored.refreshToken, idToken: stored.idToken } : {}),
});
if (authenticated) {
  save();
  render();
  setInterval(tick, TICK);
}
document.getElementById("logout").addEventListener("click", () => {
  localStorage.removeItem(STORE);
  kc.logout({ redirectUri: location.href.split("#")[0] });
});
window.keepalive = { kc, refresh, refreshes: () => refreshes };

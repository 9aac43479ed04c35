// Talking to Hangar: REST with the API key header, WebSockets with the key as a subprotocol
// (browsers cannot set headers on a WebSocket), reconnecting with backoff.
const KEY = "hangar.apiKey";

export const keyStore = {
  get: () => sessionStorage.getItem(KEY),
  set: (k) => sessionStorage.setItem(KEY, k),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

let onUnauthorized = async () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function api(method, path, body) {
  for (let attempt = 0; attempt < 3; attempt++) {
    const headers = { "accept": "application/json" };
    const key = keyStore.get();
    if (key) headers["X-API-Key"] = key;
    if (body !== undefined) headers["content-type"] = "application/json";
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
    if (r.status === 401) {
      const hadKey = Boolean(key);
      keyStore.clear();
      await onUnauthorized(hadKey ? (data && data.message) || "key refused" : null);
      continue;
    }
    if (!r.ok) throw new ApiError(r.status, data);
    return data;
  }
  throw new ApiError(401, { message: "no valid API key" });
}

export const get = (p) => api("GET", p);
export const post = (p, b) => api("POST", p, b);
export const del = (p) => api("DELETE", p);

function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}

// A socket that reconnects by itself; `onOpen(ws)` runs after each (re)connection.
export function liveSocket(path, { onMessage, onOpen, onStatus }) {
  let ws = null, closed = false, delay = 500;
  function connect() {
    const key = keyStore.get();
    const protocols = key ? ["hangar", `hangar.key.${key}`] : ["hangar"];
    ws = new WebSocket(wsUrl(path), protocols);
    ws.onopen = () => { delay = 500; onStatus && onStatus("live"); onOpen && onOpen(ws); };
    ws.onmessage = (m) => { try { onMessage(JSON.parse(m.data)); } catch (e) { console.error(e); } };
    ws.onclose = () => {
      if (closed) return;
      onStatus && onStatus("reconnecting…");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    };
  }
  connect();
  return {
    send: (obj) => { if (ws && ws.readyState === 1) ws.send(JSON.stringify(obj)); },
    close: () => { closed = true; if (ws) ws.close(); },
  };
}

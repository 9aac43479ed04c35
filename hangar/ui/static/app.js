// The Hangar dashboard: every panel is read over REST and kept live by /api/ws/events.
import { api, del, get, keyStore, liveSocket, post, setUnauthorizedHandler } from "./api.js";
import { h, sparkline, stateCell, table } from "./dom.js";
import { toolForm } from "./schemaform.js";

const $ = (sel) => document.querySelector(sel);
const state = { tab: "providers", selected: null, logsSocket: null, events: null, refreshTimer: null };

// --- errors and the API key ------------------------------------------------------------------
function showError(e) {
  const el = $("#error");
  el.textContent = e ? (e.message || String(e)) : "";
  el.hidden = !e;
}

let keyPrompt = null;
setUnauthorizedHandler((refusal) => {
  if (keyPrompt) return keyPrompt;
  keyPrompt = new Promise((resolve) => {
    const dialog = $("#key-dialog");
    $("#key-error").hidden = !refusal;
    $("#key-error").textContent = refusal ? `Refused: ${refusal}` : "";
    $("#key-input").value = "";
    const done = (ev) => {
      ev.preventDefault();
      keyStore.set($("#key-input").value.trim());
      dialog.close();
      $("#key-form").removeEventListener("submit", done);
      keyPrompt = null;
      resolve();
      reconnectSockets();
    };
    $("#key-form").addEventListener("submit", done);
    dialog.showModal();
    $("#key-input").focus();
  });
  return keyPrompt;
});

// --- tabs ------------------------------------------------------------------------------------
function showTab(tab) {
  state.tab = tab;
  for (const b of document.querySelectorAll("nav button")) {
    if (b.dataset.tab === tab) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
  }
  for (const p of document.querySelectorAll("[data-panel]")) p.hidden = p.dataset.panel !== tab;
  refresh(tab);
}

async function refresh(tab = state.tab) {
  try {
    await ({ providers: renderProviders, groups: renderGroups, discovery: renderDiscovery,
             catalog: renderCatalog, logs: fillLogProviders, audit: renderAudit, events: async () => {} })[tab]();
    showError(null);
  } catch (e) { showError(e); }
}

// Many events arrive in bursts: coalesce the re-reads they cause.
function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refresh(), 100);
}

async function act(fn) {
  try { await fn(); showError(null); } catch (e) { showError(e); }
  refresh();
}

// --- providers -------------------------------------------------------------------------------
async function renderProviders() {
  const { providers } = await get("/api/providers");
  const body = $("#providers-table tbody");
  body.replaceChildren(...providers.map((p) => h("tr", { "data-provider": p.provider_id },
    h("td", {}, h("button", { type: "button", class: "link", onclick: () => selectProvider(p.provider_id),
                              "aria-label": `Details of ${p.provider_id}` }, p.provider_id)),
    h("td", { "data-role": "state" }, stateCell(p.state)), h("td", {}, p.mode),
    h("td", {}, stateCell(p.health_status)), h("td", {}, p.tools_count),
    h("td", {},
      h("button", { type: "button", onclick: () => act(() => post(`/api/providers/${p.provider_id}/start`)),
                    "aria-label": `Start ${p.provider_id}` }, "Start"),
      h("button", { type: "button", onclick: () => act(() => post(`/api/providers/${p.provider_id}/stop`,
                    { reason: "dashboard" })), "aria-label": `Stop ${p.provider_id}` }, "Stop"),
      h("button", { type: "button", onclick: () => act(async () => {
        await post(`/api/providers/${p.provider_id}/stop`, { reason: "restart" });
        await post(`/api/providers/${p.provider_id}/start`);
      }), "aria-label": `Restart ${p.provider_id}` }, "Restart"),
      h("button", { type: "button", onclick: () => { if (confirm(`Delete ${p.provider_id}?`)) {
        if (state.selected === p.provider_id) state.selected = null;
        act(() => del(`/api/providers/${p.provider_id}`)); } },
        "aria-label": `Delete ${p.provider_id}` }, "Delete")))));
  if (state.selected) await renderDetail(state.selected);
}

async function selectProvider(id) {
  state.selected = id;
  await renderDetail(id);
}

async function renderDetail(id) {
  const box = $("#provider-detail");
  let p;
  try { p = await get(`/api/providers/${id}`); } catch (e) { box.replaceChildren(); return; }
  if (box.dataset.provider === id && box.dataset.version === String(p.version) && box.dataset.state === p.state) return;
  box.dataset.provider = id; box.dataset.version = p.version; box.dataset.state = p.state;
  box.replaceChildren(h("div", { class: "card" },
    h("h3", {}, `${p.provider_id} `, stateCell(p.state)),
    h("p", {}, `health ${p.health_status} · breaker ${p.circuit_breaker_state} · calls ${p.tool_calls_total}`,
      ` (${p.tool_calls_failed} failed)`),
    p.health.last_error ? h("p", { class: "error" }, `last error: ${p.health.last_error}`) : null,
    h("h4", {}, "Tools"),
    p.tools.length ? p.tools.map((t) => toolForm(t, (args) => callTool(id, t.name, args)))
      : h("p", { class: "muted" }, "No tools known yet: start the provider.")));
}

async function callTool(id, tool, args) {
  try {
    const r = await post(`/api/providers/${id}/tools/${encodeURIComponent(tool)}/invoke`, { arguments: args });
    const text = r.result.map((c) => (c.type === "text" ? c.text : JSON.stringify(c))).join("\n");
    return `${r.is_error ? "error: " : ""}${text}\n(${r.duration_ms.toFixed(1)} ms)`;
  } catch (e) { return `refused: ${e.message}`; }
}

// --- groups ----------------------------------------------------------------------------------
async function renderGroups() {
  const { groups } = await get("/api/groups");
  $("#groups").replaceChildren(...(groups.length ? groups.map((g) => h("div", { class: "card" },
    h("h3", {}, `${g.group_id} `, stateCell(g.state)),
    h("p", {}, `strategy ${g.strategy} · healthy ${g.healthy_count}/${g.total_members} · breaker `,
      stateCell(g.circuit_breaker_state)),
    table(["Member", "State", "In rotation", "Weight", "Priority", "Breaker"], g.members.map((m) =>
      [m.id, stateCell(m.state), m.in_rotation ? "yes" : "no", m.weight, m.priority, stateCell(m.circuit_breaker_state)]))))
    : [h("p", { class: "muted" }, "No groups.")]));
}

// --- discovery -------------------------------------------------------------------------------
function say(el, text) { $(el).textContent = text; }

async function decide(verb, c) {
  const q = c.source_id ? `?source_id=${encodeURIComponent(c.source_id)}` : "";
  try {
    if (verb === "approve") {
      const r = await post(`/api/discovery/approve/${encodeURIComponent(c.name)}${q}`);
      say("#discovery-status", `Approved ${c.name}: now provider ${r.provider_id}.`);
    } else {
      await post(`/api/discovery/reject/${encodeURIComponent(c.name)}${q}`, { reason: "rejected from the dashboard" });
      say("#discovery-status", `Rejected ${c.name}: it is not proposed again until its definition changes.`);
    }
    showError(null);
  } catch (e) { say("#discovery-status", ""); showError(e); }
  refresh();
}

async function scanAll() {
  say("#discovery-status", "Scanning every enabled source…");
  try {
    const r = await post("/api/discovery/scan", {});
    say("#discovery-status", `${r.sources.length} sources scanned in ${(r.duration_ms / 1000).toFixed(2)} s: ` +
      `${r.providers_found} found, ${r.new} new, ${r.failed} failed.`);
    showError(null);
  } catch (e) { say("#discovery-status", ""); showError(e); }
  refresh();
}

async function renderDiscovery() {
  const [{ pending }, quarantined] = await Promise.all([get("/api/discovery/pending"), get("/api/discovery/quarantined")]);
  const actions = (c) => h("span", {},
    h("button", { type: "button", "aria-label": `Approve ${c.name}`, onclick: () => decide("approve", c) }, "Approve"),
    h("button", { type: "button", "aria-label": `Reject ${c.name}`, onclick: () => decide("reject", c) }, "Reject"));
  $("#pending").replaceChildren(pending.length
    ? table(["Name", "Source", "Mode", "Discovered", ""], pending.map((c) => [c.name, c.source_id, c.mode, c.discovered_at, actions(c)]),
            (i) => ({ "data-candidate": pending[i].name }))
    : h("p", { class: "muted" }, "Nothing pending."));
  const q = Object.values(quarantined.quarantined || {}).filter((x) => x && x.provider);
  $("#quarantined").replaceChildren(q.length
    ? table(["Name", "Source", "Reason", ""], q.map((c) => [c.provider.name, c.source_id, c.reason,
        actions({ name: c.provider.name, source_id: c.source_id })]),
            (i) => ({ "data-candidate": q[i].provider.name }))
    : h("p", { class: "muted" }, "Nothing quarantined."));
}

// --- catalog ---------------------------------------------------------------------------------
async function renderCatalog() {
  const q = $("#catalog-search").value.trim();
  const { entries } = await get(`/api/catalog${q ? `?search=${encodeURIComponent(q)}` : ""}`);
  $("#catalog").replaceChildren(table(["Name", "Mode", "Description", "Deployed", ""], entries.map((e) => [
    e.name, e.mode ?? "-", e.description ?? "", e.deploy_count,
    h("button", { type: "button", "aria-label": `Deploy ${e.name}`, onclick: () => act(async () => {
      const env = {};
      for (const v of e.required_env) {
        const val = prompt(`Value for ${v}`);
        if (val === null) return;
        env[v] = val;
      }
      const r = await post(`/api/catalog/${e.entry_id}/deploy`, { env });
      showTab("providers");
      selectProvider(r.provider_id);
    }) }, "Deploy")])));
}

// --- events ----------------------------------------------------------------------------------
const MAX_FEED = 300;
function onEvent(frame) {
  if ("filter" in frame) return;
  const list = $("#events");
  const subject = frame.provider_id || frame.group_id || frame.stream_id;
  list.prepend(h("li", {}, `${frame.recorded_at} ${frame.event_type} ${subject}`));
  while (list.children.length > MAX_FEED) list.lastChild.remove();
  if (state.tab !== "events") scheduleRefresh();
}

function eventsFilterFromForm() {
  const f = new FormData($("#events-filter"));
  const type = f.get("type").trim(), provider = f.get("provider").trim();
  return { event_types: type ? type.split(/[ ,]+/) : null, provider_ids: provider ? provider.split(/[ ,]+/) : null };
}

// Panels refresh from every event; the visible feed is narrowed on the client side so the
// filter never starves the live panels.
function startEvents() {
  state.events = liveSocket("/api/ws/events", {
    onMessage: (f) => {
      const flt = eventsFilterFromForm();
      if ("filter" in f) return;
      scheduleRefreshFor(f);
      if (f.event_type === "AlertRaised" || f.event_type === "AlertResolved") refreshAlertCount();
      if (flt.event_types && !flt.event_types.includes(f.event_type)) return;
      if (flt.provider_ids && !flt.provider_ids.includes(f.provider_id)) return;
      onEvent(f);
    },
    onStatus: (s) => { $("#conn").textContent = s === "live" ? "● live" : s; },
    onOpen: () => refresh(),
  });
}

function scheduleRefreshFor() { if (state.tab !== "events" && state.tab !== "logs") scheduleRefresh(); }

// --- logs ------------------------------------------------------------------------------------
async function fillLogProviders() {
  const { providers } = await get("/api/providers");
  const sel = $("#logs-provider");
  const current = sel.value;
  sel.replaceChildren(h("option", { value: "" }, "choose…"),
    ...providers.map((p) => h("option", { value: p.provider_id, selected: p.provider_id === current }, p.provider_id)));
}

function followLogs(id) {
  if (state.logsSocket) state.logsSocket.close();
  const pre = $("#logs");
  pre.textContent = "";
  if (!id) return;
  state.logsSocket = liveSocket(`/api/ws/providers/${encodeURIComponent(id)}/logs`, {
    onOpen: () => { pre.textContent = ""; },
    onMessage: (e) => {
      if (e.error) { pre.textContent = e.message; return; }
      pre.append(`${e.timestamp} ${e.line}\n`);
      pre.scrollTop = pre.scrollHeight;
    },
  });
}

// --- audit, alerts, metrics ------------------------------------------------------------------
async function renderAudit() {
  const [alerts, audit] = await Promise.all([get("/api/observability/alerts?limit=50"), get("/api/observability/audit?limit=50")]);
  showAlertCount(alerts.active);
  $("#alerts").replaceChildren(alerts.alerts.length
    ? table(["Raised", "Level", "State", "Rule", "Target", "Message"], alerts.alerts.map((a) =>
        [a.raised_at, h("span", { class: `level-${a.level}` }, a.level), stateCell(a.state), a.rule, a.target, a.message]),
        (i) => ({ "data-alert": `${alerts.alerts[i].rule}:${alerts.alerts[i].target}`, "data-state": alerts.alerts[i].state }))
    : h("p", { class: "muted" }, "No alerts."));
  const recs = audit.records;
  $("#audit").replaceChildren(recs.length
    ? table(["When", "Principal", "Command", "Target", "Outcome", "Error"], recs.map((r) =>
        [r.recorded_at, r.principal, r.command, r.target_id ?? "", r.outcome, r.error ?? ""]))
    : h("p", { class: "muted" }, "No audit records."));
}

// The count of active alerts rides on the tab, so one firing is seen from any panel.
function showAlertCount(n) {
  const badge = $("#alert-count");
  badge.textContent = n ? String(n) : "";
  badge.hidden = !n;
  badge.setAttribute("aria-label", `${n} active alert${n === 1 ? "" : "s"}`);
}

async function refreshAlertCount() {
  try { showAlertCount((await get("/api/observability/alerts?state=active&limit=1")).active); } catch { /* shown by the panels */ }
}

async function renderMetrics() {
  try {
    const hist = await get("/api/observability/metrics/history?minutes=30");
    const cards = Object.entries(hist.series || {}).slice(0, 8).map(([name, pts]) => {
      const values = pts.map((p) => p[1]);
      const last = values.length ? values[values.length - 1] : 0;
      return h("div", { class: "spark", role: "img", "data-metric": name,
                        "aria-label": `${name.replaceAll("_", " ")}: ${last}, ${values.length} points over 30 minutes` },
        h("span", {}, name.replaceAll("_", " ")), h("b", {}, Number.isInteger(last) ? last : last.toFixed(2)), sparkline(values));
    });
    $("#metrics").replaceChildren(...cards);
    // Follow the server's sampling, within reason (2 to 15 s).
    state.metricsEvery = Math.min(15, Math.max(2, hist.interval_s || 15)) * 1000;
  } catch { /* the metrics strip is optional: the panels show errors */ }
  clearTimeout(state.metricsTimer);
  state.metricsTimer = setTimeout(renderMetrics, state.metricsEvery || 15000);
}

function reconnectSockets() {
  if (state.events) state.events.close();
  startEvents();
  followLogs($("#logs-provider").value);
}

// --- start -----------------------------------------------------------------------------------
for (const b of document.querySelectorAll("nav button")) b.addEventListener("click", () => showTab(b.dataset.tab));
$("#logs-provider").addEventListener("change", (e) => followLogs(e.target.value));
$("#scan-all").addEventListener("click", scanAll);
$("#catalog-search").addEventListener("input", () => refresh("catalog"));
$("#events-filter").addEventListener("submit", (e) => { e.preventDefault(); $("#events").replaceChildren(); });
$("#events-clear").addEventListener("click", () => { $("#events-filter").reset(); $("#events").replaceChildren(); });

(async () => {
  await get("/api/system").catch(showError);  // asks for a key first when auth is on
  startEvents();
  refreshAlertCount();
  showTab("providers");
  renderMetrics();  // then again at the server's sampling interval
})();

// A tenant's clients: a page at a time (the API's next_token), filtered by the API's status or by
// what the page reads (in grace, expiring soon, rate-limited lately), and found by exact name in
// one read, whatever the size of the tenant.
import {
  DERIVED, ErrorBox, StatusBadges, api, clientPath, clientsPath, enc, hasPolicy, html, statuses, useEffect, useState,
  when,
} from "./lib.js";
import { rememberTenant } from "./tenants.js";

function policyText(client) {
  if (!client.rotation) return client.status === "revoked" ? "" : "…"; // a summary: not read yet
  const parts = [];
  if (client.rate_limit) parts.push(`${client.rate_limit.requests_per_second}/s, burst ${client.rate_limit.burst}`);
  if (client.quota) parts.push(`${client.quota.limit}/${client.quota.period}`);
  if (client.allowed_cidrs) parts.push(`${client.allowed_cidrs.length} network(s)`);
  return parts.join("; ") || "none";
}

// The list gives summaries (no scopes, rotation or policy): each client of the page is read once,
// a few at a time, and those with a usage policy (only those are counted) get their last day's usage.
const AT_ONCE = 4;

async function eachLimited(items, work) {
  const queue = [...items];
  const worker = async () => {
    while (queue.length > 0) await work(queue.shift()).catch(() => {});
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
}

function useDetails(tenant, items) {
  const [details, setDetails] = useState({});
  const [usage, setUsage] = useState({});
  const [pending, setPending] = useState(0); // clients still being read (the table is aria-busy)
  useEffect(() => {
    let live = true;
    const readable = items.filter((c) => c.status !== "revoked");
    setPending(readable.length);
    eachLimited(readable, async (summary) => {
      try {
        const client = await api("GET", clientPath(tenant, summary.client_id));
        if (!live) return;
        setDetails((known) => ({ ...known, [client.client_id]: client }));
        if (hasPolicy(client)) {
          const report = await api("GET", `${clientPath(tenant, client.client_id, "usage")}?granularity=hour`);
          if (live) setUsage((known) => ({ ...known, [client.client_id]: report }));
        }
      } finally {
        if (live) setPending((n) => n - 1);
      }
    });
    return () => { live = false; };
  }, [tenant, items]);
  return { details, usage, busy: pending > 0 };
}

// A page of `size` clients from `start` on. The API filters by status within each page it reads,
// so a filtered page may come back short: it is filled from the next ones (a few requests at most).
const MAX_REQUESTS = 8;

async function fillPage(tenant, status, start, size) {
  const items = [];
  let next = start;
  for (let request = 0; request < MAX_REQUESTS; request += 1) {
    const query = new URLSearchParams({ limit: String(size - items.length) });
    if (status) query.set("status", status);
    if (next) query.set("next_token", next);
    const answer = await api("GET", `${clientsPath(tenant)}?${query}`);
    items.push(...answer.items);
    next = answer.next_token || null;
    if (!next || items.length >= size) break;
  }
  return { items, next_token: next };
}

function Row({ tenant, client, settings, usage }) {
  const rotation = client.rotation || {};
  return html`<tr data-client=${client.client_name}>
    <td><a href=${`#/t/${enc(tenant)}/c/${enc(client.client_id)}`}>${client.client_name}</a></td>
    <td><code>${client.client_id}</code></td>
    <td><${StatusBadges} names=${statuses(client, settings, usage)} /></td>
    <td>${client.scopes ? client.scopes.join(", ") : client.status === "revoked" ? "(revoked)" : "…"}</td>
    <td>${client.expires_at ? when(client.expires_at) : "never"}</td>
    <td>${client.rotated_at ? when(client.rotated_at) : "never"}${rotation.period_days
      ? html`<br /><span class="note">every ${rotation.period_days} d</span>` : ""}</td>
    <td data-field="last_used_at">${client.last_used_at ? when(client.last_used_at) : "never"}</td>
    <td>${policyText(client)}</td>
  </tr>`;
}

function SearchBox({ tenant, settings, onFound, onText }) {
  const [text, setText] = useState("");
  const submit = (event) => {
    event.preventDefault();
    const name = text.trim();
    if (new RegExp(settings.patterns.client_id).test(name)) {
      location.hash = `#/t/${enc(tenant)}/c/${enc(name)}`;
    } else if (new RegExp(settings.patterns.client_name).test(name)) {
      api("GET", `${clientsPath(tenant)}?name=${enc(name)}`).then((page) => onFound(page.items, null), (e) => onFound([], e));
    }
  };
  return html`<form class="inline" role="search" onSubmit=${submit}>
    <label for="search">Name</label>
    <input id="search" value=${text} placeholder="filter this page; Enter finds the name in the tenant"
      onInput=${(e) => { setText(e.target.value); onText(e.target.value); }} />
    <button type="submit">Find</button>
  </form>`;
}

export function ClientList({ tenant, settings }) {
  const [filter, setFilter] = useState("");
  const [text, setText] = useState("");
  const [tokens, setTokens] = useState([null]); // next_token of each page seen; the last is the current page's
  // Each answer is a new generation: its table replaces the last one whole (no row diffed across queries).
  const [page, setPage] = useState({ items: [], next_token: null, loading: true, error: null, found: false, gen: 0 });
  const answered = (next) => setPage((p) => ({ found: false, ...next, loading: false, gen: p.gen + 1 }));
  const apiStatus = settings.statuses.includes(filter) ? filter : "";
  const current = tokens[tokens.length - 1];

  useEffect(() => {
    rememberTenant(settings, tenant);
    let live = true;
    setPage((p) => ({ ...p, loading: true }));
    fillPage(tenant, apiStatus, current, settings.page_size).then(
      (answer) => live && answered({ ...answer, error: null }),
      (error) => live && answered({ items: [], next_token: null, error }),
    );
    return () => { live = false; };
  }, [tenant, apiStatus, current]);
  const { details, usage, busy } = useDetails(tenant, page.items);

  const shown = page.items.map((summary) => details[summary.client_id] || summary).filter((client) => {
    if (text && !client.client_name.toLowerCase().includes(text.trim().toLowerCase())) return false;
    return !DERIVED[filter] || statuses(client, settings, usage[client.client_id]).includes(filter);
  });
  const choose = (value) => { setFilter(value); setTokens([null]); };
  return html`<section class="clients">
    <div class="title-row">
      <h1>Clients of <span class="tenant">${tenant}</span></h1>
      <div class="title-actions">
        <a class="button" href=${`#/t/${enc(tenant)}/guardrails`}>Guardrails</a>
        <a class="button primary" href=${`#/t/${enc(tenant)}/new`}>Issue a client</a>
      </div>
    </div>
    <div class="toolbar">
      <${SearchBox} tenant=${tenant} settings=${settings} onText=${setText}
        onFound=${(items, error) => answered({ items, next_token: null, error, found: true })} />
      <label for="status">Status</label>
      <select id="status" value=${filter} onChange=${(e) => choose(e.target.value)}>
        <option value="">any</option>
        ${settings.statuses.map((s) => html`<option value=${s}>${s}</option>`)}
        ${Object.entries(DERIVED).map(([value, label]) => html`<option value=${value}>${label} (this page)</option>`)}
      </select>
    </div>
    <${ErrorBox} error=${page.error} />
    <table class="client-list" key=${page.gen} aria-busy=${page.loading || busy ? "true" : "false"}>
      <thead><tr><th>Name</th><th>Client id</th><th>Status</th><th>Scopes</th><th>Expires</th>
        <th>Last rotation</th><th>Last used</th><th>Usage policy</th></tr></thead>
      <tbody>${!page.loading && shown.map((client) => html`<${Row} key=${client.client_id} tenant=${tenant}
        client=${client} settings=${settings} usage=${usage[client.client_id]} />`)}</tbody>
    </table>
    ${page.loading && html`<p class="loading">Loading clients…</p>`}
    ${!page.loading && shown.length === 0 && html`<p class="empty">No client ${page.found ? "of that name" : "here"}.</p>`}
    <div class="pager">
      <button disabled=${tokens.length < 2} onClick=${() => setTokens(tokens.slice(0, -1))}>Previous page</button>
      <span class="note">page ${tokens.length}</span>
      <button disabled=${!page.next_token} onClick=${() => setTokens([...tokens, page.next_token])}>Next page</button>
    </div>
  </section>`;
}

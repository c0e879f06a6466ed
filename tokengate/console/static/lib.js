// What every page shares: the libraries, the console's API, times, statuses and small components.
// The vendored libraries are classic scripts (see index.html): they run before this module.
const { h, render } = window.preact;
export const { useState, useEffect, useRef, useCallback } = window.preactHooks;
export const html = window.htm.bind(h);
export { render };

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : [];
  }
}

// One call to the console's server (the admin API's routes under /api/admin, or /api/...): the
// parsed JSON, or an ApiError carrying the API's own code and message.
export async function api(method, path, body) {
  const options = { method, headers: {}, cache: "no-store", credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["content-type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api${path}`, options);
  } catch {
    throw new ApiError(0, "unreachable", "the console does not answer: is `tokengate console` still running?");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const code = (data && data.code) || `http_${response.status}`;
    throw new ApiError(response.status, code, (data && data.message) || response.statusText, data && data.details);
  }
  return data;
}

export const enc = encodeURIComponent;
export const clientsPath = (tenant) => `/admin/tenants/${enc(tenant)}/clients`;
export const clientPath = (tenant, id, action) =>
  `${clientsPath(tenant)}/${enc(id)}${action ? `/${action}` : ""}`;

// Times as the CLI prints them: UTC, to the second ("2026-11-25 09:00:00Z").
export function when(value) {
  if (!value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// The CLI's rule for --expires-at: ISO 8601; a date alone is midnight UTC, a time without zone is UTC.
export function isoUtc(text) {
  const value = text.trim();
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return `${value}T00:00:00Z`;
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)) return `${value.replace(" ", "T")}Z`;
  return value;
}

// The statuses a list shows: the API's own (active, disabled, expired, revoked) and what the page
// reads from the client's fields and usage (in grace, expiring soon, rate-limited lately).
export const DERIVED = { grace: "in grace", expiring: "expiring soon", limited: "rate-limited lately" };

export function statuses(client, settings, usage, now = Date.now()) {
  const found = [client.status];
  const graceEnds = client.rotation && client.rotation.previous_token_valid_until;
  if (client.status !== "revoked" && graceEnds && new Date(graceEnds).getTime() > now) found.push("grace");
  const warn = settings.expiry_warning_days * 86400 * 1000;
  if (client.status === "active" && client.expires_at && new Date(client.expires_at).getTime() - now < warn) {
    found.push("expiring");
  }
  if (usage && limitedCount(usage, settings) > 0) found.push("limited");
  return found;
}

export function limitedCount(usage, settings) {
  let count = 0;
  for (const bucket of usage.buckets || []) {
    for (const reason of settings.limited_reasons) count += bucket.denied[reason] || 0;
  }
  return count;
}

export const hasPolicy = (client) => Boolean(client.rate_limit || client.quota || client.allowed_cidrs);

export function StatusBadges({ names }) {
  return html`<span class="badges">${names.map(
    (name) => html`<span class="badge badge-${name}" data-status=${name}>${DERIVED[name] || name}</span>`,
  )}</span>`;
}

// An API error as the API gave it: its code and message (and each validation detail).
export function ErrorBox({ error }) {
  if (!error) return null;
  const forbidden = error.status === 403 && error.code === "forbidden";
  return html`<div class="error" role="alert" data-code=${error.code}>
    <strong>${forbidden ? "Refused" : "Error"}: </strong><code>${error.code}</code> ${error.message}
    ${error.details.length > 0 &&
    html`<ul>${error.details.map((d) => html`<li>${(d.loc || []).slice(1).join(".") || "body"}: ${d.msg}</li>`)}</ul>`}
  </div>`;
}

// The validation messages of the API that concern one field (loc ["body", field, ...]).
export function fieldErrors(error, field) {
  if (!error) return [];
  return error.details.filter((d) => Array.isArray(d.loc) && d.loc[0] === "body" && d.loc[1] === field);
}

export function FieldError({ error, field }) {
  const mine = fieldErrors(error, field);
  if (mine.length === 0) return null;
  return html`<span class="field-error" data-field=${field}>${mine.map((d) => d.msg).join("; ")}</span>`;
}

// A button that asks once more, inline (no window.confirm, which a page cannot style or test).
export function ConfirmButton({ label, question, onConfirm, busy, danger }) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return html`<button class=${danger ? "danger" : ""} disabled=${busy} onClick=${() => setAsking(true)}>
      ${label}
    </button>`;
  }
  return html`<span class="confirm" role="group" aria-label=${`confirm ${label}`}>
    <span>${question}</span>
    <button class=${danger ? "danger" : "primary"} onClick=${() => { setAsking(false); onConfirm(); }}>
      Yes, ${label.toLowerCase()}
    </button>
    <button onClick=${() => setAsking(false)}>Cancel</button>
  </span>`;
}

// A token, shown once. It lives only in the state of the page that received it: nothing stores
// it, and leaving the page (or "Done") drops it.
export function TokenOnce({ token, onDone }) {
  const [copied, setCopied] = useState("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(token);
      setCopied("Copied.");
    } catch {
      setCopied("The browser refused the clipboard: select the token and copy it.");
    }
  };
  return html`<section class="token-once" aria-label="new token">
    <p class="warning"><strong>Shown once.</strong> Store this token now: tokengate cannot show it again,
      and this page does not keep it (it is gone when you leave).</p>
    <code class="token" data-token>${token}</code>
    <div class="actions">
      <button class="primary" onClick=${copy}>Copy token</button>
      <button onClick=${onDone}>Done</button>
      <span class="note" role="status">${copied}</span>
    </div>
  </section>`;
}

// Lifecycle events, newest first, as the events endpoint gives them.
export function EventList({ events, showClient }) {
  if (events.length === 0) return html`<p class="empty">No events.</p>`;
  return html`<table class="events">
    <thead><tr><th>Time</th><th>Event</th>${showClient && html`<th>Client</th>`}<th>Actor</th><th>Changed</th></tr></thead>
    <tbody>${events.map((event) => {
      const d = event.detail || {};
      return html`<tr>
        <td>${when(event.time)}</td><td>${event["detail-type"]}</td>
        ${showClient && html`<td><a href=${`#/t/${enc(d.tenant || "")}/c/${enc(d.client_id || "")}`}>
          ${d.tenant}/${d.client_name}</a></td>`}
        <td class="actor">${d.actor}</td><td>${(d.changed || []).join(", ")}</td>
      </tr>`;
    })}</tbody>
  </table>`;
}

// Recent events of the deployment, a tenant, or one client (the server checks the caller may read it).
export function RecentEvents({ settings, tenant, clientId, limit = 20, reload = 0 }) {
  const [state, setState] = useState({ events: null, error: null });
  useEffect(() => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (tenant) query.set("tenant", tenant);
    if (clientId) query.set("client_id", clientId);
    api("GET", `/events?${query}`).then(
      (answer) => setState({ events: answer.events, error: null }),
      (error) => setState({ events: null, error }),
    );
  }, [tenant, clientId, limit, reload]);
  if (!settings.events) {
    return html`<p class="empty">This console has no source of lifecycle events (see docs/console.md).</p>`;
  }
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (state.events === null) return html`<p class="loading">Loading events…</p>`;
  return html`<${EventList} events=${state.events} showClient=${!clientId} />`;
}

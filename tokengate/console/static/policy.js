// The editable fields of a client, shared by the issue and the edit forms: form values from a
// client, and the API's body from form values. The API validates; its messages appear beside the field.
import { FieldError, html, isoUtc } from "./lib.js";

export const EMPTY = {
  scopes: "*", expires_at: "", rotation_period_days: "", grace_seconds: "", token_fetch: false,
  rps: "", burst: "", quota_limit: "", quota_period: "day", allowed_cidrs: "", on_limit: "deny",
};

export function formOf(client) {
  const rotation = client.rotation || {};
  return {
    scopes: (client.scopes || []).join("\n"),
    expires_at: client.expires_at || "",
    rotation_period_days: rotation.period_days ? String(rotation.period_days) : "",
    grace_seconds: rotation.grace_seconds !== undefined ? String(rotation.grace_seconds) : "",
    token_fetch: Boolean(client.token_fetch),
    rps: client.rate_limit ? String(client.rate_limit.requests_per_second) : "",
    burst: client.rate_limit ? String(client.rate_limit.burst) : "",
    quota_limit: client.quota ? String(client.quota.limit) : "",
    quota_period: client.quota ? client.quota.period : "day",
    allowed_cidrs: (client.allowed_cidrs || []).join("\n"),
    on_limit: client.on_limit || "deny",
  };
}

const lines = (text) => text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
// A number as typed: the API says what is wrong with it (a field left as text gets its message).
const number = (text) => (text.trim() === "" || Number.isNaN(Number(text)) ? text.trim() : Number(text));

// The API's body for these values; `blank` is what an emptied field sends (null clears on update,
// absent takes the default on issue).
export function bodyOf(form) {
  return {
    scopes: lines(form.scopes),
    expires_at: form.expires_at.trim() ? isoUtc(form.expires_at) : null,
    rotation_period_days: form.rotation_period_days.trim() ? number(form.rotation_period_days) : null,
    grace_seconds: form.grace_seconds.trim() ? number(form.grace_seconds) : null,
    token_fetch: form.token_fetch,
    rate_limit: form.rps.trim() || form.burst.trim()
      ? { requests_per_second: number(form.rps), burst: number(form.burst) } : null,
    quota: form.quota_limit.trim() ? { limit: number(form.quota_limit), period: form.quota_period } : null,
    allowed_cidrs: lines(form.allowed_cidrs).length ? lines(form.allowed_cidrs) : null,
    on_limit: form.on_limit,
  };
}

// Only what differs from `before` (a PATCH changes only the fields it names).
export function changes(before, after) {
  const old = bodyOf(before);
  const now = bodyOf(after);
  return Object.fromEntries(Object.keys(now).filter((k) => JSON.stringify(old[k]) !== JSON.stringify(now[k]))
    .map((k) => [k, now[k]]));
}

// For a new client: an emptied field is left out, so the API's default applies.
export function issueBody(name, form) {
  const body = Object.fromEntries(Object.entries(bodyOf(form)).filter(([, v]) => v !== null));
  return { client_name: name, ...body };
}

function Field({ id, label, hint, error, field, children }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children}
    ${hint && html`<span class="hint">${hint}</span>`}
    <${FieldError} error=${error} field=${field} />
  </div>`;
}

export function PolicyFields({ form, setForm, error, settings }) {
  const set = (name) => (event) => {
    const value = event.target.type === "checkbox" ? event.target.checked : event.target.value;
    setForm({ ...form, [name]: value });
  };
  const input = (name, extra = {}) => html`<input id=${`f-${name}`} name=${name} value=${form[name]}
    onInput=${set(name)} autocomplete="off" ...${extra} />`;
  return html`
    <${Field} id="f-scopes" label="Scopes" field="scopes" error=${error}
      hint=${`one per line: * or <METHOD|ANY> <path>, e.g. GET /invoke (at most ${settings.max_scopes})`}>
      <textarea id="f-scopes" name="scopes" rows="3" onInput=${set("scopes")} value=${form.scopes}></textarea>
    <//>
    <${Field} id="f-expires_at" label="Expires at" field="expires_at" error=${error}
      hint="ISO 8601, UTC unless a zone is given (2030-01-01 is midnight UTC); empty: never">
      ${input("expires_at", { placeholder: "never" })}
    <//>
    <fieldset><legend>Rotation and delivery</legend>
      <${Field} id="f-rotation_period_days" label="Rotate every (days)" field="rotation_period_days" error=${error}
        hint="empty: no schedule; a schedule needs a delivery path (token fetch, or a reader)">
        ${input("rotation_period_days", { inputmode: "numeric", placeholder: "none" })}
      <//>
      <${Field} id="f-grace_seconds" label="Grace (seconds)" field="grace_seconds" error=${error}
        hint=${`how long a rotated-out token stays valid (default ${settings.default_grace_seconds})`}>
        ${input("grace_seconds", { inputmode: "numeric", placeholder: String(settings.default_grace_seconds) })}
      <//>
      <${Field} id="f-token_fetch" label="Token fetch" field="token_fetch" error=${error}
        hint="the client may fetch its current token at GET /token with the one it holds">
        <input id="f-token_fetch" type="checkbox" checked=${form.token_fetch} onChange=${set("token_fetch")} />
      <//>
    </fieldset>
    <fieldset><legend>Usage policy</legend>
      <${Field} id="f-rps" label="Rate limit" field="rate_limit" error=${error}
        hint="requests a second, and a burst at once; both empty: no rate limit">
        <span class="pair">${input("rps", { placeholder: "per second", "aria-label": "requests per second" })}
          ${input("burst", { placeholder: "burst", "aria-label": "burst" })}</span>
      <//>
      <${Field} id="f-quota_limit" label="Quota" field="quota" error=${error} hint="allowed requests per day or month (UTC); empty: none">
        <span class="pair">${input("quota_limit", { placeholder: "limit" })}
          <select id="f-quota_period" aria-label="quota period" value=${form.quota_period} onChange=${set("quota_period")}>
            ${settings.quota_periods.map((p) => html`<option value=${p}>per ${p}</option>`)}
          </select></span>
      <//>
      <${Field} id="f-allowed_cidrs" label="Allowed networks" field="allowed_cidrs" error=${error}
        hint=${`one CIDR per line, e.g. 203.0.113.0/24 (at most ${settings.max_cidrs}); empty: anywhere`}>
        <textarea id="f-allowed_cidrs" name="allowed_cidrs" rows="2" onInput=${set("allowed_cidrs")}
          value=${form.allowed_cidrs}></textarea>
      <//>
      <${Field} id="f-on_limit" label="On limit" field="on_limit" error=${error}
        hint="deny: 403 from the stage; tell_integration: the integration answers 429 with Retry-After">
        <select id="f-on_limit" value=${form.on_limit} onChange=${set("on_limit")}>
          ${settings.on_limit.map((o) => html`<option value=${o}>${o}</option>`)}
        </select>
      <//>
    </fieldset>`;
}

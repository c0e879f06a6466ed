// A tenant's guardrails, read only: the limits every client keeps, and the live clients that break
// them (set with `tokengate guardrails set`, where who may loosen them is IAM's to say).
import { ErrorBox, api, enc, html, useEffect, useState, when } from "./lib.js";

const days = (value) => (value == null ? "no limit" : `${value} days`);

function policyText(policy) {
  if (!policy) return "none";
  const parts = [];
  if (policy.rate_limit) parts.push(`${policy.rate_limit.requests_per_second}/s, burst ${policy.rate_limit.burst}`);
  if (policy.quota) parts.push(`${policy.quota.limit} a ${policy.quota.period}`);
  if (policy.allowed_cidrs) parts.push(`from ${policy.allowed_cidrs.join(", ")}`);
  return `${parts.join("; ")} (on limit: ${policy.on_limit})`;
}

export function GuardrailsPage({ tenant }) {
  const [view, setView] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("GET", `/admin/tenants/${enc(tenant)}/guardrails`).then(setView, setError);
  }, [tenant]);
  if (error) return html`<section><h1>Guardrails of <span class="tenant">${tenant}</span></h1><${ErrorBox} error=${error} /></section>`;
  if (!view) return html`<p class="loading">Loading guardrails…</p>`;
  const rails = view.guardrails;
  return html`<section class="guardrails">
    <h1>Guardrails of <span class="tenant">${tenant}</span></h1>
    <p class="note">Version ${view.version}${view.updated_at ? html`, set ${when(view.updated_at)} by ${view.updated_by}` : ""}.
      Loosened by ${view.loosening === "deployment_admins" ? "deployment admins only" : "tenant admins"};
      set with <code>tokengate guardrails set --tenant ${tenant} ...</code></p>
    <dl class="fields">
      <dt>Max lifetime</dt><dd data-rail="max_lifetime_days">${days(rails.max_lifetime_days)}</dd>
      <dt>Max rotation period</dt><dd data-rail="max_rotation_period_days">${days(rails.max_rotation_period_days)}</dd>
      <dt>Allowed scopes</dt><dd data-rail="allowed_scopes">${rails.allowed_scopes ? rails.allowed_scopes.join(", ") : "any"}</dd>
      <dt>Default usage policy</dt><dd data-rail="default_usage_policy">${policyText(rails.default_usage_policy)}</dd>
    </dl>
    <h2>Clients that break them</h2>
    ${!view.violations_complete && html`<p class="note">Not every client was examined.</p>`}
    ${view.violations.length === 0
      ? html`<p class="empty">No live client breaks them.</p>`
      : html`<p class="note">They keep working; their next update must comply.</p>
        <table class="violations"><thead><tr><th>Name</th><th>Client id</th><th>Breaks</th></tr></thead>
        <tbody>${view.violations.map((v) => html`<tr data-violation=${v.client_id}>
          <td><a href=${`#/t/${enc(tenant)}/c/${enc(v.client_id)}`}>${v.client_name}</a></td>
          <td><code>${v.client_id}</code></td><td>${v.problems.join("; ")}</td></tr>`)}</tbody></table>`}
  </section>`;
}

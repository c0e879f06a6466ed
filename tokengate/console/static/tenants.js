// The tenant picker. Recent tenants are remembered in localStorage: tenant ids only, never a token.
import { html, useState } from "./lib.js";

const RECENT_KEY = "tokengate.console.recentTenants";
const MAX_RECENT = 8;

export function recentTenants(settings) {
  let stored = [];
  try {
    stored = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
  } catch {
    stored = [];
  }
  const pattern = new RegExp(settings.patterns.tenant);
  return Array.isArray(stored) ? stored.filter((t) => typeof t === "string" && pattern.test(t)) : [];
}

export function rememberTenant(settings, tenant) {
  const recent = [tenant, ...recentTenants(settings).filter((t) => t !== tenant)].slice(0, MAX_RECENT);
  localStorage.setItem(RECENT_KEY, JSON.stringify(recent));
}

export function TenantPicker({ settings }) {
  const [value, setValue] = useState("");
  const [problem, setProblem] = useState("");
  const recent = recentTenants(settings);
  const open = (event) => {
    event.preventDefault();
    const tenant = value.trim();
    if (!new RegExp(settings.patterns.tenant).test(tenant)) {
      setProblem("A tenant id is 1 to 63 lowercase letters, digits and '-', starting with a letter or digit.");
      return;
    }
    location.hash = `#/t/${encodeURIComponent(tenant)}`;
  };
  return html`<section class="tenants">
    <h1>Tenants</h1>
    <p>Open a tenant to see its clients. What you see and may change is what your identity may do in the
      admin API: a tenant-scoped admin is refused on other tenants.</p>
    <form onSubmit=${open} class="inline">
      <label for="tenant">Tenant id</label>
      <input id="tenant" name="tenant" value=${value} placeholder="acme" autocomplete="off"
        aria-invalid=${problem ? "true" : null} onInput=${(e) => { setValue(e.target.value); setProblem(""); }} />
      <button class="primary" type="submit">Open</button>
      ${problem && html`<span class="field-error" data-field="tenant">${problem}</span>`}
    </form>
    <h2>Recent</h2>
    ${recent.length === 0
      ? html`<p class="empty">No tenant opened yet in this browser.</p>`
      : html`<ul class="recent">${recent.map(
        (t) => html`<li><a href=${`#/t/${encodeURIComponent(t)}`}>${t}</a></li>`,
      )}</ul>`}
  </section>`;
}

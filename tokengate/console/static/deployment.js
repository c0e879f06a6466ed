// The deployment: its signing keys (rotate), its token prefix and scanner pattern, its recent events.
import { ConfirmButton, ErrorBox, RecentEvents, api, html, useEffect, useState, when } from "./lib.js";

function Keys({ view }) {
  return html`<table class="keys">
    <thead><tr><th>Key</th><th>Added</th><th>Signs new tokens</th></tr></thead>
    <tbody>${view.keys.map((k) => html`<tr>
      <td>${k.name}</td><td>${k.added_at ? when(k.added_at) : "with the stack"}</td><td>${k.signing ? "yes" : "no"}</td>
    </tr>`)}</tbody>
  </table>
  ${view.legacy_key_ids > 0 && html`<p class="note">Untagged tokens are still accepted for ${view.legacy_key_ids}
    client(s) (see <code>tokengate migrate</code>).</p>`}`;
}

export function DeploymentPage({ settings }) {
  const [view, setView] = useState(null);
  const [error, setError] = useState(null);
  const [note, setNote] = useState("");
  const [changed, setChanged] = useState(0);
  useEffect(() => {
    api("GET", "/admin/keys").then(setView, setError);
  }, []);
  const rotate = async () => {
    setError(null);
    try {
      const answer = await api("POST", "/admin/keys/rotate");
      setView(answer);
      setNote(`Added ${answer.keys[answer.keys.length - 1].name}: it signs new tokens once every authorizer has
        loaded it (within 5 minutes); the older keys keep verifying.`);
      setChanged((n) => n + 1);
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<section class="deployment">
    <h1>Deployment</h1>
    <p>Admin API <code>${settings.target}</code>, every call signed with ${settings.signed_as}.</p>
    <section aria-label="signing keys"><h2>Signing keys</h2>
      <${ErrorBox} error=${error} />
      ${view ? html`<${Keys} view=${view} />` : !error && html`<p class="loading">Loading keys…</p>`}
      <div class="actions">
        <${ConfirmButton} label="Rotate signing keys"
          question="Add a signing key? New tokens are tagged with it; every existing token keeps working."
          onConfirm=${rotate} />
        <span class="note" role="status">${note}</span>
      </div>
    </section>
    <section aria-label="token format"><h2>Tokens</h2>
      <dl class="fields">
        <dt>Prefix</dt><dd><code data-prefix>${settings.token_prefix}</code></dd>
        <dt>Scanner pattern</dt><dd><code data-pattern>${settings.scanner_pattern}</code>
          <span class="hint">the regular expression to enrol with GitHub's secret scanning</span></dd>
      </dl>
    </section>
    <section aria-label="events"><h2>Recent lifecycle events</h2>
      <p class="note">From ${settings.events || "nowhere"}.</p>
      <${RecentEvents} settings=${settings} limit=${50} reload=${changed} />
    </section>
  </section>`;
}

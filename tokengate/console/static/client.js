// One client: every field; edit it; rotate, disable/enable, revoke/restore; its usage and events.
import {
  ConfirmButton, ErrorBox, RecentEvents, StatusBadges, TokenOnce, api, clientPath, enc, html, statuses, useEffect,
  useState, when,
} from "./lib.js";
import { PolicyFields, changes, formOf } from "./policy.js";
import { UsageChart } from "./usage.js";

function value(v) {
  if (v === null || v === undefined || v === "") return html`<span class="note">none</span>`;
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "object") return html`<code>${JSON.stringify(v)}</code>`;
  if (/^\d{4}-\d{2}-\d{2}T/.test(String(v))) return when(v);
  return String(v);
}

// Every field the API shows, rotation's flattened, in the API's own order.
function Fields({ client }) {
  const rows = Object.entries(client).flatMap(([k, v]) =>
    k === "rotation" && v ? Object.entries(v).map(([r, rv]) => [`rotation.${r}`, rv]) : [[k, v]]);
  return html`<dl class="fields">${rows.map(([k, v]) => html`<dt>${k}</dt><dd data-field=${k}>${value(v)}</dd>`)}</dl>`;
}

function EditForm({ tenant, client, settings, onSaved }) {
  const [form, setForm] = useState(formOf(client));
  const [error, setError] = useState(null);
  const [note, setNote] = useState("");
  const save = async (event) => {
    event.preventDefault();
    const body = changes(formOf(client), form);
    setError(null);
    if (Object.keys(body).length === 0) {
      setNote("Nothing to change.");
      return;
    }
    try {
      // The saved client remounts this form (its key): the note goes to the page.
      onSaved(await api("PATCH", clientPath(tenant, client.client_id), body), Object.keys(body));
    } catch (failure) {
      setError(failure);
      setNote("");
    }
  };
  return html`<form class="stacked" onSubmit=${save} novalidate aria-label="edit client">
    <${PolicyFields} form=${form} setForm=${setForm} error=${error} settings=${settings} />
    <${ErrorBox} error=${error} />
    <div class="actions">
      <button class="primary" type="submit">Save changes</button>
      <button type="button" onClick=${() => { setForm(formOf(client)); setError(null); setNote(""); }}>Reset</button>
      <span class="note" role="status">${note}</span>
    </div>
  </form>`;
}

function Actions({ tenant, client, act, busy }) {
  const name = client.client_name;
  if (client.status === "revoked") {
    return html`<div class="actions">
      <${ConfirmButton} label="Restore" busy=${busy} question=${`Restore ${name}? Its last token works again.`}
        onConfirm=${() => act("POST", "restore")} />
    </div>`;
  }
  return html`<div class="actions">
    <${ConfirmButton} label="Rotate" busy=${busy}
      question=${`Rotate ${name}? The new token is shown once; the old one stays valid for the grace window.`}
      onConfirm=${() => act("POST", "rotate")} />
    ${client.enabled
      ? html`<${ConfirmButton} label="Disable" busy=${busy} question=${`Disable ${name}? Its token stops working.`}
          onConfirm=${() => act("PATCH", null, { enabled: false })} />`
      : html`<${ConfirmButton} label="Enable" busy=${busy} question=${`Enable ${name}?`}
          onConfirm=${() => act("PATCH", null, { enabled: true })} />`}
    <${ConfirmButton} label="Revoke" danger=${true} busy=${busy}
      question=${`Revoke ${name}? Its token stops working (restorable during the recovery window).`}
      onConfirm=${() => act("DELETE")} />
  </div>`;
}

export function ClientPage({ tenant, clientId, settings }) {
  const [client, setClient] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [token, setToken] = useState(null); // a rotation's new token: this page's state only
  const [changed, setChanged] = useState(0); // reloads the events after a change
  const [saved, setSaved] = useState("");
  useEffect(() => {
    api("GET", clientPath(tenant, clientId)).then(setClient, setError);
  }, [tenant, clientId]);

  const act = async (method, action, body) => {
    setBusy(true);
    setSaved("");
    setError(null);
    try {
      const answer = await api(method, clientPath(tenant, clientId, action), body);
      if (answer.token) setToken(answer.token);
      setClient(answer.client || answer);
      setChanged((n) => n + 1);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  if (!client) return error ? html`<${ErrorBox} error=${error} />` : html`<p class="loading">Loading the client…</p>`;
  return html`<section class="client">
    <div class="title-row">
      <h1>${client.client_name} <${StatusBadges} names=${statuses(client, settings, null)} /></h1>
      <a href=${`#/t/${enc(tenant)}`}>All clients of ${tenant}</a>
    </div>
    <${Actions} tenant=${tenant} client=${client} act=${act} busy=${busy} />
    <${ErrorBox} error=${error} />
    ${token && html`<${TokenOnce} token=${token} onDone=${() => setToken(null)} />`}
    <div class="columns">
      <section aria-label="fields"><h2>Fields</h2><${Fields} client=${client} /></section>
      <section aria-label="edit"><h2>Edit</h2>
        ${client.status === "revoked"
          ? html`<p class="empty">A revoked client cannot be edited: restore it first.</p>`
          : html`<${EditForm} key=${JSON.stringify(client)} tenant=${tenant} client=${client} settings=${settings}
              onSaved=${(c, names) => {
                setClient(c);
                setChanged((n) => n + 1);
                setSaved(`Saved: ${names.join(", ")}. The authorizer sees it within its cache TTL.`);
              }} />`}
        <p class="note" role="status">${saved}</p>
      </section>
    </div>
    <${UsageChart} tenant=${tenant} client=${client} />
    <section aria-label="events"><h2>Recent events</h2>
      <${RecentEvents} settings=${settings} tenant=${tenant} clientId=${clientId} reload=${changed} />
    </section>
  </section>`;
}

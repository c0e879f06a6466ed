// Issue a client. The answer's token is shown once (TokenOnce) and lives only in this page's state.
import { ErrorBox, FieldError, TokenOnce, api, clientsPath, enc, html, useState } from "./lib.js";
import { EMPTY, PolicyFields, issueBody } from "./policy.js";

export function IssuePage({ tenant, settings }) {
  const [name, setName] = useState("");
  const [form, setForm] = useState(EMPTY);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [issued, setIssued] = useState(null); // { client, token }: never stored anywhere else

  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const answer = await api("POST", clientsPath(tenant), issueBody(name.trim(), form));
      setIssued({ client: answer.client, token: answer.token });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  if (issued) {
    const link = `#/t/${enc(tenant)}/c/${enc(issued.client.client_id)}`;
    return html`<section class="issue">
      <h1>Issued <span class="tenant">${issued.client.client_name}</span></h1>
      <p>Client id <code>${issued.client.client_id}</code> in tenant ${tenant}.</p>
      <${TokenOnce} token=${issued.token} onDone=${() => { location.hash = link; }} />
      <p><a href=${link}>Go to the client</a></p>
    </section>`;
  }
  return html`<section class="issue">
    <h1>Issue a client in <span class="tenant">${tenant}</span></h1>
    <form onSubmit=${submit} class="stacked" novalidate>
      <div class="field">
        <label for="f-client_name">Name</label>
        <input id="f-client_name" name="client_name" value=${name} required autocomplete="off"
          placeholder="my-first-client" onInput=${(e) => setName(e.target.value)} />
        <span class="hint">unique in the tenant: letters, digits, '.', '_' and '-', up to 64</span>
        <${FieldError} error=${error} field="client_name" />
      </div>
      <${PolicyFields} form=${form} setForm=${setForm} error=${error} settings=${settings} />
      <${ErrorBox} error=${error} />
      <div class="actions">
        <button class="primary" type="submit" disabled=${busy}>Issue</button>
        <a href=${`#/t/${enc(tenant)}`}>Cancel</a>
      </div>
    </form>
  </section>`;
}

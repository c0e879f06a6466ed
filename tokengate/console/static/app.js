// The console's shell: the settings, the header, and the routes (all in the URL's fragment, which
// never reaches a server and never holds a token).
import { ApiError, ErrorBox, api, html, render, useEffect, useState } from "./lib.js";
import { TenantPicker } from "./tenants.js";
import { ClientList } from "./clients.js";
import { ClientPage } from "./client.js";
import { IssuePage } from "./issue.js";
import { DeploymentPage } from "./deployment.js";
import { GuardrailsPage } from "./guardrails.js";

// #/  #/deployment  #/t/<tenant>  #/t/<tenant>/new  #/t/<tenant>/guardrails  #/t/<tenant>/c/<client id>
function parse(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "deployment") return { page: "deployment" };
  if (parts[0] === "t" && parts[1]) {
    if (parts[2] === "new") return { page: "issue", tenant: parts[1] };
    if (parts[2] === "guardrails") return { page: "guardrails", tenant: parts[1] };
    if (parts[2] === "c" && parts[3]) return { page: "client", tenant: parts[1], clientId: parts[3] };
    return { page: "clients", tenant: parts[1] };
  }
  return { page: "tenants" };
}

function useRoute() {
  const [route, setRoute] = useState(parse(location.hash));
  useEffect(() => {
    const changed = () => setRoute(parse(location.hash));
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

function Page({ route, settings }) {
  const tenantOk = !route.tenant || new RegExp(settings.patterns.tenant).test(route.tenant);
  if (!tenantOk) {
    const error = new ApiError(400, "invalid_tenant", `${route.tenant} is not a tenant id`);
    return html`<${ErrorBox} error=${error} />`;
  }
  // key: a new route is a new page, so nothing (a token above all) carries over from the last one.
  const key = `${route.page}/${route.tenant || ""}/${route.clientId || ""}`;
  switch (route.page) {
    case "deployment":
      return html`<${DeploymentPage} key=${key} settings=${settings} />`;
    case "clients":
      return html`<${ClientList} key=${key} settings=${settings} tenant=${route.tenant} />`;
    case "guardrails":
      return html`<${GuardrailsPage} key=${key} tenant=${route.tenant} />`;
    case "issue":
      return html`<${IssuePage} key=${key} settings=${settings} tenant=${route.tenant} />`;
    case "client":
      return html`<${ClientPage} key=${key} settings=${settings} tenant=${route.tenant} clientId=${route.clientId} />`;
    default:
      return html`<${TenantPicker} key=${key} settings=${settings} />`;
  }
}

function App() {
  const route = useRoute();
  const [settings, setSettings] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("GET", "/settings").then(setSettings, setError);
  }, []);
  if (error) return html`<main><${ErrorBox} error=${error} /></main>`;
  if (!settings) return html`<p class="loading">Loading the console…</p>`;
  return html`
    <header>
      <a class="brand" href="#/">tokengate console</a>
      <nav>
        <a href="#/" aria-current=${route.page === "tenants" ? "page" : null}>Tenants</a>
        ${route.tenant && html`<a href=${`#/t/${encodeURIComponent(route.tenant)}`}
          aria-current=${route.page === "clients" ? "page" : null}>Clients of ${route.tenant}</a>`}
        <a href="#/deployment" aria-current=${route.page === "deployment" ? "page" : null}>Deployment</a>
      </nav>
      <span class="target" title="every call is signed with ${settings.signed_as}">
        ${settings.target} · signed with ${settings.signed_as}
      </span>
    </header>
    <main><${Page} route=${route} settings=${settings} /></main>`;
}

render(html`<${App} />`, document.getElementById("app"));

// A client's usage: allowed and denied requests (by reason) per hour over a day, or per day over 30
// days, as stacked bars (Chart.js), with the same numbers as a table.
import { ErrorBox, api, clientPath, html, useEffect, useRef, useState, when } from "./lib.js";

const SPAN = { hour: { step: 3600e3, count: 24 }, day: { step: 86400e3, count: 30 } };
const COLORS = {
  allowed: "#2f855a", rate_limited: "#c05621", quota_exhausted: "#b7791f", ip_not_allowed: "#9b2c2c",
};
const OTHER_COLORS = ["#6b46c1", "#2b6cb0", "#718096"];

// Every period of the span, oldest first, with the report's counts (zero where it has none).
export function series(report, granularity, now = Date.now()) {
  const { step, count } = SPAN[granularity];
  const last = Math.floor(now / step) * step;
  const byStart = new Map(report.buckets.map((b) => [new Date(b.start).getTime(), b]));
  const reasons = [...new Set(report.buckets.flatMap((b) => Object.keys(b.denied)))].sort();
  const periods = Array.from({ length: count }, (_, i) => last - (count - 1 - i) * step);
  return {
    labels: periods.map((t) => (granularity === "hour" ? when(t).slice(11, 16) : when(t).slice(5, 10))),
    allowed: periods.map((t) => (byStart.get(t) ? byStart.get(t).allowed : 0)),
    denied: Object.fromEntries(reasons.map((r) => [r, periods.map((t) => (byStart.get(t)?.denied[r]) || 0)])),
  };
}

function datasets(data) {
  return [
    { label: "allowed", data: data.allowed, backgroundColor: COLORS.allowed, stack: "requests" },
    ...Object.entries(data.denied).map(([reason, counts], i) => ({
      label: `denied: ${reason}`, data: counts, stack: "requests",
      backgroundColor: COLORS[reason] || OTHER_COLORS[i % OTHER_COLORS.length],
    })),
  ];
}

function Bars({ data, granularity }) {
  const canvas = useRef(null);
  useEffect(() => {
    const chart = new window.Chart(canvas.current, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets(data) },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: true, title: { display: true, text: granularity === "hour" ? "hour (UTC)" : "day (UTC)" } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    });
    return () => chart.destroy();
  }, [data, granularity]);
  return html`<div class="chart-box"><canvas ref=${canvas} role="img"
    aria-label="allowed and denied requests per period"></canvas></div>`;
}

export function UsageChart({ tenant, client }) {
  const [granularity, setGranularity] = useState("hour");
  const [reload, setReload] = useState(0);
  const [state, setState] = useState({ report: null, error: null });
  useEffect(() => {
    let live = true;
    api("GET", `${clientPath(tenant, client.client_id, "usage")}?granularity=${granularity}`).then(
      (report) => live && setState({ report, error: null }),
      (error) => live && setState({ report: null, error }),
    );
    return () => { live = false; };
  }, [tenant, client.client_id, granularity, reload]);
  // The report drawn is the one received, at its own granularity (not the one being asked for).
  const report = state.report;
  const data = report && series(report, report.granularity);
  const allowed = report ? report.buckets.reduce((n, b) => n + b.allowed, 0) : 0;
  const denied = data ? Object.entries(data.denied).map(([r, c]) => [r, c.reduce((a, b) => a + b, 0)]) : [];
  return html`<section class="usage" aria-label="usage">
    <div class="title-row">
      <h2>Usage</h2>
      <span class="toolbar">
        <label for="granularity">Per</label>
        <select id="granularity" value=${granularity} onChange=${(e) => setGranularity(e.target.value)}>
          <option value="hour">hour, last 24 hours</option>
          <option value="day">day, last 30 days</option>
        </select>
        <button onClick=${() => setReload(reload + 1)}>Refresh</button>
      </span>
    </div>
    <${ErrorBox} error=${state.error} />
    ${report && html`
      <p class="totals" data-granularity=${report.granularity} data-allowed=${allowed} data-denied=${denied.reduce((n, [, c]) => n + c, 0)}>
        ${allowed} allowed${denied.map(([r, c]) => html`, <span data-reason=${r}>${c} ${r}</span>`)}
      </p>
      <${Bars} data=${data} granularity=${report.granularity} />
      <p class="note">${report.notice}</p>
      <details><summary>As a table</summary>
        <table><thead><tr><th>Start</th><th>Allowed</th><th>Denied by reason</th></tr></thead>
        <tbody>${report.buckets.map((b) => html`<tr><td>${when(b.start)}</td><td>${b.allowed}</td>
          <td>${Object.entries(b.denied).map(([r, c]) => `${r} ${c}`).join(", ")}</td></tr>`)}</tbody></table>
      </details>`}
  </section>`;
}

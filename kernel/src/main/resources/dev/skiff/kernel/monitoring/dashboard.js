"use strict";
const API = "/monitoring/api/services";
const COLOURS = ["#1565c0", "#ef6c00", "#6a1b9a", "#00838f", "#558b2f", "#ad1457"];
// Printable.keepingLines's rule (platform-layer), the one the server-rendered pages and the command line follow:
// control (Cc) and format (Cf) characters (ESC, BEL, bidi overrides, zero-width), line and paragraph separators,
// lone surrogates and unassigned code points are shown as \uXXXX (each UTF-16 unit); line feeds and tabs are kept.
// A service's text can then neither reorder nor hide what its panel says (PrintableAgreementTest checks the two agree).
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Cn}]/gu;
const printable = s => String(s ?? "").replace(UNSAFE, c => c === "\n" || c === "\t" ? c
  : [...Array(c.length).keys()].map(i => "\\u" + c.charCodeAt(i).toString(16).padStart(4, "0")).join(""));
const esc = s => printable(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c]));
const num = v => Number(v ?? 0);
const fmt = (v, d) => num(v).toFixed(d);
const ago = ms => { const s = Math.max(0, Math.round((Date.now() - ms) / 1000)); return s < 60 ? s + " s ago" : Math.round(s / 60) + " min ago"; };

function graph(seriesList, field, slaField, unit) {
  const W = 260, H = 70, P = 4;
  let max = 0, t0 = Infinity, t1 = -Infinity, sla = 0;
  for (const s of seriesList) {
    sla = Math.max(sla, num(s[slaField]));
    for (const p of (s.points || [])) { max = Math.max(max, num(p[field])); const t = num(p.epochMillis); t0 = Math.min(t0, t); t1 = Math.max(t1, t); }
  }
  const top = Math.max(max, sla);
  max = top * 1.15 || 1;
  if (t1 <= t0) { t0 = t1 - 1000; }
  const x = t => P + (W - 2 * P) * (t - t0) / (t1 - t0), y = v => H - P - (H - 2 * P) * v / max;
  let out = `<svg viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" data-field="${field}">`;
  if (sla > 0) { out += `<line x1="0" x2="${W}" y1="${y(sla)}" y2="${y(sla)}" stroke="#c62828" stroke-dasharray="4 3" stroke-width="1"><title>SLA ${fmt(sla, 1)} ${unit}</title></line>`; }
  seriesList.forEach((s, i) => {
    const pts = (s.points || []).map(p => `${x(num(p.epochMillis)).toFixed(1)},${y(num(p[field])).toFixed(1)}`).join(" ");
    if (pts) { out += `<polyline fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.6" points="${pts}"><title>${esc(s.instance)}</title></polyline>`; }
  });
  out += `<text x="${P + 2}" y="11" font-size="9" fill="#666">max ${fmt(top, 1)} ${unit}</text></svg>`;
  return out;
}

// where an instance's configuration came from, from the config layer's gauges (docs/configuration.md):
// "config version N, live" (from the config service) or "..., last good copy"; "-" for one not following it
function configState(g) {
  if (!("skiff.config.version" in g)) { return "-"; }
  const version = num(g["skiff.config.version"]), live = num(g["skiff.config.live"]) === 1, refused = num(g["skiff.config.refused"]);
  const state = live ? "live" : version > 0 ? "last good copy" : "its own settings only";
  return `<span class="${live ? "ok" : "bad"}">config version ${esc(version)}, ${esc(state)}</span>`
    + (refused > 0 ? ` <span class="bad">(${esc(refused)} refused)</span>` : "");
}

function panel(svc) {
  const instances = svc.instances || [];
  const live = instances.filter(i => !i.stale);
  const versions = [...new Set(instances.map(i => i.latest.version).filter(Boolean))];
  const desc = instances.length ? instances[0].latest.description : "";
  let h = `<section class="svc" data-service="${esc(svc.name)}" data-status="${esc(svc.status)}">`
    + `<h2><span>${esc(svc.name)}</span><span class="status">${esc(svc.status)}</span></h2><div class="body">`
    + `<div class="meta">${live.length} of ${instances.length} instance${instances.length === 1 ? "" : "s"} live · version ${esc(versions.join(", ") || "?")}${desc ? " · " + esc(desc) : ""}</div>`;
  if ((svc.failing || []).length) {
    h += `<ul class="failing">` + svc.failing.map(f => `<li class="failing-check">${esc(f)}</li>`).join("") + `</ul>`;
  }
  h += `<table class="instances"><tr><th>instance</th><th>version</th><th>health</th><th>in flight</th><th>config</th><th>last report</th></tr>`;
  for (const i of instances) {
    const r = i.latest, g = r.gauges || {};
    const state = i.stale ? "stale" : r.healthy ? "healthy" : "unhealthy";
    h += `<tr><td>${esc(r.instance)}</td><td>${esc(r.version)}</td><td class="${state === "healthy" ? "ok" : "bad"}">${state}</td>`
      + `<td>${num(g["skiff.server.in-flight"])}/${num(g["skiff.server.concurrency"])}</td><td class="config">${configState(g)}</td>`
      + `<td>${ago(num(i.receivedEpochMillis))}</td></tr>`;
  }
  h += `</table>`;
  const byEndpoint = {};
  for (const s of (svc.series || [])) { (byEndpoint[s.name] = byEndpoint[s.name] || []).push(s); }
  for (const [name, list] of Object.entries(byEndpoint)) {
    let rate = 0, err = 0, mean = 0, p95 = 0;
    for (const s of list) {
      const last = (s.points || [])[s.points.length - 1] || {};
      rate += num(last.rate); err += num(last.errorRate); mean = Math.max(mean, num(last.meanMillis)); p95 = Math.max(p95, num(last.p95Millis));
    }
    const slaP95 = Math.max(...list.map(s => num(s.slaP95Millis)));
    // who may call it, and how many were refused, from each live instance's latest report
    let access = "", unauthorized = 0, forbidden = 0;
    for (const i of live) {
      const st = (i.latest.endpoints || []).find(e => e.name === name && e.side === "server");
      if (st) {
        access = access || st.access || "";
        const codes = st.errorsByCode || {};
        unauthorized += num(codes.UNAUTHORIZED); forbidden += num(codes.FORBIDDEN);
      }
    }
    h += `<div class="ep" data-endpoint="${esc(name)}"><h3>${esc(name)}</h3><div class="nums">${fmt(rate, 1)} req/s · ${fmt(err, 2)} errors/s · mean ${fmt(mean, 1)} ms · p95 ${fmt(p95, 1)} ms`
      + (slaP95 > 0 ? ` · SLA p95 ${fmt(slaP95, 1)} ms` : "") + `</div>`
      + (access ? `<div class="access">open to ${esc(access)}`
        + (unauthorized + forbidden > 0 ? ` · <span class="bad refused">refused ${unauthorized + forbidden} (${unauthorized} not signed in, ${forbidden} not allowed)</span>` : "")
        + `</div>` : "")
      + `<div class="graphs"><div class="graph"><div class="label">requests/s · ${span(list)}</div>${graph(list, "rate", "", "/s")}</div>`
      + `<div class="graph"><div class="label">p95 latency (ms) · ${span(list)}</div>${graph(list, "p95Millis", "slaP95Millis", "ms")}</div></div>`
      + (list.length > 1 ? `<div class="legend">` + list.map((s, i) => `<span style="color:${COLOURS[i % COLOURS.length]}">■ ${esc(s.instance)}</span>`).join("") + `</div>` : "")
      + `</div>`;
  }
  h += `<details><summary>all checks</summary><table><tr><th>instance</th><th>check</th><th>priority</th><th>result</th><th>took</th></tr>`;
  for (const i of instances) {
    for (const c of (i.latest.checks || [])) {
      h += `<tr><td>${esc(i.latest.instance)}</td><td>${esc(c.name)}</td><td>${esc(c.priority)}</td>`
        + `<td class="${c.healthy ? "ok" : "bad"}">${c.healthy ? "ok" : "FAILING"}: ${esc(c.message)}${c.error ? " (" + esc(c.error) + ")" : ""}</td><td>${fmt(num(c.durationMicros) / 1000, 1)} ms</td></tr>`;
    }
  }
  h += `</table></details></div></section>`;
  return h;
}

// how long the graphs' lines run, from the points' times: "last 40 s", "last 4 min"
function span(seriesList) {
  let t0 = Infinity, t1 = -Infinity;
  for (const s of seriesList) { for (const p of (s.points || [])) { const t = num(p.epochMillis); t0 = Math.min(t0, t); t1 = Math.max(t1, t); } }
  if (!(t1 > t0)) { return "latest report"; }
  const secs = Math.round((t1 - t0) / 1000);
  return secs < 120 ? `last ${secs} s` : `last ${Math.round(secs / 60)} min`;
}

// Brings a live node to what a freshly built one says, changing only what differs: text a person selected
// and a "details" table they opened stay as they were across refreshes ("open" is theirs, never the page's).
function morph(live, fresh) {
  if (live.nodeType !== Node.ELEMENT_NODE) {
    if (live.nodeValue !== fresh.nodeValue) { live.nodeValue = fresh.nodeValue; }
    return;
  }
  for (const a of [...live.attributes]) {
    if (!fresh.hasAttribute(a.name) && !(a.name === "open" && live.localName === "details")) { live.removeAttribute(a.name); }
  }
  for (const a of [...fresh.attributes]) {
    if (live.getAttribute(a.name) !== a.value) { live.setAttribute(a.name, a.value); }
  }
  morphChildren(live, fresh);
}

// morph for the children alone: a panel is matched by its service, never turned into another service's
function morphChildren(live, fresh) {
  const was = [...live.childNodes], now = [...fresh.childNodes];
  now.forEach((n, i) => {
    const w = was[i];
    if (!w) { live.appendChild(n); }
    else if (w.nodeType === n.nodeType && w.nodeName === n.nodeName
        && (w.nodeType !== Node.ELEMENT_NODE || w.getAttribute("data-service") === n.getAttribute("data-service"))) { morph(w, n); }
    else { live.replaceChild(n, w); }
  });
  for (let i = now.length; i < was.length; i++) { live.removeChild(was[i]); }
}

// what went wrong with the last refresh, shown above the panels, which are marked stale ("" when all is well)
function problem(text, signIn) {
  const box = document.getElementById("problem");
  const main = document.getElementById("services");
  if (!text) {
    box.hidden = true;
    box.replaceChildren();
    main.removeAttribute("data-stale");
    return;
  }
  box.replaceChildren(text);
  if (signIn) {
    const a = document.createElement("a");
    a.href = "/signin?next=" + encodeURIComponent(location.pathname + location.search);
    a.id = "sign-in";
    a.textContent = "Sign in again";
    box.append(" ", a);
  }
  box.hidden = false;
  main.setAttribute("data-stale", "true");
}

let updated = null; // when the panels were last brought up to date

function render(overview) {
  const services = overview.services || [];
  const main = document.getElementById("services");
  const bad = services.filter(s => s.status === "unhealthy").length;
  updated = new Date();
  document.getElementById("summary").textContent =
    `${services.length} service${services.length === 1 ? "" : "s"} · ${bad} unhealthy · updated ${updated.toLocaleTimeString()}`;
  const fresh = document.createElement("main");
  fresh.innerHTML = services.length ? services.map(panel).join("") : `<div class="empty">No service has published its health yet.</div>`;
  morphChildren(main, fresh);
  problem("");
}

async function refresh() {
  const asOf = updated ? ` The panels below are as of ${updated.toLocaleTimeString()}, not current.` : "";
  let r;
  try {
    r = await fetch(API, {cache: "no-store", credentials: "same-origin"});
  } catch (e) {
    problem(`Cannot reach the kernel's monitoring service (${e.message}).${asOf}`);
    return;
  }
  if (r.status === 401) {
    problem(`Your session on these pages has ended: sign in again to see current health.${asOf}`, true);
  } else if (r.status === 403) {
    problem(`You are signed in without role ADMIN.PAGES, which the dashboard needs.${asOf}`);
  } else if (!r.ok) {
    problem(`The monitoring service answered ${r.status} ${r.statusText}.${asOf}`);
  } else {
    try {
      render(await r.json());
    } catch (e) {
      problem(`The monitoring service's answer could not be read (${e.message}).${asOf}`);
    }
  }
}
refresh();
setInterval(refresh, 2000);

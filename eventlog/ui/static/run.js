// A run's page: what it was run with, how it ended, what it left behind, and its events, paged.
"use strict";

const params = new URLSearchParams(location.search);
const experiment = params.get("experiment");
const run = Number(params.get("run"));
const EVENTS_PAGE = 100;
let eventsOffset = 0;
const $ = (id) => document.getElementById(id);

function keyValues(object, format) {
  const entries = Object.entries(object || {});
  if (!entries.length) return EL.el("p", { class: "muted" }, "none");
  return EL.el("table", { class: "kv" }, EL.el("tbody", {}, entries.map(([key, value]) =>
    EL.el("tr", {}, EL.el("th", {}, key), EL.el("td", {}, format ? format(value) : show(value))))));
}

function show(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return EL.number(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function artifactHref(artifact, file) {
  return `api/artifact?${new URLSearchParams({ experiment, run, key: artifact.key, index: artifact.index, ...(file ? { file } : {}) })}`;
}

function renderArtifacts(artifacts) {
  if (!artifacts.length) return EL.el("p", { class: "muted" }, "none");
  const rows = artifacts.map((a) => {
    let target;
    if (a.format === "dir") {
      target = EL.el("ul", {}, (a.files || []).map((f) => EL.el("li", {}, EL.el("a", { href: artifactHref(a, f.relpath), download: "" }, f.relpath), ` (${EL.bytes(f.size)})`)));
    } else {
      target = EL.el("a", { href: artifactHref(a), download: "" }, a.format === "json" ? `${a.key}.json` : a.filename || a.key);
    }
    return EL.el("tr", {}, EL.el("td", {}, a.key), EL.el("td", {}, a.format), EL.el("td", { class: "num" }, EL.bytes(a.size)),
      EL.el("td", {}, EL.time(a.time)), EL.el("td", {}, target));
  });
  return EL.el("table", {}, EL.el("thead", {}, EL.el("tr", {}, ["name", "format", "size", "logged", "download"].map((h) => EL.el("th", {}, h)))),
    EL.el("tbody", {}, rows));
}

async function loadRun() {
  const detail = await EL.get("api/run", { experiment, run });
  const s = detail.summary;
  document.title = `eventlog: ${experiment} ${run}`;
  $("title").textContent = `${experiment} / run ${run}`;
  $("curves-link").href = `./#${new URLSearchParams({ experiment, runs: `${experiment}:${run}` })}`;
  $("overview").replaceChildren(EL.el("table", { class: "kv" }, EL.el("tbody", {},
    EL.el("tr", {}, EL.el("th", {}, "status"), EL.el("td", {}, EL.el("span", { class: `status ${s.status}` }, s.status))),
    EL.el("tr", {}, EL.el("th", {}, "start"), EL.el("td", {}, EL.time(s.start))),
    EL.el("tr", {}, EL.el("th", {}, "end"), EL.el("td", {}, EL.time(s.end))),
    EL.el("tr", {}, EL.el("th", {}, "duration"), EL.el("td", {}, EL.duration(s.duration_s))),
    EL.el("tr", {}, EL.el("th", {}, "node / user"), EL.el("td", {}, `${s.node || ""} / ${s.userid || ""}`)))));
  const stop = detail.stop;
  if (stop && (stop.error || stop.traceback)) {
    $("stop").hidden = false;
    $("stop").replaceChildren(EL.el("h2", {}, `stopped: ${stop.status}`), EL.el("p", { class: "error" }, stop.error || ""),
      stop.traceback ? EL.el("pre", { class: "traceback" }, stop.traceback) : null);
  }
  $("params").replaceChildren(keyValues(detail.params));
  $("metrics").replaceChildren(keyValues(detail.metrics, (m) => `${EL.number(m.value)}${m.step !== null ? ` @ step ${m.step}` : ""}`));
  $("tags").replaceChildren(keyValues({ ...detail.tags, ...detail.extras }));
  $("artifacts").replaceChildren(renderArtifacts(detail.artifacts));
  const system = Object.entries(detail.system);
  $("system").replaceChildren(system.length ? EL.el("details", {}, EL.el("summary", {}, `${system.length} entr${system.length === 1 ? "y" : "ies"}`),
    EL.el("pre", {}, JSON.stringify(detail.system, null, 2))) : EL.el("p", { class: "muted" }, "none (log it with exp.log_system())"));
}

async function loadEvents() {
  const page = await EL.get("api/events", {
    experiment, run, event: $("event-filter").value, key: $("key-filter").value, offset: eventsOffset, limit: EVENTS_PAGE,
  });
  $("events").tHead.replaceChildren(EL.el("tr", {}, page.columns.map((c) => EL.el("th", {}, c))));
  $("events").tBodies[0].replaceChildren(...page.rows.map((values) => EL.el("tr", {}, values.map((v, i) => {
    const text = page.columns[i] === "dt" ? new Date(v).toISOString() : EL.cell(v, page.types[i], page.columns[i]);
    return EL.el("td", { class: page.types[i] === "number" ? "num" : "", title: text.length > 60 ? text : null }, text.length > 120 ? text.slice(0, 119) + "…" : text);
  }))));
  const last = Math.min(eventsOffset + page.rows.length, page.total);
  $("events-info").textContent = page.total ? `${eventsOffset + 1}–${last} of ${page.total}` : "no events match";
  $("events-prev").disabled = eventsOffset === 0;
  $("events-next").disabled = last >= page.total;
}

function fail(error) {
  $("message").textContent = error.message;
  $("message").className = "error";
}

let timer = null;
const reloadEvents = () => { clearTimeout(timer); timer = setTimeout(() => { eventsOffset = 0; loadEvents().catch(fail); }, 300); };
$("event-filter").addEventListener("input", reloadEvents);
$("key-filter").addEventListener("input", reloadEvents);
$("events-prev").addEventListener("click", () => { eventsOffset = Math.max(0, eventsOffset - EVENTS_PAGE); loadEvents().catch(fail); });
$("events-next").addEventListener("click", () => { eventsOffset += EVENTS_PAGE; loadEvents().catch(fail); });
loadRun().catch(fail);
loadEvents().catch(fail);

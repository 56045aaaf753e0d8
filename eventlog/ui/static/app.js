// The runs table and the curves of the selected runs: one uPlot chart per key, one line per run.
//
// The server folds, filters, sorts and pages the runs; it downsamples every curve to ~2 points per
// pixel of the chart's width keeping the extremes. Live: the table is asked for again every few
// seconds (the server answers from its cached fold unless the store changed) and the curves with
// `since=<watermark>`, which reads only files that changed; new points are appended past each
// series' last x. Zooming (drag on a chart) asks for the zoomed range at full width; a double
// click goes back to the whole curve.
"use strict";

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
const POLL_MS = 3000;
const PAGE = 100;

const state = {
  experiment: "*",
  filter: "",
  sort: null,
  offset: 0,
  table: null,             // the last /api/runs answer
  rows: new Map(),         // run id -> row object of the runs seen (for labels and status)
  selected: [],            // run ids ("experiment:run") in the order they were selected
  hidden: new Set(JSON.parse(localStorage.getItem("eventlog.hidden") || "[]")),
  charts: new Map(),       // key -> {plot, div, series: [{id, x, y}], zoom: [min, max] | null}
  watermark: null,
  curvesVersion: 0,        // bumps on every full reload, so that stale answers are dropped
  polling: false,
};

const $ = (id) => document.getElementById(id);
const runId = (experiment, run) => `${experiment}:${run}`;
const colorOf = (id) => PALETTE[state.selected.indexOf(id) % PALETTE.length];

function message(text, isError) {
  const node = $("message");
  node.textContent = text || "";
  node.className = isError ? "error" : "muted";
}

// ---- the runs table ---------------------------------------------------------------------------

async function loadExperiments() {
  const info = await EL.get("api/info");
  $("store").textContent = info.store;
  const { experiments } = await EL.get("api/experiments");
  $("experiments").replaceChildren(EL.el("option", { value: "*" }, `all ${experiments.length}`),
    ...experiments.map((name) => EL.el("option", { value: name })));
  const wanted = new URLSearchParams(location.hash.slice(1)).get("experiment");
  state.experiment = wanted || (experiments.length === 1 ? experiments[0] : "*");
  $("experiment").value = state.experiment;
}

async function loadRuns() {
  try {
    const table = await EL.get("api/runs", {
      experiment: state.experiment, q: state.filter, sort: state.sort, offset: state.offset, limit: PAGE,
    });
    state.table = table;
    renderRuns();
    message(`${table.matched} of ${table.total} runs` + (table.running ? `, ${table.running} running` : ""));
  } catch (error) {
    message(error.message, true);
  }
}

function rowObject(table, values) {
  const row = {};
  table.columns.forEach((name, i) => { row[name] = values[i]; });
  return row;
}

function renderRuns() {
  const table = state.table;
  const shown = table.columns.map((name, i) => ({ name, i, type: table.types[i] }))
    .filter((c) => !state.hidden.has(c.name) || c.name === "run");
  const arrow = (name) => state.sort === name ? " ▲" : state.sort === `-${name}` ? " ▼" : "";
  const head = EL.el("tr", {}, EL.el("th", {}, ""),
    ...shown.map((c) => EL.el("th", { class: c.type === "number" ? "num" : "", title: `sort by ${c.name}`, onclick: () => sortBy(c.name) },
      c.name.replace(/^(param|metric|tag)\./, (p) => p[0] + "."), arrow(c.name))));
  $("runs-table").tHead.replaceChildren(head);
  const body = table.rows.map((values) => {
    const row = rowObject(table, values);
    const id = runId(row.experiment, row.run);
    state.rows.set(id, row);
    const selected = state.selected.includes(id);
    const box = EL.el("input", { type: "checkbox", checked: selected, "aria-label": `select ${id}` });
    box.addEventListener("change", () => toggle(id));
    const cells = shown.map((c) => {
      const text = EL.cell(values[c.i], c.type, c.name);
      if (c.name === "run") return EL.el("td", { class: "num" }, EL.el("a", { href: EL.runHref(row.experiment, row.run) }, text));
      if (c.name === "status") return EL.el("td", {}, EL.el("span", { class: `status ${text}` }, text));
      return EL.el("td", { class: c.type === "number" ? "num" : "", title: text.length > 24 ? text : null }, text);
    });
    const tr = EL.el("tr", { "data-run": id, class: selected ? "selected" : "" }, EL.el("td", {}, box), ...cells);
    if (selected) tr.style.setProperty("--run-color", colorOf(id));
    tr.addEventListener("click", (event) => {
      if (event.target.tagName !== "INPUT" && event.target.tagName !== "A") toggle(id);
    });
    return tr;
  });
  $("runs-table").tBodies[0].replaceChildren(...body);
  const last = Math.min(table.offset + table.rows.length, table.matched);
  $("page-info").textContent = table.matched ? `${table.offset + 1}–${last} of ${table.matched}` : "no runs match";
  $("prev").disabled = table.offset === 0;
  $("next").disabled = last >= table.matched;
  renderColumnsPanel();
}

function sortBy(name) {
  state.sort = state.sort === name ? `-${name}` : state.sort === `-${name}` ? null : name;
  state.offset = 0;
  loadRuns();
}

function renderColumnsPanel() {
  const panel = $("columns-panel");
  if (panel.hidden || !state.table) return;
  panel.replaceChildren(...state.table.all_columns.filter((c) => c !== "run").map((name) => {
    const box = EL.el("input", { type: "checkbox", checked: !state.hidden.has(name) });
    box.addEventListener("change", () => {
      if (box.checked) state.hidden.delete(name); else state.hidden.add(name);
      localStorage.setItem("eventlog.hidden", JSON.stringify([...state.hidden]));
      renderRuns();
    });
    return EL.el("label", {}, box, name);
  }));
}

function toggle(id) {
  const at = state.selected.indexOf(id);
  if (at >= 0) state.selected.splice(at, 1); else state.selected.push(id);
  saveHash();
  renderRuns();
  loadCurves();
}

function saveHash() {
  const params = new URLSearchParams();
  params.set("experiment", state.experiment);
  if (state.selected.length) params.set("runs", state.selected.join(","));
  if ($("key").value !== "*") params.set("key", $("key").value);
  history.replaceState(null, "", `#${params}`);
}

// ---- the curves -------------------------------------------------------------------------------

function chartWidth() {
  const charts = $("charts");
  const columns = charts.clientWidth > 1100 ? 2 : 1;
  return Math.max(300, Math.floor((charts.clientWidth - 16 * (columns - 1)) / columns) - 12);  // the chart box has 10 px of padding and border
}

function smooth(ys, weight) {
  // TensorBoard's debiased exponential moving average
  if (!weight) return ys;
  const out = new Array(ys.length);
  let last = 0, count = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) { out[i] = y; continue; }
    last = last * weight + (1 - weight) * y;
    count++;
    out[i] = last / (1 - Math.pow(weight, count));
  }
  return out;
}

function label(id) {
  const row = state.rows.get(id);
  const name = row && row["tag.name"];
  return name ? `${id} ${name}` : id;
}

function chartData(chart) {
  const weight = Number($("smooth").value);
  const log = $("logscale").checked;
  const tables = chart.series.map((s) => {
    let ys = smooth(s.y, weight);
    if (log) ys = ys.map((y) => (y !== null && y > 0 ? y : null));
    return weight ? [s.x, s.y.map((y) => (log && !(y > 0) ? null : y)), ys] : [s.x, ys];
  });
  if (!tables.length) return [[]];
  return uPlot.join(tables);
}

function chartSeries(chart) {
  const weight = Number($("smooth").value);
  const series = [{}];
  for (const s of chart.series) {
    const color = colorOf(s.id);
    if (weight) series.push({ label: `${label(s.id)} (raw)`, stroke: color + "40", width: 1, spanGaps: true, raw: true, points: { show: false } });
    series.push({ label: label(s.id), stroke: color, width: 1.5, spanGaps: true, points: { show: false } });
  }
  return series;
}

function makePlot(key, chart) {
  const x = $("xaxis").value;
  const options = {
    title: key,
    width: chartWidth(),
    height: 260,
    scales: {
      x: { time: x === "time" },
      y: $("logscale").checked ? { distr: 3 } : {},
    },
    axes: [{ label: x === "step" ? "step" : x === "relative" ? "seconds since start" : "" }, {}],
    series: chartSeries(chart),
    legend: { live: true },
    cursor: {
      drag: { x: true, y: false },
      bind: {
        dblclick: () => () => { chart.zoom = null; reloadKey(key); return null; },
      },
    },
    hooks: {
      setSelect: [(u) => {
        if (u.select.width < 5) return;
        const min = u.posToVal(u.select.left, "x"), max = u.posToVal(u.select.left + u.select.width, "x");
        chart.zoom = [min, max];
        u.setSelect({ width: 0, height: 0 }, false);
        reloadKey(key);
      }],
    },
  };
  chart.div.replaceChildren();
  chart.plot = new uPlot(options, chartData(chart), chart.div);
  // the raw lines under smoothed ones need no legend entry of their own
  const rows = chart.plot.root.querySelectorAll(".u-legend .u-series");
  options.series.forEach((s, i) => { if (s.raw && rows[i]) rows[i].classList.add("raw"); });
}

function draw(key) {
  const chart = state.charts.get(key);
  if (chart.plot) chart.plot.destroy();
  makePlot(key, chart);
  if (chart.zoom) chart.plot.setScale("x", { min: chart.zoom[0], max: chart.zoom[1] });
}

function seriesOf(answer) {
  const byKey = new Map();
  for (const s of answer.series) {
    const id = runId(s.experiment, s.run);
    if (!byKey.has(s.key)) byKey.set(s.key, []);
    byKey.get(s.key).push({ id, x: s.x, y: s.y, points: s.points });
  }
  return byKey;
}

async function loadCurves() {
  const version = ++state.curvesVersion;
  saveHash();
  const info = $("selection-info");
  if (!state.selected.length) {
    state.charts.forEach((c) => c.plot && c.plot.destroy());
    state.charts.clear();
    $("charts").replaceChildren();
    info.textContent = "select runs in the table to see their curves";
    return;
  }
  info.textContent = `${state.selected.length} run(s) selected: loading…`;
  try {
    const answer = await EL.get("api/curves", {
      run: state.selected, key: $("key").value || "*", x: $("xaxis").value, width: chartWidth(),
    });
    if (version !== state.curvesVersion) return;
    state.watermark = answer.watermark;
    state.charts.forEach((c) => c.plot && c.plot.destroy());
    state.charts.clear();
    const container = $("charts");
    container.replaceChildren();
    for (const [key, series] of seriesOf(answer)) {
      const div = EL.el("div", { class: "chart", "data-key": key });
      container.append(div);
      state.charts.set(key, { div, series: orderSeries(series), zoom: null, plot: null });
      draw(key);
    }
    const points = answer.series.reduce((n, s) => n + s.x.length, 0);
    const total = answer.series.reduce((n, s) => n + s.points, 0);
    info.textContent = `${state.selected.length} run(s), ${answer.keys.length} key(s): ${points.toLocaleString()} of ${total.toLocaleString()} points drawn`;
    if (!answer.keys.length) info.textContent = `${state.selected.length} run(s): no metric matches ${$("key").value}`;
  } catch (error) {
    info.textContent = error.message;
    info.className = "error";
  }
}

function orderSeries(series) {
  return series.sort((a, b) => state.selected.indexOf(a.id) - state.selected.indexOf(b.id));
}

// A filter that matches exactly this key, even when the key itself holds glob characters.
function exactKey(key) {
  if (!/[*?[]/.test(key) && !key.startsWith("re:")) return key;
  return `re:^${key.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;
}

async function reloadKey(key) {
  const chart = state.charts.get(key);
  const zoom = chart.zoom;
  const answer = await EL.get("api/curves", {
    run: chart.series.map((s) => s.id), key: exactKey(key),
    x: $("xaxis").value, width: chartWidth(), xmin: zoom ? zoom[0] : null, xmax: zoom ? zoom[1] : null,
  });
  const fresh = seriesOf(answer).get(key) || [];
  chart.series = orderSeries(fresh);
  draw(key);
}

async function poll() {
  if (state.polling || !$("live").checked) return;
  state.polling = true;
  try {
    await loadRuns();
    if (state.selected.length && state.watermark !== null && state.charts.size) {
      const version = state.curvesVersion;
      const answer = await EL.get("api/curves", {
        run: state.selected, key: $("key").value || "*", x: $("xaxis").value, width: chartWidth(), since: state.watermark,
      });
      if (version !== state.curvesVersion) return;
      state.watermark = answer.watermark ?? state.watermark;
      let grew = false;
      for (const [key, series] of seriesOf(answer)) {
        const chart = state.charts.get(key);
        if (!chart) { loadCurves(); return; }   // a new key appeared: draw everything again
        for (const fresh of series) {
          let known = chart.series.find((s) => s.id === fresh.id);
          if (!known) { known = { id: fresh.id, x: [], y: [] }; chart.series.push(known); orderSeries(chart.series); }
          const lastX = known.x.length ? known.x[known.x.length - 1] : -Infinity;
          fresh.x.forEach((x, i) => {
            if (x > lastX) { known.x.push(x); known.y.push(fresh.y[i]); grew = true; }
          });
        }
        if (grew) {
          const tooMany = chart.series.some((s) => s.x.length > 6 * chartWidth());
          if (tooMany) reloadKey(key); else if (chart.plot && chart.plot.series.length === chartSeries(chart).length) chart.plot.setData(chartData(chart), !chart.zoom); else draw(key);
        }
      }
    }
  } catch (error) {
    message(error.message, true);
  } finally {
    state.polling = false;
  }
}

// ---- wiring -----------------------------------------------------------------------------------

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

async function main() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("key")) $("key").value = hash.get("key");
  if (hash.get("runs")) state.selected = hash.get("runs").split(",").filter(Boolean);
  await loadExperiments();
  $("experiment").addEventListener("change", () => { state.experiment = $("experiment").value || "*"; state.offset = 0; saveHash(); loadRuns(); });
  $("filter").addEventListener("input", debounce(() => { state.filter = $("filter").value; state.offset = 0; loadRuns(); }, 300));
  $("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); loadRuns(); });
  $("next").addEventListener("click", () => { state.offset += PAGE; loadRuns(); });
  $("clear-selection").addEventListener("click", () => { state.selected = []; renderRuns(); loadCurves(); });
  $("columns-button").addEventListener("click", () => { $("columns-panel").hidden = !$("columns-panel").hidden; renderColumnsPanel(); });
  $("key").addEventListener("input", debounce(loadCurves, 400));
  $("xaxis").addEventListener("change", loadCurves);
  $("logscale").addEventListener("change", () => state.charts.forEach((_, key) => draw(key)));
  $("smooth").addEventListener("input", () => {
    $("smooth-value").textContent = $("smooth").value;
    state.charts.forEach((_, key) => draw(key));
  });
  window.addEventListener("resize", debounce(loadCurves, 500));
  await loadRuns();
  if (state.selected.length) loadCurves();
  setInterval(poll, POLL_MS);
}

main().catch((error) => message(error.message, true));

// What both pages share: fetching the JSON API, formatting values, building DOM without innerHTML.
"use strict";

const EL = {
  // Fetch an API path (relative to the page) and return its JSON; throws an Error with the server's message.
  async get(path, params) {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params || {})) {
      if (value === undefined || value === null || value === "") continue;
      if (Array.isArray(value)) value.forEach((v) => query.append(name, v));
      else query.append(name, value);
    }
    const response = await fetch(`${path}?${query}`, { credentials: "same-origin" });
    const body = await response.json().catch(() => ({ error: response.statusText }));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  },

  // An element with attributes and children (strings become text nodes: data is never parsed as HTML).
  el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  },

  number(value) {
    if (value === null || value === undefined) return "";
    if (typeof value !== "number") return String(value);
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-4 || abs >= 1e7)) return value.toExponential(4);
    return String(Number(value.toPrecision(6)));
  },

  time(ms) {
    if (ms === null || ms === undefined) return "";
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  },

  duration(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return `${Number(seconds.toPrecision(3))} s`;
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return h ? `${h}h ${m}m ${r}s` : `${m}m ${r}s`;
  },

  // A cell's text by its column's kind (number, time, bool, text) and name.
  cell(value, type, name) {
    if (name === "duration_s") return EL.duration(value);
    if (type === "time") return EL.time(value);
    if (type === "number") return EL.number(value);
    if (value === null || value === undefined) return "";
    return String(value);
  },

  bytes(n) {
    if (n === null || n === undefined) return "";
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  },

  // The URL of a run's page.
  runHref(experiment, run) {
    return `run?${new URLSearchParams({ experiment, run })}`;
  },
};

// The ops page: reads the JSON endpoints with the ops token in the
// Authorization header (never a cookie) and renders everything as text
// nodes (never as HTML), so nothing from a message can run here.
"use strict";

const KEY = "xoev-ops-token";
const $ = (id) => document.getElementById(id);

function token() {
  return sessionStorage.getItem(KEY);
}

// A token in the URL fragment (#token=…) is taken once and removed from
// the address bar; the fragment is never sent to the server.
function takeTokenFromFragment() {
  const m = /^#token=(.+)$/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
}

async function api(method, path) {
  const r = await fetch(path, {
    method,
    headers: { Authorization: "Bearer " + token(), Accept: "application/json" },
    cache: "no-store",
    credentials: "omit",
  });
  let body = null;
  try {
    body = await r.json();
  } catch (_) {
    body = null;
  }
  if (r.status === 401) {
    sessionStorage.removeItem(KEY);
    showLogin("The ops token was not accepted.");
    throw new Error("unauthenticated");
  }
  if (!r.ok && !(body && body.replayed)) {
    const detail = body && (body.detail || body.kind) ? body.kind + ": " + body.detail : "HTTP " + r.status;
    throw new Error(detail);
  }
  return body;
}

function cell(tr, value, cls) {
  const td = document.createElement("td");
  td.textContent = value === null || value === undefined ? "" : String(value);
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function rate(x) {
  return typeof x === "number" ? x.toFixed(1) : "";
}

function time(secs) {
  return typeof secs === "number" ? new Date(secs * 1000).toISOString().replace(".000", "") : "";
}

function fill(tableId, rows, render) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren();
  for (const row of rows) {
    const tr = document.createElement("tr");
    render(tr, row);
    body.appendChild(tr);
  }
}

function status(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function showLogin(text) {
  $("content").hidden = true;
  $("login").hidden = false;
  status(text || "Enter the ops token.", Boolean(text));
  document.body.dataset.state = "login";
}

function renderHealth(h) {
  const rows = [
    ["Overall", h.healthy ? "ok" : "unhealthy", h.healthy],
    ["AMQP", h.amqp ? "connected" : h.amqp_error || "down", h.amqp],
    ["Management API", h.management === null ? "not configured" : h.management ? "reachable" : h.management_error || "down", h.management !== false],
    ["Alarm", h.alarm || "none", !h.alarm],
  ];
  fill("health", rows, (tr, [name, text, good]) => {
    cell(tr, name);
    cell(tr, text, good ? "ok" : "bad");
  });
}

function renderQueues(q) {
  $("queues-note").textContent = q.management_error ? "Management API: " + q.management_error : "";
  fill("queues", q.queues, (tr, s) => {
    cell(tr, s.name);
    cell(tr, s.exists ? s.role : s.role + " (missing)", s.exists ? "" : "bad");
    cell(tr, s.authority);
    cell(tr, s.ready, "num");
    cell(tr, s.unacked, "num");
    cell(tr, s.consumers, "num");
    cell(tr, rate(s.publish_rate), "num");
    cell(tr, rate(s.deliver_rate), "num");
    cell(tr, s.oldest_message_age_secs, "num");
  });
}

function renderDeadLetters(list) {
  const shown = list.items.length;
  $("dlq-count").textContent = "(" + list.total + " in " + list.queue + (list.truncated ? ", first " + shown + " shown" : "") + ")";
  fill("dlq", list.items, (tr, d) => {
    tr.dataset.id = d.id;
    cell(tr, d.id);
    cell(tr, d.sender);
    cell(tr, d.reader);
    cell(tr, d.message_type);
    cell(tr, d.stage);
    cell(tr, d.reason_kind);
    cell(tr, d.reason, "reason");
    cell(tr, d.attempts, "num");
    cell(tr, d.replays, "num");
    cell(tr, time(d.failed_at));
    const td = document.createElement("td");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "replay";
    b.textContent = "Replay";
    b.dataset.id = d.id;
    b.addEventListener("click", () => replay(b));
    td.appendChild(b);
    tr.appendChild(td);
  });
  const recent = list.items
    .slice()
    .sort((a, b) => (b.failed_at || 0) - (a.failed_at || 0))
    .slice(0, 10);
  fill("recent", recent, (tr, d) => {
    cell(tr, time(d.failed_at));
    cell(tr, d.stage);
    cell(tr, d.reason_kind);
    cell(tr, d.reason, "reason");
    cell(tr, d.sender);
    cell(tr, d.message_type);
  });
}

async function load() {
  if (!token()) {
    showLogin();
    return;
  }
  document.body.dataset.state = "loading";
  try {
    const [h, q, l] = await Promise.all([
      api("GET", "/ops/health"),
      api("GET", "/ops/queues"),
      api("GET", "/ops/dlq"),
    ]);
    renderHealth(h);
    renderQueues(q);
    renderDeadLetters(l);
    $("login").hidden = true;
    $("content").hidden = false;
    $("updated").textContent = "updated " + new Date().toISOString().replace(/\.\d+Z$/, "Z");
    document.body.dataset.state = "loaded";
  } catch (e) {
    if (e.message !== "unauthenticated") {
      status("Loading failed: " + e.message, true);
      document.body.dataset.state = "error";
    }
  }
}

async function replay(button) {
  const id = button.dataset.id;
  button.disabled = true;
  document.body.dataset.state = "replaying";
  try {
    const r = await api("POST", "/ops/dlq/" + encodeURIComponent(id) + "/replay");
    const n = r.replayed.length;
    if (r.stopped) {
      status("Replay of " + id + " stopped: " + r.stopped.kind + ": " + r.stopped.message, true);
    } else {
      status("Replayed " + id + " (" + n + " message" + (n === 1 ? "" : "s") + ").", false);
    }
  } catch (e) {
    if (e.message !== "unauthenticated") status("Replay of " + id + " failed: " + e.message, true);
  }
  await load();
}

document.addEventListener("DOMContentLoaded", () => {
  takeTokenFromFragment();
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $("token").value);
    $("token").value = "";
    status("", false);
    load();
  });
  $("refresh").addEventListener("click", load);
  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    showLogin();
  });
  load();
  setInterval(() => {
    if (token() && document.body.dataset.state === "loaded") load();
  }, 15000);
});

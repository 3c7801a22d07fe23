// taskora board: a small single page over the board's JSON API. Every value from the API is put in the page
// as text (never as HTML). Live: one EventSource; a batch of engine events re-reads the page being shown.
"use strict";

const STATES = ["waiting", "active", "delayed", "completed", "failed", "expired", "cancelled"];
const PAGE = 50;
let session = { csrf: null, readOnly: true };
let liveSource = null;
let refreshTimer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// One formatter for every date on a page (toLocaleString builds a new one per call: ~100 per page).
const DATES = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "numeric", day: "numeric",
                                                   hour: "numeric", minute: "numeric", second: "numeric" });
const when = (ms) => (ms ? DATES.format(new Date(Number(ms))) : "-");
const shown = (value) => (value === null || value === undefined ? "-" : JSON.stringify(value, null, 2));
const stateCell = (state) => el("span", { class: "state-" + state }, state || "-");
const jobLink = (id) => el("a", { href: "#/job/" + encodeURIComponent(id) }, id);

async function api(path, options) {
  const response = await fetch("api/" + path, { credentials: "same-origin", ...options });
  if (response.status === 401) { showLogin(); throw new Error("unauthorized"); }
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

async function act(path, confirmText) {
  if (confirmText && !window.confirm(confirmText)) return;
  try {
    const body = await api(path, { method: "POST", headers: { "X-CSRF-Token": session.csrf || "" } });
    toast("done: " + JSON.stringify(body));
  } catch (error) {
    toast("refused: " + error.message);
  }
  render();
}

function toast(text) {
  let box = document.getElementById("toast");
  if (!box) { box = el("div", { id: "toast" }); document.body.append(box); }
  box.textContent = text;
  clearTimeout(box.timer);
  box.timer = setTimeout(() => box.remove(), 4000);
}

function button(label, path, confirmText, danger) {
  if (session.readOnly) return null;
  return el("button", { class: danger ? "danger" : null, "data-action": label,
                        onclick: () => act(path, confirmText) }, label);
}

// -- pages ------------------------------------------------------------------------------------------
function chart(rows) {
  const top = Math.max(1, ...rows.map((r) => r.completed + r.failed));
  return el("div", { class: "chart", id: "chart" },
    rows.map((r) => el("div", { title: when(r.minute) + ": " + r.completed + " completed, " + r.failed + " failed" },
      el("span", { class: "c", style: "height:" + (90 * r.completed / top) + "px" }),
      el("span", { class: "f", style: "height:" + (90 * r.failed / top) + "px" }))));
}

function cards(counts, link) {
  return el("div", { class: "cards" }, STATES.map((s) => el(link ? "a" : "div",
    { class: "card", href: link ? link(s) : null, "data-state": s }, el("b", {}, counts[s] ?? 0), s)));
}

let lastDay = false;  // the overview's chart: the last hour per minute, or the last 24 hours per hour

function perHour(rows) {
  const hours = new Map();
  for (const r of rows) {
    const hour = r.minute - (r.minute % 3600000);
    const sum = hours.get(hour) || { minute: hour, completed: 0, failed: 0 };
    sum.completed += r.completed; sum.failed += r.failed;
    hours.set(hour, sum);
  }
  return [...hours.values()];
}

async function overview() {
  const data = await api("overview?minutes=" + (lastDay ? 1440 : 60));
  const sum = data.throughput.reduce((a, r) => [a[0] + r.completed, a[1] + r.failed], [0, 0]);
  const toggle = el("a", { href: "#/", id: "range", onclick: (e) => { e.preventDefault(); lastDay = !lastDay; render(); } },
                    lastDay ? "show the last hour" : "show the last 24 hours");
  return [el("h1", {}, "Overview"), cards(data.totals),
    el("h2", {}, "Throughput (" + (lastDay ? "last 24 hours, per hour" : "last hour, per minute") + "): " + sum[0] +
      " completed, " + sum[1] + " failed ", el("small", {}, toggle)),
    chart(lastDay ? perHour(data.throughput) : data.throughput),
    el("h2", {}, "Tasks"),
    el("table", { id: "tasks" }, el("tr", {}, el("th", {}, "task"), STATES.map((s) => el("th", { class: "num" }, s))),
      Object.entries(data.tasks).map(([name, counts]) => el("tr", { "data-task": name },
        el("td", {}, el("a", { href: "#/task/" + encodeURIComponent(name) + "/waiting/0" }, name)),
        STATES.map((s) => el("td", { class: "num", "data-state": s },
          el("a", { href: "#/task/" + encodeURIComponent(name) + "/" + s + "/0" }, counts[s])))))),
    el("h2", {}, "Workers online: " + data.workers.length),
    el("p", { class: "muted" }, data.workers.join(", ") || "none answered"),
    el("p", { class: "muted" }, "broker: " + data.broker)];
}

const FINISHED = ["completed", "failed", "expired", "cancelled"];
// The age typed in "Clean by age": a live refresh draws the page again, and must not put the box back to 1h.
let cleanAge = "1h";

// "Clean by age": delete this task's jobs in a finished state that finished longer ago than the age typed.
function cleanControl(name, state) {
  if (session.readOnly || !FINISHED.includes(state)) return null;
  const age = el("input", { id: "clean-age", value: cleanAge, size: "6", title: "an age: 30s, 15m, 1h, 7d (0: all)",
                            oninput: () => { cleanAge = age.value; } });
  const path = () => "tasks/" + encodeURIComponent(name) + "/clean?state=" + state +
                     "&olderThan=" + encodeURIComponent(age.value.trim());
  return el("span", { class: "clean" }, "finished more than ", age, " ago: ",
    el("button", { class: "danger", "data-action": "Clean", id: "clean",
                   onclick: () => act(path(), "Delete every " + state + " job of " + name + " that finished more than " +
                                               age.value.trim() + " ago?") }, "Clean"));
}

async function taskPage(name, state, offset) {
  const data = await api("tasks/" + encodeURIComponent(name) + "/jobs?state=" + state + "&offset=" + offset +
                         "&limit=" + PAGE);
  const base = "#/task/" + encodeURIComponent(name) + "/";
  const tabs = cards(data.counts, (s) => base + s + "/0");
  tabs.querySelector('[data-state="' + state + '"]').classList.add("active-tab");
  const last = Math.min(offset + data.jobs.length, data.total);
  return [el("h1", {}, "Task " + name), tabs, chart(data.throughput),
    el("div", { class: "actions" },
      state === "failed" ? button("Retry all failed", "dlq/retry-all?task=" + encodeURIComponent(name),
                                  "Retry every failed job of " + name + "?") : null,
      state === "waiting" || state === "delayed" ? button("Purge waiting and delayed",
        "tasks/" + encodeURIComponent(name) + "/purge", "Delete every waiting and delayed job of " + name + "?",
        true) : null,
      cleanControl(name, state)),
    el("table", { id: "jobs" }, el("tr", {}, ["id", "state", "attempt", "created", "finished", "error"]
      .map((h) => el("th", {}, h))),
      data.jobs.map((j) => el("tr", { "data-job": j.id }, el("td", {}, jobLink(j.id)), el("td", {}, stateCell(j.state)),
        el("td", {}, j.attempt), el("td", {}, when(j.timestamp)), el("td", {}, when(j.finishedOn)),
        el("td", { class: "error" }, j.error || "")))),
    el("div", { class: "pager" },
      offset > 0 ? el("a", { href: base + state + "/" + Math.max(0, offset - PAGE) }, "← newer") : null,
      el("span", { class: "muted" }, data.total ? (offset + 1) + "–" + last + " of " + data.total : "no jobs"),
      last < data.total ? el("a", { href: base + state + "/" + (offset + PAGE), id: "next" }, "older →") : null)];
}

async function jobPage(id) {
  const job = await api("jobs/" + encodeURIComponent(id));
  const progress = typeof job.progress === "number"
    ? el("div", { class: "progress" }, el("span", { style: "width:" + Math.min(100, job.progress) + "%" }))
    : el("pre", {}, shown(job.progress));
  const actions = el("div", { class: "actions" },
    job.state === "failed" ? button("Retry", "jobs/" + encodeURIComponent(id) + "/retry") : null,
    ["waiting", "delayed", "active"].includes(job.state)
      ? button("Cancel", "jobs/" + encodeURIComponent(id) + "/cancel", "Cancel job " + id + "?", true)
      : button("Delete", "jobs/" + encodeURIComponent(id) + "/delete", "Delete job " + id + " for good?", true));
  return [el("h1", {}, "Job " + id),
    el("p", {}, "task ", el("a", { href: "#/task/" + encodeURIComponent(job.task) + "/" + job.state + "/0" }, job.task),
      " · state ", el("b", { id: "job-state", class: "state-" + job.state }, job.state),
      " · attempt " + job.attempt + (job.maxAttempts ? " of " + job.maxAttempts : ""),
      " · version " + job.version),
    job.workflow ? el("p", {}, "part of workflow ", el("a", { href: "#/workflow/" + encodeURIComponent(job.workflow),
                                                          id: "workflow-link" }, job.workflow),
                      " (node " + job.workflowNode + ")") : null,
    actions,
    el("h2", {}, "Timeline"),
    el("ul", {}, job.timeline.map(([what, at]) => el("li", {}, what + ": " + when(at)))),
    job.error ? [el("h2", {}, "Error"), el("pre", { id: "error", class: "error" }, job.error)] : null,
    job.traceback ? [el("h2", {}, "Traceback"), el("pre", { id: "traceback" }, job.traceback)] : null,
    el("h2", {}, "Data"), el("pre", { id: "data" }, shown(job.data)),
    el("h2", {}, "Result"), el("pre", { id: "result" }, shown(job.result)),
    el("h2", {}, "Progress"), progress,
    el("h2", {}, "Logs (" + job.logs.length + ")"),
    el("pre", { id: "logs" }, job.logs.map((l) => JSON.stringify(l)).join("\n") || "-")];
}

async function deadLetters() {
  const data = await api("dlq");
  return [el("h1", {}, "Dead letters (" + data.total + " failed)"),
    el("div", { class: "actions" },
      button("Retry all", "dlq/retry-all", "Retry every failed job?"),
      button("Purge", "dlq/purge", "Delete every failed, expired and cancelled job?", true)),
    el("h2", {}, "Most frequent errors"),
    el("table", {}, data.groups.map((g) => el("tr", {}, el("td", { class: "num" }, g.count),
      el("td", { class: "error" }, g.error)))),
    el("h2", {}, "Newest failed jobs"),
    el("table", { id: "dlq" }, el("tr", {}, ["id", "task", "attempt", "failed", "error", ""].map((h) => el("th", {}, h))),
      data.jobs.map((j) => el("tr", { "data-job": j.id }, el("td", {}, jobLink(j.id)), el("td", {}, j.task),
        el("td", {}, j.attempt), el("td", {}, when(j.finishedOn)), el("td", { class: "error" }, j.error || ""),
        el("td", {}, button("Retry", "jobs/" + encodeURIComponent(j.id) + "/retry")))))];
}

async function schedulesPage() {
  const data = await api("schedules");
  const timing = (s) => (s.cron ? "cron " + s.cron : s.crontab ? "crontab " + s.crontab : "every " + s.every / 1000 + "s");
  const path = (s, action) => "schedules/" + encodeURIComponent(s.name) + "/" + action;
  return [el("h1", {}, "Schedules"),
    data.schedules.length ? null : el("p", { class: "muted" }, "No schedules stored (a scheduler writes them)."),
    el("table", { id: "schedules" },
      el("tr", {}, ["name", "task", "timing", "next run", "last run", ""].map((h) => el("th", {}, h))),
      data.schedules.map((s) => el("tr", { "data-schedule": s.name }, el("td", {}, s.name), el("td", {}, s.task),
        el("td", {}, timing(s)), el("td", { class: "next" }, s.paused ? "paused" : when(s.nextRun)),
        el("td", {}, when(s.lastRun)),
        el("td", {}, s.paused ? button("Resume", path(s, "resume")) : button("Pause", path(s, "pause")),
          " ", button("Trigger", path(s, "trigger"))))))];
}

async function workflowsPage() {
  const data = await api("workflows");
  return [el("h1", {}, "Workflows"),
    data.workflows.length ? null : el("p", { class: "muted" }, "No workflows stored."),
    el("table", { id: "workflows" }, el("tr", {}, ["id", "name", "state", "nodes", "created"].map((h) => el("th", {}, h))),
      data.workflows.map((w) => el("tr", { "data-workflow": w.id },
        el("td", {}, el("a", { href: "#/workflow/" + encodeURIComponent(w.id) }, w.id)), el("td", {}, w.name || "-"),
        el("td", {}, stateCell(w.state)), el("td", { class: "num" }, w.nodes), el("td", {}, when(w.created_at)))))];
}

async function versionsPage() {
  const data = await api("versions");
  const counts = (byVersion) => Object.entries(byVersion).map(([v, n]) => "v" + v + ": " + n).join(", ") || "-";
  return [el("h1", {}, "Payload versions"),
    el("p", { class: "muted" }, "Waiting and delayed jobs per payload version. Raise a task's since up to " +
      "\"can raise since to\" without failing a queued job."),
    el("table", { id: "versions" },
      el("tr", {}, ["task", "version", "since", "migrations", "waiting", "delayed", "can raise since to"]
        .map((h) => el("th", {}, h))),
      data.tasks.map((t) => el("tr", { "data-task": t.task }, el("td", {}, t.task),
        el("td", { class: "num" }, t.version), el("td", { class: "num since" }, t.since),
        el("td", { class: "num" }, t.migrations), el("td", { class: "waiting" }, counts(t.waiting)),
        el("td", { class: "delayed" }, counts(t.delayed)),
        el("td", { class: "bump" + (t.raisable ? " raisable" : "") },
          t.raisable ? t.canBumpSince : "no (" + t.since + ")"))))];
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function dag(nodes) {
  // Columns by layer (a node sits one column right of its deepest dependency), rows in node order.
  const W = 170, H = 46, GAP_X = 60, GAP_Y = 16, rows = {};
  const at = nodes.map((n) => { const row = (rows[n.layer] = (rows[n.layer] ?? -1) + 1);
                                return { x: 10 + n.layer * (W + GAP_X), y: 10 + row * (H + GAP_Y) }; });
  const width = 20 + (Math.max(0, ...nodes.map((n) => n.layer)) + 1) * (W + GAP_X);
  const height = 20 + Math.max(1, ...Object.values(rows).map((r) => r + 1)) * (H + GAP_Y);
  const picture = svg("svg", { width, height, class: "dag", id: "dag" });
  nodes.forEach((n, i) => n.deps.forEach((d) => picture.append(svg("line", { x1: at[d].x + W, y1: at[d].y + H / 2,
    x2: at[i].x, y2: at[i].y + H / 2, class: "edge" }))));
  nodes.forEach((n, i) => {
    const box = svg("a", { href: "#/job/" + encodeURIComponent(n.job_id), "data-node": n.index, "data-state": n.state },
      svg("rect", { x: at[i].x, y: at[i].y, width: W, height: H, rx: 6, class: "node node-" + n.state }),
      svg("text", { x: at[i].x + 8, y: at[i].y + 18 }, "#" + n.index + " " + n.task),
      svg("text", { x: at[i].x + 8, y: at[i].y + 36, class: "node-state" }, n.state));
    picture.append(box);
  });
  return picture;
}

async function workflowPage(id) {
  const wf = await api("workflows/" + encodeURIComponent(id));
  return [el("h1", {}, "Workflow " + (wf.name || wf.id)),
    el("p", {}, "state ", el("b", { id: "workflow-state", class: "state-" + wf.state }, wf.state),
      " · " + wf.nodes.length + " nodes · created " + when(wf.created_at)),
    el("div", { class: "actions" }, wf.state === "running"
      ? button("Cancel workflow", "workflows/" + encodeURIComponent(id) + "/cancel", "Cancel workflow " + id + "?", true)
      : null),
    wf.error ? el("pre", { class: "error" }, wf.error) : null,
    el("div", { class: "dag-box" }, dag(wf.nodes)),
    wf.state === "completed" ? [el("h2", {}, "Result"), el("pre", { id: "workflow-result" }, shown(wf.result))] : null];
}

// -- routing, login, live -------------------------------------------------------------------------------
function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "task" && parts[1]) {
    const state = STATES.includes(parts[2]) ? parts[2] : "waiting";
    return () => taskPage(parts[1], state, Math.max(0, parseInt(parts[3] || "0", 10) || 0));
  }
  if (parts[0] === "job" && parts[1]) return () => jobPage(parts[1]);
  if (parts[0] === "dlq") return deadLetters;
  if (parts[0] === "schedules") return schedulesPage;
  if (parts[0] === "workflows") return workflowsPage;
  if (parts[0] === "versions") return versionsPage;
  if (parts[0] === "workflow" && parts[1]) return () => workflowPage(parts[1]);
  return overview;
}

let renderCount = 0;  // renders overlap (a click during a load, a live refresh): only the newest one draws

async function render() {
  const main = document.getElementById("main");
  const mine = ++renderCount;
  try {
    const content = await route()();
    if (mine === renderCount) {
      drawUnlessSame(main, [content].flat(2).filter(Boolean));
      // When this page load first drew its data, for bench/board_load.py (the browser's own clock).
      if (!performance.getEntriesByName("board:drawn").length) performance.mark("board:drawn");
    }
  } catch (error) {
    if (error.message !== "unauthorized" && mine === renderCount) {
      main.replaceChildren(el("p", { class: "error" }, error.message));
    }
  }
}

// A re-read that found nothing new leaves the page as it is: a click or a selection in progress is not lost to
// elements drawn anew.
function drawUnlessSame(main, nodes) {
  const fresh = document.createElement("div");
  fresh.append(...nodes);
  if (fresh.innerHTML !== main.innerHTML) main.replaceChildren(...fresh.childNodes);
}

function showLogin() {
  document.getElementById("login").hidden = false;
  for (const id of ["nav", "search", "logout"]) document.getElementById(id).hidden = true;
  document.getElementById("main").replaceChildren();
  if (liveSource) { liveSource.close(); liveSource = null; }
}

function startLive() {
  if (liveSource) return;
  const badge = document.getElementById("live");
  liveSource = new EventSource("api/events");
  liveSource.onopen = () => { badge.textContent = "live"; badge.classList.add("on"); };
  liveSource.onerror = () => { badge.textContent = "reconnecting"; badge.classList.remove("on"); };
  const reread = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(liveRefresh, 250);  // one re-read per burst of events
  };
  liveSource.addEventListener("jobs", reread);
  // "ready": from now on no event misses this page, at its first connect and after a reconnect alike; what
  // changed before (while it was drawn, while the connection was down) shows once it is read again.
  liveSource.addEventListener("ready", reread);
}

// A live re-read draws the page anew: while someone types in one of its boxes, it waits (their focus and
// their text stay), and runs once, when they leave the box.
let waitingOn = null;  // the box a re-read waits on
function liveRefresh() {
  const typing = document.activeElement;
  if (typing && typing.tagName === "INPUT" && document.getElementById("main").contains(typing)) {
    if (waitingOn !== typing) {
      waitingOn = typing;
      typing.addEventListener("blur", () => {
        waitingOn = null;
        clearTimeout(refreshTimer);
        refreshTimer = setTimeout(liveRefresh, 0);
      }, { once: true });
    }
    return;
  }
  render();
}

// The page arrives with the session embedded (page.py), so its data is asked for at once; after a login
// the session is read from the API. The event stream opens once the page is drawn (off the critical path).
function embeddedSession() {
  const tag = document.getElementById("board-session");
  return tag ? JSON.parse(tag.textContent) : null;
}

async function start(known) {
  session = known || await (await fetch("api/session", { credentials: "same-origin" })).json();
  if (!session.authenticated) { showLogin(); return; }
  document.getElementById("login").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("search").hidden = false;
  document.getElementById("logout").hidden = session.mode !== "password";
  await render();
  startLive();
}

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("api/login", { method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ password: document.getElementById("password").value }) });
  document.getElementById("login-error").hidden = response.ok;
  if (response.ok) start();
});
document.getElementById("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = document.getElementById("search-id").value.trim();
  if (id) location.hash = "#/job/" + encodeURIComponent(id);
});
document.getElementById("logout").addEventListener("click", async () => {
  await fetch("api/logout", { method: "POST", credentials: "same-origin" });
  showLogin();
});
window.addEventListener("hashchange", render);
start(embeddedSession());

// Bloom: keeps the server-rendered pages live. One WebSocket to /events (reconnecting with
// exponential backoff); each event makes the page fetch the fragment that changed, rendered
// by the same templates as the page. No polling. Plus: the create form, lifecycle buttons,
// the "Allow" buttons of refused names (issue 16), the review page's buttons and the agent's
// task box and timeline (issue 18), preview tabs, the followed log, the terminal (xterm.js over the exec WebSocket) and the
// panels of optional APIs (agents, audit), which render once those APIs answer.
//
// Pages arrive as skeletons: the session cookie opens nothing else (issue 11). Every request
// here carries the token the login page left in this origin's storage: as Authorization:
// Bearer, and on WebSockets (where browsers send no headers) as the subprotocol
// "colony.token.<token>" next to "colony".
"use strict";
(() => {
  const page = document.body.dataset.page;
  const colony = document.body.dataset.colony || null;
  const live = document.getElementById("live");
  const flash = document.getElementById("flash");
  const wsBase = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}`;
  const token = localStorage.getItem("colony.token");
  const LOGIN = "run 'colony dashboard' in a terminal for a new login link";

  function authorized(init = {}) {
    return { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } };
  }

  function socket(path) {
    return new WebSocket(`${wsBase}${path}`, ["colony", `colony.token.${token}`]);
  }

  let flashTimer = null;
  function say(message, kind = "error") {
    flash.textContent = message;
    flash.className = `flash ${kind}`;
    flash.hidden = !message;
    clearTimeout(flashTimer);
    if (kind === "info") flashTimer = setTimeout(() => { flash.hidden = true; }, 4000);
  }

  async function api(method, path, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, authorized(init));
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const err = (data && data.error) || { message: `${method} ${path}: ${response.status}` };
      throw Object.assign(new Error(err.message),
        { status: response.status, hint: err.hint, files: err.files });
    }
    return data;
  }

  // --- fragments: fetch one at a time; an event during a fetch makes one more -----------
  function refresher(url, apply) {
    let busy = false, again = false;
    const run = async () => {
      if (busy) { again = true; return; }
      busy = true;
      try {
        const response = await fetch(url(), authorized({ headers: { Accept: "text/html" } }));
        if (response.status === 401 || response.status === 403) loggedOut(response.status);
        await apply(response.status, await response.text());
      } catch (e) { /* the socket's reconnect refreshes everything */ }
      busy = false;
      if (again) { again = false; run(); }
    };
    return run;
  }

  const refreshRows = refresher(() => "/ui/fragments/rows", (status, html) => {
    if (status === 200) document.getElementById("rows").innerHTML = html;
  });
  const refreshDetail = refresher(
    () => `/ui/fragments/colonies/${encodeURIComponent(colony)}`,
    (status, html) => {
      const box = document.getElementById("detail");
      if (status === 200) box.innerHTML = html;
      else if (status === 404) {
        box.innerHTML = `<section class="panel head"><h1>${colony} ` +
          `<span id="badge" class="badge state-removed">removed</span></h1></section>`;
      }
    });

  // Names refused lately (issue 16): refreshed on refusals and policy changes.
  const refreshBlocked = refresher(
    () => `/ui/fragments/colonies/${encodeURIComponent(colony)}/blocked`,
    (status, html) => {
      const box = document.querySelector("#blocked .panel-body");
      if (status !== 200 || !box) return;
      box.className = "panel-body";
      box.innerHTML = html;
    });

  // Its egress policy and its secrets (names and hosts only: values never reach Bloom).
  function panelFragment(id, what) {
    return refresher(
      () => `/ui/fragments/colonies/${encodeURIComponent(colony)}/${what}`,
      (status, html) => {
        const box = document.querySelector(`#${id} .panel-body`);
        if (!box) return;
        if (status === 200) { box.className = "panel-body"; box.innerHTML = html; return; }
        box.className = "panel-body dim";
        box.textContent = `Not available (${status}).`;
      });
  }
  const refreshNetwork = panelFragment("network", "network");
  const refreshSecrets = panelFragment("secrets", "secrets");

  // A colony's review (issue 18): its diff, commits and snapshots, rendered by the server.
  const refreshDiff = refresher(
    () => `/ui/fragments/colonies/${encodeURIComponent(colony)}/diff`,
    (status, html) => {
      const box = document.getElementById("review");
      if (!box) return;
      if (status === 200) box.innerHTML = html;
      else {
        box.innerHTML = '<section class="panel dim"></section>';
        let error = null;
        try { error = JSON.parse(html).error; } catch (e) { error = null; }
        box.firstChild.textContent = status === 404 ? `There is no colony ${colony} (any more).`
          : (error && error.message) || `The diff is not available (${status}).`;
      }
    });

  // A colony's agent (issue 18): the task box, continue/stop, and its latest session's
  // timeline, rendered (escaped) by the server on each of its events. What is typed in the
  // task box survives the refresh.
  const refreshAgent = refresher(
    () => `/ui/fragments/colonies/${encodeURIComponent(colony)}/agent`,
    (status, html) => {
      const box = document.querySelector("#agent .panel-body");
      if (!box) return;
      if (status !== 200) {
        box.className = "panel-body dim";
        box.textContent = status === 404 ? "Not available." : `The agent is not available (${status}).`;
        return;
      }
      const old = box.querySelector("#agent-form");
      const kept = old ? { task: old.elements.task.value, preset: old.elements.preset.value,
        focused: document.activeElement === old.elements.task } : null;
      const list = box.querySelector(".agent-timeline");
      const atBottom = !list || list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
      box.className = "panel-body";
      box.innerHTML = html;
      const form = box.querySelector("#agent-form");
      if (form && kept) {
        form.elements.task.value = kept.task;
        form.elements.preset.value = kept.preset;
        if (kept.focused) form.elements.task.focus();
      }
      const timeline = box.querySelector(".agent-timeline");
      if (timeline && atBottom) timeline.scrollTop = timeline.scrollHeight;
    });

  // Files two colonies change (issue 18): the banner of the list and of a colony's page,
  // and the side-by-side page of one such file (its repo and path are this page's query).
  const refreshConflicts = refresher(
    () => "/ui/fragments/conflicts" + (colony ? `?colony=${encodeURIComponent(colony)}` : ""),
    (status, html) => {
      const box = document.getElementById("conflicts");
      if (box && status === 200) box.innerHTML = html;
    });
  const refreshConflict = refresher(() => `/ui/fragments/conflict${location.search}`,
    (status, html) => {
      const box = document.getElementById("conflict");
      if (!box) return;
      if (status === 200) box.innerHTML = html;
      else {
        box.innerHTML = '<section class="panel dim"></section>';
        let error = null;
        try { error = JSON.parse(html).error; } catch (e) { error = null; }
        box.firstChild.textContent = (error && error.message) || `Not available (${status}).`;
      }
    });
  let conflictsTimer = null;
  function conflictsSoon() {
    if (conflictsTimer) return;
    conflictsTimer = setTimeout(() => {
      conflictsTimer = null;
      if (page === "conflict") refreshConflict(); else refreshConflicts();
    }, 2000);
  }

  let rowsTimer = null;
  function rowsSoon() {
    if (rowsTimer) return;
    rowsTimer = setTimeout(() => { rowsTimer = null; refreshRows(); }, 2000);
  }

  // File events come in bursts while an agent writes: one diff at most every 2 s for them.
  let diffTimer = null;
  function diffSoon() {
    if (diffTimer) return;
    diffTimer = setTimeout(() => { diffTimer = null; refreshDiff(); }, 2000);
  }

  function loggedOut(status) {
    say(status === 401 ? `Your Bloom session ended: ${LOGIN}.`
      : `This browser does not hold Bloom's token for this page: ${LOGIN}.`);
  }

  // --- the one WebSocket --------------------------------------------------------------
  let delay = 500;
  function connect() {
    // usage=2: the daemon also sends CPU/memory samples every 2 s on this same socket.
    const query = colony ? `?usage=2&colony=${encodeURIComponent(colony)}` : "?usage=2";
    const ws = socket(`/events${query}`);
    ws.onopen = () => {
      delay = 500;
      live.textContent = "live";
      live.className = "live on";
      if (colony) ws.send(JSON.stringify({ colony }));
      refreshAll(); // catch up on whatever happened while we were away
    };
    ws.onmessage = (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      onEvent(event);
    };
    ws.onclose = () => {
      live.textContent = `reconnecting in ${Math.round(delay / 100) / 10}s…`;
      live.className = "live off";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }

  function refreshAll() {
    if (page === "list" || page === "colony") refreshConflicts();
    if (page === "conflict") refreshConflict();
    if (page === "list") refreshRows();
    if (page === "broods") refreshBroods();
    if (page === "diff") refreshDiff();
    if (page === "colony") {
      refreshDetail();
      refreshAgent();
      refreshBlocked();
      refreshNetwork();
      refreshSecrets();
      followLogs();
      loadPanels();
      if (!previewsLoaded) loadPreviews();
    }
  }

  function onEvent(event) {
    if (event.type === "usage") return showUsage(event.colonies || {});
    if (["list", "colony", "conflict"].includes(page)
        && ["conflict", "files", "merge", "removed"].includes(event.type)) conflictsSoon();
    // An agent's events and file changes come in bursts, and each row's diff size and
    // conflicts cost git work: for those, the rows at most every 2 s (issue 18).
    if (page === "list") {
      if (["agent", "files", "net", "dns"].includes(event.type)) rowsSoon();
      else refreshRows();
    }
    if (page === "broods") refreshBroods();
    if (page === "diff" && event.colony === colony
        && ["agent", "files", "merge", "removed", "state"].includes(event.type)) diffSoon();
    if (page === "colony" && event.colony === colony) {
      if (["state", "service", "health", "removed", "resource"].includes(event.type)) refreshDetail();
      const refused = ["net", "dns"].includes(event.type) && event.verdict !== "accept";
      if (refused || event.type === "policy") refreshBlocked();
      if (["policy", "state"].includes(event.type)) refreshNetwork();
      if (event.type === "secret") refreshSecrets();
      if (["agent", "exec", "exec_end"].includes(event.type)) {
        loadPanel(document.getElementById("agents"));
      }
      if (["agent", "state", "removed"].includes(event.type)) refreshAgent();
      loadPanel(document.getElementById("audit"));
    }
  }

  function showUsage(colonies) {
    for (const [name, sample] of Object.entries(colonies)) {
      const cell = page === "colony" ? document.getElementById("usage")
        : document.querySelector(`#row-${CSS.escape(name)} .usage`);
      if (cell && sample.text) cell.textContent = sample.text;
    }
  }

  // --- broods (issue 6, 18): rendered by the server, members linking diff and check ----
  const refreshBroods = refresher(() => "/ui/fragments/broods", (status, html) => {
    const box = document.getElementById("broods");
    if (status === 200) {
      const open = [...box.querySelectorAll("details[open]")].map((d) => d.id);
      box.innerHTML = html;
      open.forEach((id) => { const d = document.getElementById(id); if (d) d.open = true; });
      return;
    }
    box.innerHTML = '<section class="panel dim"></section>';
    box.firstChild.textContent = `Broods are not available (${status}).`;
  });

  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-pick]");
    if (!button) return;
    const { pick, brood } = button.dataset;
    if (!confirm(`Merge ${pick} and move the other members to the trash?`)) return;
    try {
      await api("POST", `/broods/${encodeURIComponent(brood)}/pick`, { colony: pick });
      say(`picked ${pick}`, "info");
      refreshBroods();
    } catch (err) {
      say(`pick ${pick}: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
    }
  });

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  // "New brood" (issue 18): through POST /broods, which checks everything before it makes
  // anything; a bad field comes back as one line naming it.
  document.addEventListener("submit", async (e) => {
    const form = e.target.closest("#brood-create");
    if (!form) return;
    e.preventDefault();
    const f = form.elements;
    const number = (v) => (/^\d+$/.test(v) ? Number(v) : v);
    const body = { repo: f.repo.value.trim(), objective: f.objective.value.trim(),
      count: number(f.count.value.trim()) };
    if (!body.objective) { say("objective: expected what the agents should do, got nothing"); return; }
    if (f.max_parallel.value.trim()) body.max_parallel = number(f.max_parallel.value.trim());
    if (f.agent.value) body.agent = f.agent.value;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const brood = await api("POST", "/broods", body);
      say(`brood ${brood.name}: ${brood.count} colonies spawning`, "info");
      location.href = "/ui/broods";
    } catch (err) {
      say(`new brood: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
    } finally {
      button.disabled = false;
    }
  });

  // --- lifecycle buttons and the create form --------------------------------------------
  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-action]");
    if (!button) return;
    const { action, name } = button.dataset;
    const path = `/colonies/${encodeURIComponent(name)}`;
    try {
      if (action === "remove") {
        if (!confirm(`Remove colony ${name}? Uncommitted work is saved first.`)) return;
        await api("DELETE", `${path}?force=true`);
        if (page === "colony" || page === "diff") location.href = "/";
      } else {
        await api("POST", `${path}/${action}`);
      }
      say("");
    } catch (err) {
      say(`${action} ${name}: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
    }
  });

  // "Allow" of a refused name: adds its entry to the policy in effect, live.
  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-allow]");
    if (!button) return;
    const entry = button.dataset.allow;
    button.disabled = true;
    try {
      await api("PATCH", button.dataset.route, { allow: [entry] });
      say(`allowed ${entry}`, "info");
      refreshBlocked();
    } catch (err) {
      button.disabled = false;
      say(`allow ${entry}: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
    }
  });

  // Review buttons (issue 18): merge, squash-merge, snapshot, undo, through the review API
  // (which checks the caller's role again). A refused merge lists the conflicting files.
  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-review]");
    if (!button) return;
    const { review, name } = button.dataset;
    const path = `/colonies/${encodeURIComponent(name)}/workspace`;
    const refused = document.getElementById("merge-refused");
    if (refused) refused.hidden = true;
    let done;
    try {
      if (review === "merge" || review === "squash") {
        const body = {};
        if (review === "squash") {
          body.squash = true;
          const message = document.getElementById("squash-message").value.trim();
          if (message) body.message = message;
        }
        if (!confirm(`${review === "squash" ? "Squash-merge" : "Merge"} colony ${name} into the branch it came from?`)) return;
        button.disabled = true;
        const result = await api("POST", `${path}/merge`, body);
        done = result.merged ? `merged ${name} into ${result.into} (${String(result.commit).slice(0, 12)})`
          : `nothing to merge: ${result.into} has ${name}'s work already`;
      } else if (review === "snapshot") {
        button.disabled = true;
        const result = await api("POST", `${path}/snapshots`, {});
        done = `snapshot ${result.number} taken`;
      } else if (review === "undo") {
        const to = Number(document.getElementById("undo-to").value);
        if (!confirm(`Make ${name}'s files those of snapshot ${to}? What they are now is kept as a snapshot.`)) return;
        button.disabled = true;
        const result = await api("POST", `${path}/undo`, { to });
        done = `restored snapshot ${result.restored.number}`;
      }
      say(done, "info");
    } catch (err) {
      say(`${review} ${name}: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
      if (refused && Array.isArray(err.files) && err.files.length) {
        const list = el("ul");
        for (const file of err.files) list.append(el("li", file));
        refused.replaceChildren(el("strong", "The merge was refused; these files conflict:"), list,
          el("p", "Nothing was changed."));
        refused.hidden = false;
      }
    } finally {
      button.disabled = false;
    }
    if (done) refreshDiff();
  });

  // The agent's task box, continue and stop (issue 18): through the agents API, which
  // checks the caller's role again.
  document.addEventListener("submit", async (e) => {
    const agentForm = e.target.closest("#agent-form");
    if (!agentForm) return;
    e.preventDefault();
    const task = agentForm.elements.task.value.trim();
    if (!task) { say("task: expected what the agent should do, got nothing"); return; }
    const body = { task };
    if (agentForm.elements.preset.value) body.preset = agentForm.elements.preset.value;
    await agentCall(agentForm, "run", body, () => { agentForm.elements.task.value = ""; });
  });

  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button[data-agent]");
    if (!button || button.dataset.agent === "run") return;
    const agentForm = button.closest("#agent-form");
    if (button.dataset.agent === "stop") {
      if (!confirm(`Stop the agent of ${colony}?`)) return;
      await agentCall(agentForm, "stop", {});
    } else {
      const task = agentForm.elements.task.value.trim();
      await agentCall(agentForm, "continue", task ? { task } : {},
        () => { agentForm.elements.task.value = ""; });
    }
  });

  async function agentCall(agentForm, verb, body, done) {
    const buttons = agentForm.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const rec = await api("POST", `/colonies/${encodeURIComponent(colony)}/agents/${verb}`, body);
      say(verb === "stop" ? `stopped session ${rec.id}` : `session ${rec.id} started`, "info");
      if (done) done();
    } catch (err) {
      say(`agent ${verb}: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
    refreshAgent();
  }

  const form = document.getElementById("create");
  if (form) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const data = new FormData(form);
      const body = { name: data.get("name").trim(), repo: data.get("repo").trim() };
      if (data.get("rev").trim()) body.rev = data.get("rev").trim();
      // issue 18: with a task, the daemon starts the agent once the colony runs.
      if (data.get("task") && data.get("task").trim()) {
        body.task = data.get("task").trim();
        if (data.get("agent")) body.agent = data.get("agent");
      }
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        await api("POST", "/colonies", body);
        say(`spawning ${body.name}…${body.task ? " (its agent starts once it runs)" : ""}`, "info");
        form.reset();
        refreshRows();
      } catch (err) {
        say(`spawn ${body.name}: ${err.message}${err.hint ? ` (${err.hint})` : ""}`);
      } finally {
        button.disabled = false;
      }
    });
  }

  // --- preview tabs: loaded once per page, so a refresh never reloads the iframe --------
  let previewsLoaded = false;
  async function loadPreviews() {
    const box = document.querySelector("#previews .panel-body");
    const response = await fetch(`/ui/fragments/colonies/${encodeURIComponent(colony)}/previews`,
      authorized({ headers: { Accept: "text/html" } }));
    if (response.status !== 200) return;
    previewsLoaded = true;
    box.className = "panel-body";
    box.innerHTML = await response.text();
    const frame = document.getElementById("preview");
    box.querySelectorAll("button[data-preview]").forEach((tab) => {
      tab.addEventListener("click", () => {
        box.querySelectorAll("button[data-preview]").forEach((t) =>
          t.classList.toggle("active", t === tab));
        frame.hidden = false;
        frame.src = tab.dataset.preview;
        const open = document.getElementById("preview-open");
        open.href = tab.dataset.preview;
        open.hidden = false;
      });
    });
  }

  // --- the followed log ---------------------------------------------------------------
  // A colony's output carries terminal escapes (colours, cursor moves): drop them, and any
  // other control character but tab, so the panel shows the text (issue 12).
  const ESCAPES = /\x1b\[[0-?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]/g;
  function plainText(text) {
    return String(text).replace(ESCAPES, "");
  }

  let logAbort = null;
  async function followLogs() {
    const pre = document.getElementById("logs");
    if (!pre) return;
    if (logAbort) logAbort.abort();
    const abort = (logAbort = new AbortController());
    pre.textContent = "";
    const path = `/colonies/${encodeURIComponent(colony)}/logs?follow=true&lines=200`;
    try {
      const response = await fetch(path, authorized({ signal: abort.signal }));
      if (!response.ok) return;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let rest = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        rest += decoder.decode(value, { stream: true });
        const lines = rest.split("\n");
        rest = lines.pop();
        const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        for (const line of lines) {
          if (!line.trim()) continue;
          const entry = JSON.parse(line);
          pre.append(`${entry.source} | ${plainText(entry.line)}\n`);
        }
        while (pre.childNodes.length > 2000) pre.removeChild(pre.firstChild);
        if (atBottom) pre.scrollTop = pre.scrollHeight;
      }
    } catch (e) { /* aborted, or the daemon went away: the socket's reconnect restarts it */ }
  }

  // --- the terminal: xterm.js speaking the exec WebSocket's frames ----------------------
  // Client → daemon: start JSON, then b"\x00"+stdin, {"type":"resize"}; daemon → client:
  // b"\x01"+output, then {"type":"exit","code":N} or {"type":"error","error":{...}}.
  const termButton = document.getElementById("term-open");
  if (termButton) termButton.addEventListener("click", openTerminal);

  function openTerminal() {
    const box = document.getElementById("terminal");
    if (!window.Terminal) {
      box.hidden = false;
      box.textContent = "xterm.js is not installed: run 'make setup' (or 'make install') where Colony lives.";
      return;
    }
    termButton.hidden = true;
    box.hidden = false;
    box.innerHTML = "";
    const term = new window.Terminal({ cursorBlink: true, fontSize: 13, scrollback: 5000 });
    const fit = window.FitAddon ? new window.FitAddon.FitAddon() : null;
    if (fit) term.loadAddon(fit);
    term.open(box);
    if (fit) fit.fit();
    const ws = socket(`/colonies/${encodeURIComponent(colony)}/exec`);
    ws.binaryType = "arraybuffer";
    const encoder = new TextEncoder();
    ws.onopen = () => {
      ws.send(JSON.stringify({ argv: null, tty: true, cols: term.cols, rows: term.rows }));
      term.focus();
    };
    ws.onmessage = (message) => {
      if (message.data instanceof ArrayBuffer) {
        const bytes = new Uint8Array(message.data);
        if (bytes[0] === 1 || bytes[0] === 2) term.write(bytes.subarray(1));
        return;
      }
      const data = JSON.parse(message.data);
      if (data.type === "exit") term.write(`\r\n[exited with code ${data.code}]\r\n`);
      if (data.type === "error") term.write(`\r\nerror: ${data.error.message}\r\n`);
    };
    ws.onclose = () => {
      term.write("\r\n[connection closed]\r\n");
      termButton.hidden = false;
      termButton.textContent = "Open a new shell";
    };
    term.onData((text) => {
      if (ws.readyState !== WebSocket.OPEN) return;
      const bytes = encoder.encode(text);
      const frame = new Uint8Array(bytes.length + 1);
      frame.set(bytes, 1);
      ws.send(frame);
    });
    term.onResize(({ cols, rows }) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resize", cols, rows }));
    });
    if (fit) window.addEventListener("resize", () => fit.fit());
  }

  // --- panels of optional APIs (agents, audit) ------------------------------------------
  function loadPanels() {
    document.querySelectorAll("section[data-api]").forEach(loadPanel);
  }

  const panelRefreshers = new Map();
  function loadPanel(panel) {
    if (!panel) return;
    if (!panelRefreshers.has(panel)) {
      const body = panel.querySelector(".panel-body");
      panelRefreshers.set(panel, refresher(() => panel.dataset.api, (status, text) => {
        let data = null;
        try { data = JSON.parse(text); } catch (e) { data = null; }
        if (data === null && (status === 404 || status === 405)) {
          body.className = "panel-body dim"; // the route itself is missing
          body.textContent = "Not available: this Mycelium does not offer this API.";
        } else if (status !== 200) {
          body.className = "panel-body dim";
          body.textContent = (data && data.error && data.error.message) || `error ${status}`;
        } else {
          renderTable(body, data);
        }
      }));
    }
    panelRefreshers.get(panel)();
  }

  function renderTable(body, data) {
    const rows = Array.isArray(data) ? data
      : Object.values(data || {}).find((v) => Array.isArray(v)) || [];
    body.className = "panel-body";
    if (!rows.length) {
      body.className = "panel-body dim";
      body.textContent = "Nothing yet.";
      return;
    }
    const panel = body.closest("section");
    let keys = (panel.dataset.columns || "").split(/\s+/).filter(Boolean);
    if (!keys.length) {
      rows.slice(0, 20).forEach((row) => Object.keys(row).forEach((k) => {
        if (!keys.includes(k) && keys.length < 8) keys.push(k);
      }));
    }
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    keys.forEach((k) => { head.appendChild(document.createElement("th")).textContent = columnLabel(k); });
    const tbody = table.createTBody();
    rows.slice(-200).reverse().forEach((row) => {
      const tr = tbody.insertRow();
      if (panel.dataset.detail && row.id !== undefined) {
        tr.classList.add("clickable");
        tr.addEventListener("click", () => showDetail(panel, row.id));
      }
      keys.forEach((k) => { tr.insertCell().textContent = cellText(k, row[k]); });
    });
    body.replaceChildren(table);
  }

  // Column headings for people, not field names (issue 12).
  const LABELS = { diff_lines: "diff (lines)", diff_files: "diff (files)", exit_code: "exit",
    msg: "what", seq: "#", at: "when", id: "#" };
  const SIGNALS = { 1: "SIGHUP", 2: "SIGINT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV",
    13: "SIGPIPE", 15: "SIGTERM" };
  function columnLabel(key) {
    return LABELS[key] || key.replace(/_/g, " ");
  }

  function cellText(key, value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number" && /^(at|started|ended|created)$/.test(key) && value > 1e9) {
      return new Date(value * 1000).toLocaleString();
    }
    if (key === "duration" && typeof value === "number") return `${value.toFixed(1)}s`;
    if (key === "exit_code" && typeof value === "number" && value < 0) {
      return `killed by ${SIGNALS[-value] || `signal ${-value}`}`;
    }
    if (key === "cost" && typeof value === "number") return `$${value.toFixed(4)}`;
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  async function showDetail(panel, id) {
    const pre = panel.querySelector(".panel-detail");
    pre.hidden = false;
    pre.textContent = "Loading…";
    try {
      const data = await api("GET", panel.dataset.detail.replace("{id}", id));
      const lines = (data.events || []).map((e) =>
        `${cellText("at", e.at)}  ${e.kind || ""}${e.tool ? ` ${e.tool}` : ""}  ${e.text || ""}`);
      pre.textContent = `session ${id}: ${data.status}\n${lines.join("\n") || "no events"}`;
    } catch (err) {
      pre.textContent = err.message;
    }
  }

  // --- logging out: ends the token and the cookie, then forgets the token ------------------
  document.getElementById("logout").addEventListener("click", async () => {
    try { await api("POST", "/logout"); } catch (e) { /* ended already */ }
    localStorage.removeItem("colony.token");
    location.replace("/");
  });

  if (token) connect();
  else say(`This browser holds no Bloom token: ${LOGIN}.`);
})();

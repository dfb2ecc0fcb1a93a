// novalite dashboard: plain JavaScript over the public APIs, no build step.
//
// NOTE: every string that comes from the cloud (names, messages, console
// output ...) enters the page through textContent or DOM properties, never
// innerHTML; the Content-Security-Policy forbids inline scripts besides.
// The token lives in this tab's sessionStorage and travels as X-Auth-Token:
// no cookie, so another site cannot make the browser act for the user.
"use strict";

(function () {
  const SESSION_KEY = "novalite.session";
  const POLL_MS = 3000;
  const POWER_STATES = {0: "NOSTATE", 1: "RUNNING", 3: "PAUSED", 4: "SHUTDOWN",
    6: "CRASHED", 7: "SUSPENDED"};

  let session = load();
  let current = null;          // the view on screen: {refresh, cleanup}
  let refreshing = false;
  let refreshSoon = null;
  let eventsAbort = null;

  // -- small DOM helpers -------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key in node && typeof value !== "string") node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function table(headers, rows) {
    return el("table", {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {text: h})))),
      el("tbody", {}, rows));
  }

  function cell(value, props) {
    return el("td", props || {}, value === undefined || value === null ? "" : value);
  }

  function view() {
    return document.getElementById("view");
  }

  function showError(message) {
    const box = document.getElementById("error");
    box.textContent = message;
    box.hidden = !message;
  }

  // -- session -----------------------------------------------------------

  function load() {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch (e) {
      return null;
    }
  }

  function save(value) {
    session = value;
    if (value) sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
    else sessionStorage.removeItem(SESSION_KEY);
  }

  function isAdmin() {
    return !!session && session.roles.includes("admin");
  }

  // NOTE: the catalog's URLs are absolute; the page keeps only their paths
  // so every call stays on this origin (connect-src 'self').
  function endpointsOf(catalog) {
    const endpoints = {};
    for (const service of catalog || []) {
      const ep = (service.endpoints || []).find((e) => e.interface === "public") ||
        (service.endpoints || [])[0];
      if (ep) endpoints[service.type] = new URL(ep.url, location.href).pathname.replace(/\/$/, "");
    }
    return endpoints;
  }

  async function login(username, password, project) {
    const body = {auth: {identity: {methods: ["password"], password: {user: {
      name: username, domain: {id: "default"}, password: password}}},
    scope: {project: {name: project, domain: {id: "default"}}}}};
    const resp = await fetch("/identity/v3/auth/tokens", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body), credentials: "omit"});
    const data = await parseBody(resp);
    if (!resp.ok) throw new ApiError(resp.status, messageOf(data, resp.status));
    const token = data.token;
    const value = {
      token: resp.headers.get("X-Subject-Token"),
      user: token.user.name,
      project: token.project.name,
      projectId: token.project.id,
      roles: (token.roles || []).map((r) => r.name),
      endpoints: endpointsOf(token.catalog),
      computeVersion: "2.1",
    };
    save(value);
    value.computeVersion = await computeVersion();
    save(value);
  }

  async function logout() {
    const token = session && session.token;
    stopEvents();
    save(null);
    if (token) {
      try {
        await fetch("/identity/v3/auth/tokens", {method: "DELETE", credentials: "omit",
          headers: {"X-Auth-Token": token, "X-Subject-Token": token}});
      } catch (e) {
        // NOTE: the token stays valid until it expires; nothing else to do.
      }
    }
    location.hash = "";
    render();
  }

  // -- API calls ---------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function parseBody(resp) {
    const text = await resp.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch (e) {
      return text;
    }
  }

  // The message of any of the APIs' error formats (Nova's {"badRequest":
  // {"message"}}, Keystone's {"error": {...}}, Glance's {"message"},
  // Neutron's {"NeutronError": {...}}).
  function messageOf(body, status) {
    if (body && typeof body === "object") {
      if (typeof body.message === "string") return body.message;
      for (const value of Object.values(body)) {
        if (value && typeof value === "object" && typeof value.message === "string") {
          return value.message;
        }
      }
    }
    if (typeof body === "string" && body.length < 500) return body;
    return "HTTP " + status;
  }

  function endpoint(service) {
    const fallback = {compute: "/compute/v2.1", image: "/image", network: "/network",
      identity: "/identity", "block-storage": "/volume/v3"};
    return (session.endpoints && session.endpoints[service]) || fallback[service];
  }

  async function api(service, method, path, options) {
    const opts = options || {};
    const headers = {"X-Auth-Token": session.token, "Accept": "application/json"};
    if (service === "compute") {
      headers["OpenStack-API-Version"] = "compute " + (opts.version || session.computeVersion);
    }
    let body;
    if (opts.raw !== undefined) {
      body = opts.raw;
      headers["Content-Type"] = "application/octet-stream";
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["Content-Type"] = "application/json";
    }
    const resp = await fetch(endpoint(service) + path, {method, headers, body,
      credentials: "omit"});
    const data = await parseBody(resp);
    if (resp.status === 401) {
      stopEvents();
      save(null);
      render();
      throw new ApiError(401, "Your session has ended; log in again. (" +
        messageOf(data, 401) + ")");
    }
    if (!resp.ok) throw new ApiError(resp.status, messageOf(data, resp.status));
    return data;
  }

  function compareVersions(a, b) {
    const [am, an] = a.split(".").map(Number);
    const [bm, bn] = b.split(".").map(Number);
    return am - bm || an - bn;
  }

  function minVersion(a, b) {
    return compareVersions(a, b) <= 0 ? a : b;
  }

  // The newest compute microversion the API serves (GET /compute/).
  async function computeVersion() {
    const root = endpoint("compute").replace(/\/v2(\.1)?$/, "") + "/";
    const resp = await fetch(root, {headers: {"Accept": "application/json"},
      credentials: "omit"});
    if (!resp.ok) return "2.1";
    const data = await resp.json();
    let best = "2.1";
    for (const v of data.versions || []) {
      if (v.version && compareVersions(v.version, best) > 0) best = v.version;
    }
    return best;
  }

  // Run ``fn`` and show its error (the API's message) instead of throwing.
  async function guarded(fn) {
    try {
      showError("");
      return await fn();
    } catch (e) {
      showError(e.message || String(e));
      return undefined;
    }
  }

  // -- live updates ------------------------------------------------------

  async function refresh() {
    if (refreshing || !current || !current.refresh || !session) return;
    refreshing = true;
    try {
      await current.refresh();
    } catch (e) {
      showError(e.message || String(e));
    } finally {
      refreshing = false;
    }
  }

  function scheduleRefresh() {
    if (refreshSoon) return;
    refreshSoon = setTimeout(() => {
      refreshSoon = null;
      refresh();
    }, 200);
  }

  // NOTE: GET /dashboard/events (text/event-stream) only makes the page
  // refresh sooner; without it the page polls.
  async function startEvents() {
    if (eventsAbort || !session) return;
    const abort = new AbortController();
    eventsAbort = abort;
    let retry = false;
    try {
      const resp = await fetch("events", {headers: {"X-Auth-Token": session.token,
        "Accept": "text/event-stream"}, signal: abort.signal, credentials: "omit"});
      const type = resp.headers.get("Content-Type") || "";
      if (resp.ok && type.startsWith("text/event-stream") && resp.body) {
        retry = true;
        const reader = resp.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const {value, done} = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, {stream: true}).replace(/\r\n?/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const chunk = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (/^data:/m.test(chunk)) scheduleRefresh();
          }
        }
      }
    } catch (e) {
      retry = !abort.signal.aborted;
    }
    if (eventsAbort === abort) {
      eventsAbort = null;
      if (retry && session) setTimeout(startEvents, 5000);
    }
  }

  function stopEvents() {
    if (eventsAbort) {
      const abort = eventsAbort;
      eventsAbort = null;
      abort.abort();
    }
  }

  // -- servers -----------------------------------------------------------

  const ACTIONS = [
    ["Stop", {"os-stop": null}, (s) => s.status === "ACTIVE" || s.status === "ERROR"],
    ["Start", {"os-start": null}, (s) => s.status === "SHUTOFF"],
    ["Reboot", {"reboot": {"type": "SOFT"}}, (s) => s.status === "ACTIVE"],
    ["Pause", {"pause": null}, (s) => s.status === "ACTIVE"],
    ["Unpause", {"unpause": null}, (s) => s.status === "PAUSED"],
    ["Suspend", {"suspend": null}, (s) => s.status === "ACTIVE"],
    ["Resume", {"resume": null}, (s) => s.status === "SUSPENDED"],
    ["Shelve", {"shelve": null}, (s) => s.status === "ACTIVE" || s.status === "SHUTOFF"],
    ["Unshelve", {"unshelve": null},
      (s) => s.status === "SHELVED" || s.status === "SHELVED_OFFLOADED"],
    ["Lock", {"lock": null}, (s) => s.locked === false],
    ["Unlock", {"unlock": null}, (s) => s.locked === true],
  ];

  function actionButtons(server, after) {
    const buttons = [];
    for (const [label, body, allowed] of ACTIONS) {
      if (!allowed(server)) continue;
      buttons.push(el("button", {type: "button", text: label, dataset: {action: label},
        onclick: () => guarded(async () => {
          await api("compute", "POST", `/servers/${encodeURIComponent(server.id)}/action`,
            {body});
          await after();
        })}));
    }
    buttons.push(el("button", {type: "button", text: "Delete", dataset: {action: "Delete"},
      onclick: () => {
        if (!window.confirm(`Delete server ${server.name}?`)) return;
        guarded(async () => {
          await api("compute", "DELETE", `/servers/${encodeURIComponent(server.id)}`);
          await after(true);
        });
      }}));
    return buttons;
  }

  function addressesText(server) {
    return Object.entries(server.addresses || {}).map(([net, addrs]) =>
      net + ": " + addrs.map((a) => a.addr).join(", ")).join("; ");
  }

  function flavorText(server) {
    const f = server.flavor || {};
    if (f.original_name) return `${f.original_name} (${f.vcpus} vCPU, ${f.ram} MiB, ${f.disk} GiB)`;
    return f.id || "";
  }

  function imageText(server, images) {
    if (!server.image || !server.image.id) return "(volume)";
    return images[server.image.id] || server.image.id;
  }

  async function imageNames() {
    try {
      const data = await api("image", "GET", "/v2/images?limit=1000");
      return Object.fromEntries((data.images || []).map((i) => [i.id, i.name || i.id]));
    } catch (e) {
      return {};
    }
  }

  function serversView() {
    const admin = isAdmin();
    const allProjects = el("input", {type: "checkbox", id: "all-projects",
      onchange: () => refresh()});
    const body = el("tbody");
    const headers = ["Name", "Status", "Task", "Power", "Addresses", "Flavor", "Image"];
    if (admin) headers.push("Host", "Project");
    headers.push("Fault", "Actions");
    view().replaceChildren(el("h1", {text: "Servers"}));
    if (admin) view().append(el("label", {}, allProjects, " All projects"));
    view().append(el("table", {id: "servers"},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {text: h})))), body));
    let images = {};
    let imagesLoaded = false;
    return {
      async refresh() {
        if (!imagesLoaded) {
          images = await imageNames();
          imagesLoaded = true;
        }
        const query = admin && allProjects.checked ? "?all_tenants=1" : "";
        const data = await api("compute", "GET", "/servers/detail" + query);
        const rows = (data.servers || []).map((s) => {
          const row = el("tr", {dataset: {id: s.id}},
            cell(el("a", {href: "#server/" + encodeURIComponent(s.id), text: s.name,
              className: "name"})),
            cell(s.status, {className: "status status-" + s.status}),
            cell(s["OS-EXT-STS:task_state"], {className: "task"}),
            cell(POWER_STATES[s["OS-EXT-STS:power_state"]] || "", {className: "power"}),
            cell(addressesText(s)),
            cell(flavorText(s)),
            cell(imageText(s, images)));
          if (admin) row.append(cell(s["OS-EXT-SRV-ATTR:host"]), cell(s.tenant_id));
          row.append(cell(s.fault ? s.fault.message : "", {className: "fault-message"}),
            cell(actionButtons(s, refresh)));
          return row;
        });
        body.replaceChildren(...rows);
        if (!rows.length) {
          body.append(el("tr", {}, el("td", {colSpan: headers.length, className: "muted",
            text: "No servers."})));
        }
      },
    };
  }

  function durationOf(event) {
    if (!event.start_time || !event.finish_time) return "";
    const ms = Date.parse(event.finish_time + "Z") - Date.parse(event.start_time + "Z");
    return isNaN(ms) ? "" : (ms / 1000).toFixed(3) + " s";
  }

  function detailsText(details) {
    if (details === undefined || details === null) return "";
    return typeof details === "string" ? details : JSON.stringify(details);
  }

  function failed(event) {
    return /error|fail/i.test(event.result || "");
  }

  async function timeline(id) {
    const base = `/servers/${encodeURIComponent(id)}/os-instance-actions`;
    const list = await api("compute", "GET", base);
    const actions = (list.instanceActions || []).slice().sort((a, b) =>
      (a.start_time || "").localeCompare(b.start_time || ""));
    return Promise.all(actions.map(async (a) => {
      const one = await api("compute", "GET", `${base}/${encodeURIComponent(a.request_id)}`);
      return one.instanceAction || a;
    }));
  }

  function renderTimeline(actions) {
    if (!actions.length) return [el("p", {className: "muted", text: "No actions recorded."})];
    const admin = isAdmin();
    return actions.map((a) => {
      const events = (a.events || []).slice().sort((x, y) =>
        (x.start_time || "").localeCompare(y.start_time || ""));
      const headers = ["Event", "Start", "Finish", "Duration", "Result", "Details"];
      if (admin) headers.push("Host");
      const rows = events.map((e) => {
        const row = el("tr", {className: failed(e) ? "event event-error" : "event",
          dataset: {event: e.event}},
        cell(e.event), cell(e.start_time), cell(e.finish_time), cell(durationOf(e)),
        cell(e.result || (e.finish_time ? "" : "running")), cell(detailsText(e.details)));
        if (admin) row.append(cell(e.host));
        return row;
      });
      return el("div", {className: "card action", dataset: {request: a.request_id}},
        el("h3", {text: `${a.action} — ${a.start_time || ""}`}),
        el("p", {className: "muted", text: `request ${a.request_id}` +
          (a.message ? ` · ${a.message}` : "")}),
        table(headers, rows));
    });
  }

  function diagnosis(server, actions) {
    const parts = [];
    const failedEvents = [];
    // NOTE: the newest action's failed steps only: a panic at create is
    // history once a later rebuild or reboot went well (the timeline below
    // keeps every action's).
    const newest = actions.slice().sort((x, y) =>
      (y.start_time || "").localeCompare(x.start_time || ""))[0];
    for (const a of newest ? [newest] : []) {
      for (const e of a.events || []) if (failed(e)) failedEvents.push({...e, action: a.action});
    }
    if (server.fault || failedEvents.length) {
      const box = el("div", {className: "fault", id: "diagnosis"},
        el("h2", {text: server.status === "ERROR" ? "This server failed" : "A step failed"}));
      if (server.fault) {
        box.append(el("p", {className: "fault-message", text: server.fault.message}));
        if (server.fault.details) box.append(el("pre", {text: server.fault.details}));
      }
      // NOTE: the latest-started failed step first: it is the innermost one
      // (domain_start before the build that contains it).
      failedEvents.sort((x, y) => (y.start_time || "").localeCompare(x.start_time || ""));
      for (const e of failedEvents) {
        box.append(el("p", {className: "failed-step", dataset: {event: e.event,
          action: e.action}}, "Failed step: ", el("strong", {text: e.event}),
        ` (${e.action})`, e.details ? " — " + detailsText(e.details) : ""));
      }
      parts.push(box);
    }
    return parts;
  }

  function serverView(id) {
    const header = el("div");
    const diag = el("div");
    const info = el("div");
    const actionsBox = el("div", {id: "timeline"});
    const consoleBox = el("div", {className: "card"});
    let ws = null;
    const term = el("pre", {className: "terminal", id: "terminal", tabIndex: 0, hidden: true});
    const log = el("pre", {id: "console-log", hidden: true});
    consoleBox.append(el("h2", {text: "Console"}),
      el("button", {type: "button", text: "Show console log", onclick: () => guarded(async () => {
        const data = await api("compute", "POST", `/servers/${encodeURIComponent(id)}/action`,
          {body: {"os-getConsoleOutput": {"length": 200}}});
        log.textContent = data.output || "(no output yet)";
        log.hidden = false;
      })}),
      el("button", {type: "button", text: "Open serial console",
        onclick: () => guarded(openSerial)}),
      log, term);

    async function openSerial() {
      const data = await api("compute", "POST", `/servers/${encodeURIComponent(id)}/remote-consoles`,
        {body: {remote_console: {protocol: "serial", type: "serial"}}, version:
          minVersion(session.computeVersion, "2.99")});
      if (ws) ws.close();
      term.hidden = false;
      term.textContent = "";
      const decoder = new TextDecoder();
      const encoder = new TextEncoder();
      ws = new WebSocket(data.remote_console.url);
      ws.binaryType = "arraybuffer";
      // NOTE: keys typed while the socket opens wait for it.
      const pending = [];
      term.dataset.state = "connecting";
      ws.onopen = () => {
        term.dataset.state = "open";
        for (const bytes of pending.splice(0)) ws.send(bytes);
      };
      const send = (text) => {
        const bytes = encoder.encode(text);
        if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
        else if (ws.readyState === WebSocket.CONNECTING) pending.push(bytes);
      };
      ws.onmessage = (ev) => {
        const text = typeof ev.data === "string" ? ev.data :
          decoder.decode(new Uint8Array(ev.data), {stream: true});
        term.textContent = (term.textContent + text).slice(-20000);
        term.scrollTop = term.scrollHeight;
      };
      ws.onclose = (ev) => {
        term.dataset.state = "closed";
        term.textContent += `\n[console closed${ev.code === 1000 ? "" : ": " + ev.code}]\n`;
      };
      term.onkeydown = (ev) => {
        const seq = keySequence(ev);
        if (seq === null) return;
        ev.preventDefault();
        send(seq);
      };
      term.onpaste = (ev) => {
        const text = ev.clipboardData.getData("text");
        if (text) send(text);
        ev.preventDefault();
      };
      term.focus();
    }

    view().replaceChildren(header, diag, info, el("h2", {text: "Timeline"}), actionsBox,
      consoleBox);
    return {
      async refresh() {
        let server;
        try {
          server = (await api("compute", "GET", `/servers/${encodeURIComponent(id)}`)).server;
        } catch (e) {
          if (e.status === 404) {
            header.replaceChildren(el("h1", {text: "Server not found (deleted?)"}));
            return;
          }
          throw e;
        }
        const actions = await timeline(id);
        header.replaceChildren(
          el("h1", {text: server.name}),
          el("p", {}, "Status: ", el("span", {id: "server-status",
            className: "status status-" + server.status, text: server.status}),
          server["OS-EXT-STS:task_state"] ? ` (${server["OS-EXT-STS:task_state"]})` : ""),
          el("div", {}, actionButtons(server, async (deleted) => {
            if (deleted) location.hash = "#servers";
            else await refresh();
          })));
        diag.replaceChildren(...diagnosis(server, actions));
        const rows = [["ID", server.id], ["Status", server.status],
          ["Task state", server["OS-EXT-STS:task_state"]],
          ["Power state", POWER_STATES[server["OS-EXT-STS:power_state"]]],
          ["Addresses", addressesText(server)], ["Flavor", flavorText(server)],
          ["Image", server.image && server.image.id ? server.image.id : "(volume)"],
          ["Key pair", server.key_name], ["Created", server.created],
          ["Locked", String(server.locked)]];
        if (isAdmin()) rows.push(["Host", server["OS-EXT-SRV-ATTR:host"]]);
        info.replaceChildren(table(["Field", "Value"],
          rows.map(([k, v]) => el("tr", {}, cell(k), cell(v)))));
        actionsBox.replaceChildren(...renderTimeline(actions));
      },
      cleanup() {
        if (ws) ws.close();
      },
    };
  }

  function keySequence(ev) {
    if (ev.ctrlKey && ev.key.length === 1) {
      const code = ev.key.toLowerCase().charCodeAt(0);
      if (code >= 97 && code <= 122) return String.fromCharCode(code - 96);
      return null;
    }
    const special = {Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b",
      ArrowUp: "\x1b[A", ArrowDown: "\x1b[B", ArrowRight: "\x1b[C", ArrowLeft: "\x1b[D",
      Home: "\x1b[H", End: "\x1b[F", Delete: "\x1b[3~"};
    if (ev.key in special) return special[ev.key];
    if (ev.key.length === 1 && !ev.metaKey && !ev.altKey) return ev.key;
    return null;
  }

  // -- create ------------------------------------------------------------

  function option(value, label) {
    return el("option", {value, text: label});
  }

  function base64(text) {
    const bytes = new TextEncoder().encode(text);
    let binary = "";
    for (const b of bytes) binary += String.fromCharCode(b);
    return btoa(binary);
  }

  async function createView() {
    const [images, flavors, keypairs, networks] = await Promise.all([
      api("image", "GET", "/v2/images?limit=1000").catch(() => ({images: []})),
      api("compute", "GET", "/flavors/detail"),
      api("compute", "GET", "/os-keypairs").catch(() => ({keypairs: []})),
      api("network", "GET", "/v2.0/networks").catch(() => ({networks: []})),
    ]);
    const form = el("form", {id: "create-server", className: "card"},
      el("h1", {text: "Create server"}),
      el("label", {}, "Name", el("input", {name: "name", required: true})),
      el("label", {}, "Image", el("select", {name: "image"},
        (images.images || []).filter((i) => i.status === "active").map((i) =>
          option(i.id, i.name || i.id)))),
      el("label", {}, "Flavor", el("select", {name: "flavor"},
        (flavors.flavors || []).map((f) =>
          option(f.id, `${f.name} (${f.vcpus} vCPU, ${f.ram} MiB, ${f.disk} GiB)`)))),
      el("label", {}, "Network", el("select", {name: "network"},
        (networks.networks || []).map((n) => option(n.id, n.name || n.id)),
        option("auto", "automatic"), option("none", "no network"))),
      el("label", {}, "Key pair", el("select", {name: "key"}, option("", "(none)"),
        (keypairs.keypairs || []).map((k) => option(k.keypair.name, k.keypair.name)))),
      el("label", {}, "User data", el("textarea", {name: "user_data", rows: 4})),
      el("button", {type: "submit", text: "Create"}));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = form.elements;
      const server = {name: f.name.value, imageRef: f.image.value, flavorRef: f.flavor.value};
      const net = f.network.value;
      server.networks = net === "auto" || net === "none" ? net : [{uuid: net}];
      if (f.key.value) server.key_name = f.key.value;
      if (f.user_data.value) server.user_data = base64(f.user_data.value);
      guarded(async () => {
        const data = await api("compute", "POST", "/servers", {body: {server}});
        location.hash = "#server/" + encodeURIComponent(data.server.id);
      });
    });
    view().replaceChildren(form);
    return {};
  }

  // -- images, flavors, key pairs, networks -------------------------------

  function imagesView() {
    const body = el("tbody");
    const form = el("form", {id: "upload-image", className: "card"},
      el("h2", {text: "Upload an image"}),
      el("label", {}, "Name", el("input", {name: "name", required: true})),
      el("label", {}, "Disk format", el("select", {name: "disk_format"},
        ["qcow2", "raw", "iso", "vmdk", "vdi", "vhdx"].map((d) => option(d, d)))),
      el("label", {}, "File", el("input", {name: "file", type: "file", required: true})),
      el("button", {type: "submit", text: "Upload"}));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = form.elements;
      const file = f.file.files[0];
      guarded(async () => {
        const image = await api("image", "POST", "/v2/images", {body: {
          name: f.name.value, disk_format: f.disk_format.value, container_format: "bare"}});
        await api("image", "PUT", `/v2/images/${encodeURIComponent(image.id)}/file`,
          {raw: file});
        form.reset();
        await refresh();
      });
    });
    view().replaceChildren(el("h1", {text: "Images"}),
      table(["Name", "Status", "Disk format", "Size", "Visibility", "ID", ""], body), form);
    return {
      async refresh() {
        const data = await api("image", "GET", "/v2/images?limit=1000");
        body.replaceChildren(...(data.images || []).map((i) => el("tr", {dataset: {id: i.id}},
          cell(i.name), cell(i.status), cell(i.disk_format), cell(i.size), cell(i.visibility),
          cell(i.id), cell(el("button", {type: "button", text: "Delete", onclick: () => {
            if (!window.confirm(`Delete image ${i.name}?`)) return;
            guarded(async () => {
              await api("image", "DELETE", `/v2/images/${encodeURIComponent(i.id)}`);
              await refresh();
            });
          }})))));
      },
    };
  }

  function flavorsView() {
    const body = el("tbody");
    view().replaceChildren(el("h1", {text: "Flavors"}),
      table(["Name", "vCPUs", "RAM (MiB)", "Disk (GiB)", "ID"], body));
    return {
      async refresh() {
        const data = await api("compute", "GET", "/flavors/detail");
        body.replaceChildren(...(data.flavors || []).map((f) => el("tr", {},
          cell(f.name), cell(f.vcpus), cell(f.ram), cell(f.disk), cell(f.id))));
      },
    };
  }

  function keypairsView() {
    const body = el("tbody");
    const secret = el("pre", {id: "private-key", hidden: true});
    const form = el("form", {id: "create-keypair", className: "card"},
      el("h2", {text: "Create or import a key pair"}),
      el("label", {}, "Name", el("input", {name: "name", required: true})),
      el("label", {}, "Public key (empty: generate one; shown once)",
        el("textarea", {name: "public_key", rows: 3})),
      el("button", {type: "submit", text: "Save"}), secret);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = form.elements;
      const keypair = {name: f.name.value};
      const publicKey = f.public_key.value.trim();
      if (publicKey) keypair.public_key = publicKey;
      guarded(async () => {
        // NOTE: from 2.92 the API only imports; generating needs 2.91.
        const version = publicKey ? undefined : minVersion(session.computeVersion, "2.91");
        const data = await api("compute", "POST", "/os-keypairs", {body: {keypair}, version});
        secret.hidden = !data.keypair.private_key;
        secret.textContent = data.keypair.private_key || "";
        form.elements.name.value = "";
        form.elements.public_key.value = "";
        await refresh();
      });
    });
    view().replaceChildren(el("h1", {text: "Key pairs"}),
      table(["Name", "Type", "Fingerprint", ""], body), form);
    return {
      async refresh() {
        const data = await api("compute", "GET", "/os-keypairs");
        body.replaceChildren(...(data.keypairs || []).map(({keypair: k}) => el("tr", {},
          cell(k.name), cell(k.type), cell(k.fingerprint),
          cell(el("button", {type: "button", text: "Delete", onclick: () => {
            if (!window.confirm(`Delete key pair ${k.name}?`)) return;
            guarded(async () => {
              await api("compute", "DELETE", `/os-keypairs/${encodeURIComponent(k.name)}`);
              await refresh();
            });
          }})))));
      },
    };
  }

  function networksView() {
    const body = el("tbody");
    const form = el("form", {id: "create-network", className: "card"},
      el("h2", {text: "Create a network"}),
      el("label", {}, "Name", el("input", {name: "name", required: true})),
      el("label", {}, "Subnet CIDR (optional)", el("input", {name: "cidr",
        placeholder: "10.0.5.0/24"})),
      el("button", {type: "submit", text: "Create"}));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = form.elements;
      guarded(async () => {
        const net = await api("network", "POST", "/v2.0/networks",
          {body: {network: {name: f.name.value}}});
        if (f.cidr.value.trim()) {
          await api("network", "POST", "/v2.0/subnets", {body: {subnet: {
            network_id: net.network.id, cidr: f.cidr.value.trim(), ip_version: 4,
            name: f.name.value + "-subnet"}}});
        }
        form.reset();
        await refresh();
      });
    });
    view().replaceChildren(el("h1", {text: "Networks"}),
      table(["Name", "Status", "Subnets", "Shared", "ID"], body), form);
    return {
      async refresh() {
        const data = await api("network", "GET", "/v2.0/networks");
        body.replaceChildren(...(data.networks || []).map((n) => el("tr", {},
          cell(n.name), cell(n.status), cell((n.subnets || []).length), cell(String(n.shared)),
          cell(n.id))));
      },
    };
  }

  // -- admin -------------------------------------------------------------

  function hostsView() {
    const hypervisors = el("tbody");
    const services = el("tbody");
    const hypervisorTable = table(["Host", "State", "Status", "vCPUs used/total",
      "RAM MiB used/total", "Disk GiB used/total", "Servers"], hypervisors);
    hypervisorTable.id = "hypervisors";
    view().replaceChildren(el("h1", {text: "Hosts"}), hypervisorTable,
      el("h2", {text: "Services"}),
      table(["Binary", "Host", "Zone", "Status", "State", "Updated", "Disabled reason"],
        services));
    return {
      async refresh() {
        // NOTE: capacity fields left os-hypervisors at 2.88 (Nova: ask
        // placement); 2.87 still has them.
        const hv = await api("compute", "GET", "/os-hypervisors/detail",
          {version: minVersion(session.computeVersion, "2.87")});
        hypervisors.replaceChildren(...(hv.hypervisors || []).map((h) => el("tr",
          {dataset: {host: h.hypervisor_hostname}},
          cell(h.hypervisor_hostname), cell(h.state), cell(h.status),
          cell(`${h.vcpus_used} / ${h.vcpus}`), cell(`${h.memory_mb_used} / ${h.memory_mb}`),
          cell(`${h.local_gb_used} / ${h.local_gb}`), cell(h.running_vms))));
        const svc = await api("compute", "GET", "/os-services");
        services.replaceChildren(...(svc.services || []).map((s) => el("tr", {},
          cell(s.binary), cell(s.host), cell(s.zone), cell(s.status), cell(s.state),
          cell(s.updated_at), cell(s.disabled_reason))));
      },
    };
  }

  function projectsView() {
    const body = el("tbody");
    view().replaceChildren(el("h1", {text: "Projects"}),
      table(["Name", "ID", "Enabled", "Description"], body));
    return {
      async refresh() {
        const data = await api("identity", "GET", "/v3/projects");
        body.replaceChildren(...(data.projects || []).map((p) => el("tr", {},
          cell(p.name), cell(p.id), cell(String(p.enabled)), cell(p.description))));
      },
    };
  }

  // -- routing -----------------------------------------------------------

  const VIEWS = {
    servers: serversView, create: createView, images: imagesView, flavors: flavorsView,
    keypairs: keypairsView, networks: networksView, hosts: hostsView, projects: projectsView,
  };

  async function render() {
    if (current && current.cleanup) current.cleanup();
    current = null;
    const loginForm = document.getElementById("login");
    const nav = document.getElementById("nav");
    const logoutButton = document.getElementById("logout");
    if (!session) {
      loginForm.hidden = false;
      nav.hidden = true;
      logoutButton.hidden = true;
      document.getElementById("whoami").textContent = "";
      view().replaceChildren();
      return;
    }
    loginForm.hidden = true;
    nav.hidden = false;
    logoutButton.hidden = false;
    for (const a of document.querySelectorAll(".admin-only")) a.hidden = !isAdmin();
    document.getElementById("whoami").textContent =
      `${session.user} @ ${session.project}` + (isAdmin() ? " (admin)" : "");
    startEvents();
    const hash = decodeURIComponent(location.hash.replace(/^#/, ""));
    const [name, arg] = hash.split(/\/(.*)/s);
    let made;
    if (name === "server" && arg) made = serverView(arg);
    else made = (VIEWS[name] || serversView)();
    const here = location.hash;
    const viewObject = await guarded(async () => made);
    if (location.hash !== here || !viewObject) return;
    current = viewObject;
    await refresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("login");
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = form.elements;
      guarded(async () => {
        await login(f.username.value, f.password.value, f.project.value);
        f.password.value = "";
        await render();
      });
    });
    document.getElementById("logout").addEventListener("click", () => logout());
    window.addEventListener("hashchange", () => render());
    setInterval(refresh, POLL_MS);
    render();
  });
})();

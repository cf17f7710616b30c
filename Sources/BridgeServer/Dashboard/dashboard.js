// The bridge's dashboard: one EventSource on /api/stream/dashboard, rendered as it comes.
// Nothing shown is invented: every figure is a field of the last event (or, in the polling
// fallback, of an /api/live_data answer).
(function () {
  "use strict";
  const statusBox = document.getElementById("status");
  const statusText = document.getElementById("status-text");
  const ageText = document.getElementById("age");
  const notice = document.getElementById("notice");
  const tokenForm = document.getElementById("token-form");
  const tokenInput = document.getElementById("token");
  const tokenError = document.getElementById("token-error");
  const symbols = document.getElementById("symbols");
  const cardTemplate = document.getElementById("symbol-card");

  const params = new URLSearchParams(location.search);
  let token = params.get("token") || sessionStorage.getItem("bridgelab-token") || "";
  let source = null;
  let lastEventAt = 0;
  let intervalSeconds = 5;
  let updates = 0;

  function query() { return token ? "?token=" + encodeURIComponent(token) : ""; }

  function setStatus(state, text) {
    statusBox.className = "status " + state;
    statusBox.dataset.state = state;
    statusText.textContent = text;
    document.body.classList.toggle("stale", state === "stale" || state === "reconnecting" || state === "disconnected");
  }

  function number(value, digits) {
    if (value === null || value === undefined) return "—";
    return Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }

  function decimals(values) {
    let most = 0;
    for (const value of values) {
      if (value === null || value === undefined) continue;
      const text = String(value);
      const dot = text.indexOf(".");
      if (dot >= 0) most = Math.max(most, Math.min(6, text.length - dot - 1));
    }
    return most;
  }

  function card(contract) {
    let element = symbols.querySelector('[data-contract="' + CSS.escape(contract) + '"]');
    if (!element) {
      element = cardTemplate.content.firstElementChild.cloneNode(true);
      element.dataset.contract = contract;
      symbols.appendChild(element);
    }
    return element;
  }

  function field(element, name, text) {
    const target = element.querySelector('[data-field="' + name + '"]');
    if (target && target.textContent !== text) target.textContent = text;
    return target;
  }

  function renderSymbol(s) {
    const element = card(s.contract);
    const digits = decimals([s.last, s.bid, s.ask, s.open]);
    element.dataset.seq = String(s.seq);
    element.dataset.active = String(s.active !== false);
    field(element, "root", s.root + (s.active === false ? " (expired)" : ""));
    field(element, "contract", s.contract);
    field(element, "last", number(s.last, digits));
    field(element, "bid", number(s.bid, digits));
    field(element, "ask", number(s.ask, digits));
    field(element, "volume", number(s.volume, 0));
    field(element, "trades", s.trades === undefined ? "—" : number(s.trades, 0));
    const change = field(element, "change", s.change === null || s.change === undefined ? "" : (s.change > 0 ? "+" : "") + number(s.change, digits));
    change.classList.toggle("up", s.change > 0);
    change.classList.toggle("down", s.change < 0);
    const points = s.spark || [];
    const line = element.querySelector(".spark polyline");
    if (points.length > 1) {
      const low = Math.min(...points), high = Math.max(...points), span = high - low || 1;
      line.setAttribute("points", points.map((p, i) => (i * 120 / (points.length - 1)).toFixed(1) + "," + (30 - (p - low) / span * 28).toFixed(1)).join(" "));
    } else {
      line.setAttribute("points", "");
    }
  }

  function renderBridge(d) {
    const bridge = document.getElementById("bridge");
    const b = d.bridge || {};
    const connections = b.connections || {};
    const parts = Object.keys(connections).sort().map((k) => k + " " + connections[k]);
    field(bridge, "connections", parts.length ? parts.join(" · ") : "0");
    field(bridge, "subscriptions", b.subscriptions === undefined ? "—" : String(b.subscriptions));
    const a = d.activity;
    field(bridge, "records", a ? number(a.records_per_s, 1) + " /s" : "—");
    field(bridge, "messages", a ? number(a.messages_per_s, 1) + " /s" : "—");
    const detect = a && a.detect_to_send_us;
    // Wake → queued is measured when an update reaches a subscriber's queue.
    field(bridge, "detect", detect ? number(detect.p50 / 1000, 2) + " / " + number(detect.p99 / 1000, 2) + " ms"
      : (a && a.records_per_s > 0 ? "no subscribers" : "no reads"));
    field(bridge, "cpu", a ? number(a.cpu_percent, 1) + " % · " + number(a.rss_mb, 1) + " MB" : "—");
    field(bridge, "uptime", (b.mode || "—") + " · " + (b.uptime_s === undefined ? "—" : formatDuration(b.uptime_s)));
  }

  function formatDuration(seconds) {
    const s = Math.floor(seconds);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + " h " : "") + (h || m ? m + " min " : "") + (s % 60) + " s";
  }

  function render(d) {
    lastEventAt = Date.now();
    if (d.interval_s) intervalSeconds = d.interval_s;
    for (const s of d.symbols || []) renderSymbol(s);
    renderBridge(d);
    updates += 1;
    document.body.dataset.updates = String(updates);
    document.body.dataset.eventSeq = String(d.seq);
    setStatus("connected", "live");
  }

  // How old the shown data is; past two intervals it is called stale.
  setInterval(function () {
    if (!lastEventAt) return;
    const age = (Date.now() - lastEventAt) / 1000;
    ageText.textContent = "updated " + age.toFixed(0) + " s ago";
    if (age > 2 * intervalSeconds && statusBox.dataset.state === "connected") setStatus("stale", "stale: no update for " + age.toFixed(0) + " s");
  }, 500);

  function askForToken(message) {
    if (source) { source.close(); source = null; }
    setStatus("unauthorized", "token needed");
    tokenForm.hidden = false;
    tokenError.textContent = message;
    tokenInput.focus();
  }

  tokenForm.addEventListener("submit", function (event) {
    event.preventDefault();
    token = tokenInput.value;
    sessionStorage.setItem("bridgelab-token", token);
    tokenForm.hidden = true;
    start();
  });

  // An EventSource cannot see an HTTP status: ask once with fetch whether the token is good.
  function start() {
    fetch("/api/symbols" + query(), { cache: "no-store" }).then(function (response) {
      if (response.status === 401) {
        askForToken(token ? "That token was refused." : "");
        return;
      }
      openStream();
    }, function () {
      setStatus("reconnecting", "bridge unreachable, retrying…");
      setTimeout(start, 2000);
    });
  }

  function openStream() {
    if (source) source.close();
    source = new EventSource("/api/stream/dashboard" + query());
    source.addEventListener("dashboard", function (event) {
      try { render(JSON.parse(event.data)); } catch (error) { console.error("bad dashboard event", error); }
    });
    source.onopen = function () { if (!lastEventAt) setStatus("connected", "connected, waiting for data"); };
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (an HTTP error): check the token and start again.
        setStatus("reconnecting", "connection refused, retrying…");
        setTimeout(start, 2000);
      } else {
        setStatus("reconnecting", "reconnecting…");
      }
    };
  }

  // Without EventSource: poll /api/live_data every 5 s, and say so.
  function startPolling() {
    notice.hidden = false;
    notice.textContent = "This browser has no EventSource: polling /api/live_data every 5 s (bridge figures need the stream).";
    function poll() {
      fetch("/api/symbols" + query(), { cache: "no-store" }).then(function (r) {
        if (r.status === 401) { askForToken(token ? "That token was refused." : ""); return null; }
        return r.json();
      }).then(function (list) {
        if (!list) return;
        return Promise.all((list.contracts || []).map(function (c) {
          return fetch("/api/live_data/" + encodeURIComponent(c.contract) + query(), { cache: "no-store" }).then(function (r) { return r.json(); })
            .then(function (s) {
              renderSymbol({ contract: s.contract, root: s.root, seq: s.seq, last: s.last ? s.last.price : null, bid: s.bid, ask: s.ask,
                             open: s.open, change: s.last && s.open !== undefined ? s.last.price - s.open : null, volume: s.volume, trades: s.trades,
                             active: c.active });
            });
        })).then(function () { lastEventAt = Date.now(); setStatus("connected", "polling"); });
      }).catch(function () { setStatus("reconnecting", "bridge unreachable, retrying…"); })
        .finally(function () { setTimeout(poll, 5000); });
    }
    poll();
  }

  if (typeof window.EventSource === "undefined") startPolling(); else start();
})();

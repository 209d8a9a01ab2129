// The live status badge of an event page: one WebSocket to /ws/events/{id}/, reconnecting with
// backoff. Every message carries its change_id; the socket (re)connects with ?after=<the last
// change_id seen> (at first, the page's own: data-last-change), and the server replays what was
// missed before the live messages. Only when it cannot (event.status.reset: too much missed, or
// no id known) is the event fetched again from the API.
(function () {
  "use strict";
  var root = document.querySelector("[data-live-event]");
  if (!root || !window.WebSocket) return;
  var eventId = root.getAttribute("data-live-event");
  var badge = root.querySelector("[data-status-badge]");
  var state = root.querySelector("[data-live-state]");
  var note = root.querySelector("[data-live-note]");
  var rendered = badge.getAttribute("data-status");
  var LABELS = {
    DRAFT: "Draft", CONFIRMED: "Confirmed", ONGOING: "Ongoing",
    COMPLETED: "Completed", CANCELLED: "Cancelled", ARCHIVED: "Archived"
  };
  var NOT_FOUND = 4404;
  var attempt = 0;
  var socket = null;
  var lastChange = root.getAttribute("data-last-change") || "";

  function show(status) {
    if (!LABELS[status] || status === badge.getAttribute("data-status")) return;
    badge.setAttribute("data-status", status);
    badge.className = "badge status-" + status.toLowerCase();
    badge.textContent = LABELS[status];
    // The buttons below were drawn for the old status: say so rather than guess new ones.
    if (note) note.hidden = status === rendered;
  }

  function setState(value) {
    if (state) state.setAttribute("data-live-state", value);
  }

  function refetch() {
    fetch("/api/events/" + eventId + "/", {
      credentials: "same-origin", headers: { Accept: "application/json" }
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && data.status) show(data.status); })
      .catch(function () { /* the socket still brings the next change */ });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var resume = lastChange ? "?after=" + encodeURIComponent(lastChange) : "";
    socket = new WebSocket(
      scheme + window.location.host + "/ws/events/" + eventId + "/" + resume
    );
    setState("connecting");
    socket.onopen = function () {
      attempt = 0;
      setState("connected");
      if (!resume) refetch();
    };
    socket.onmessage = function (message) {
      var data;
      try { data = JSON.parse(message.data); } catch (e) { return; }
      if (data && data.type === "event.status.reset") {
        lastChange = "";
        refetch();
        return;
      }
      var changes = data.type === "event.status.batch" ? data.changes : [data];
      (changes || []).forEach(function (change) {
        if (change && change.type !== undefined && change.type !== "event.status") return;
        if (!change || String(change.event_id) !== eventId) return;
        show(change.status);
        if (change.change_id) lastChange = String(change.change_id);
      });
    };
    socket.onclose = function (closed) {
      setState("offline");
      if (closed.code === NOT_FOUND) return;
      // 1 s, 2 s, 4 s ... up to 30 s, with jitter so a restarted server is not stampeded.
      var delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
      attempt += 1;
      window.setTimeout(connect, delay);
    };
  }

  connect();
})();

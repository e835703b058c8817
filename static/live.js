// Live parts of a page: every few seconds ask the server whether anything the user waits on changed
// (GET <meta name="live-url">, a small JSON answer that reads no case and no address), and only when it did,
// fetch this page again and swap in each element marked data-live (by id). The navigation badge follows the
// count of what waits. Pages work the same without this script: it only spares a reload.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="live-url"]');
  if (!window.fetch || !window.DOMParser) { return; }
  var url = meta ? meta.getAttribute("content") : null;
  var seconds = meta ? parseInt(meta.getAttribute("data-seconds") || "10", 10) : 10;
  var stamp = meta ? meta.getAttribute("data-stamp") : null;
  var busy = false;

  function isDirty(region) {
    // Never swap away what the user is doing: a focused field or one they have typed into.
    var active = document.activeElement;
    if (active && active !== document.body && region.contains(active) && active.matches("input, textarea, select")) {
      return true;
    }
    var fields = region.querySelectorAll("textarea, input[type=text], input:not([type])");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value !== fields[i].defaultValue) { return true; }
    }
    var open = region.querySelectorAll("details[open]");
    return open.length > 0;
  }

  function setBadge(waiting) {
    var badges = document.querySelectorAll("[data-live-badge]");
    for (var i = 0; i < badges.length; i++) {
      var badge = badges[i];
      badge.textContent = String(waiting);
      badge.hidden = !waiting;
    }
  }

  function refreshPage() {
    var regions = document.querySelectorAll("[data-live][id]");
    if (!regions.length) { return Promise.resolve(); }
    return fetch(window.location.href, {credentials: "same-origin", headers: {"X-Live": "1"}})
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        for (var i = 0; i < regions.length; i++) {
          var region = regions[i];
          var replacement = fresh.getElementById(region.id);
          if (replacement && !isDirty(region)) {
            region.innerHTML = replacement.innerHTML;
            region.setAttribute("data-live-updated", new Date().toISOString());
          }
        }
        countdowns();
      });
  }

  function poll() {
    if (!url || busy || document.hidden) { return; }
    busy = true;
    // X-Live: the server does not count this as activity, so an open page does not keep its session alive.
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json", "X-Live": "1"}})
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        setBadge(data.waiting);
        if (stamp !== null && data.stamp !== stamp) {
          stamp = data.stamp;
          return refreshPage();
        }
        stamp = data.stamp;
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { busy = false; });
  }

  // "held for 1 h 58 min": the server renders the words (in the page's language) with {h} and {m} left open.
  function countdowns() {
    var clocks = document.querySelectorAll("[data-countdown]");
    var now = Date.now();
    for (var i = 0; i < clocks.length; i++) {
      var clock = clocks[i];
      var left = Math.floor((Date.parse(clock.getAttribute("data-countdown")) - now) / 60000);
      var text;
      if (left <= 0) {
        text = clock.getAttribute("data-over");
      } else if (left >= 60) {
        text = clock.getAttribute("data-hm").replace("{h}", String(Math.floor(left / 60)))
          .replace("{m}", String(left % 60));
      } else {
        text = clock.getAttribute("data-m").replace("{m}", String(left));
      }
      if (text && clock.textContent !== text) { clock.textContent = text; }
    }
  }

  window.setInterval(countdowns, 15000);
  window.setInterval(poll, Math.max(2, seconds) * 1000);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { poll(); } });
})();

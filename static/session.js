// Warns shortly before the page session's idle limit and offers to stay signed in (GET /session/alive).
// Our own script, loaded from 'self' only; every page works without it.
(function () {
  "use strict";
  var box = document.getElementById("session-warning");
  if (!box) { return; }
  var idle = parseInt(box.getAttribute("data-idle-seconds"), 10) * 1000;
  var text = document.getElementById("session-warning-text");
  var stay = document.getElementById("session-stay");
  var warnText = text.textContent;
  var warnTimer = null, endTimer = null;

  function schedule() {
    clearTimeout(warnTimer);
    clearTimeout(endTimer);
    var lead = Math.min(2 * 60 * 1000, idle / 5);
    warnTimer = setTimeout(function () {
      text.textContent = warnText;
      stay.hidden = false;
      box.hidden = false;
      stay.focus();
    }, idle - lead);
    endTimer = setTimeout(function () {
      text.textContent = text.getAttribute("data-ended");
      stay.hidden = true;
      box.hidden = false;
    }, idle);
  }

  stay.addEventListener("click", function () {
    fetch(box.getAttribute("data-alive-url"), {credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (response.ok && !response.redirected) {
          box.hidden = true;
          schedule();
        } else {
          text.textContent = text.getAttribute("data-ended");
          stay.hidden = true;
        }
      });
  });
  schedule();
}());

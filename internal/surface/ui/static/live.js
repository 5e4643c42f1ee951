// jifen: pages that watch long work (a check run, later rankings, campaigns,
// backups) update themselves. A container marked data-live="URL" is polled
// every few seconds while its work is not finished; the URL answers
// {"finished": bool, "fields": {key: text}} and each element inside marked
//   data-live-text="key"   gets the text,
//   data-live-value="key"  / data-live-max="key" sets a <progress>'s value / max.
// A container marked data-live-done is already finished and is not polled.
// When the answer says finished, the page is reloaded once so the server
// renders the final state (with its buttons). Without JavaScript the page
// keeps its 刷新 link.
(function () {
  "use strict";
  var boxes = document.querySelectorAll("[data-live]");
  for (var i = 0; i < boxes.length; i++) { watch(boxes[i]); }

  function watch(box) {
    if (box.hasAttribute("data-live-done") || !window.fetch) { return; }
    var url = box.getAttribute("data-live");
    var every = (parseInt(box.getAttribute("data-live-every"), 10) || 3) * 1000;
    var delay = every;
    function tick() {
      if (document.hidden) { window.setTimeout(tick, every); return; }
      window.fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) {
          if (!r.ok) { throw new Error(String(r.status)); }
          return r.json();
        })
        .then(function (data) {
          fill(box, data.fields || {});
          if (data.finished) { window.location.reload(); return; }
          delay = every;
          window.setTimeout(tick, delay);
        })
        .catch(function () {
          // The server or network is away: try again, less often.
          delay = Math.min(delay * 2, 60000);
          window.setTimeout(tick, delay);
        });
    }
    window.setTimeout(tick, every);
  }

  function fill(box, f) {
    each(box, "data-live-text", function (el, v) { if (el.textContent !== v) { el.textContent = v; } });
    each(box, "data-live-value", function (el, v) { el.value = Number(v); });
    each(box, "data-live-max", function (el, v) { el.max = Number(v); });
    function each(root, attr, set) {
      var els = root.querySelectorAll("[" + attr + "]");
      for (var j = 0; j < els.length; j++) {
        var v = f[els[j].getAttribute(attr)];
        if (v !== undefined) { set(els[j], String(v)); }
      }
    }
  }
})();

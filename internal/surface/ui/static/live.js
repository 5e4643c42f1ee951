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
//
// A form marked data-estimate="URL" posts its fields there as they change
// (the server scores them and saves nothing) and fills the data-live-text
// elements of the element named by data-estimate-target: the live estimate.
// Without JavaScript the estimate is updated when the form is saved.
//
// Links inside an element marked data-unsaved-guard="form-id" warn once,
// with the element's [data-unsaved-message], when that form has input that
// is not saved (or was marked data-unsaved by the server); a second click
// on the link leaves.
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

  var est = document.querySelectorAll("form[data-estimate]");
  for (var k = 0; k < est.length; k++) { estimate(est[k]); }

  function estimate(form) {
    var target = document.getElementById(form.getAttribute("data-estimate-target"));
    if (!target || !window.fetch || !window.FormData || !window.URLSearchParams) { return; }
    var timer = 0, seq = 0;
    function run() {
      var mine = ++seq;
      window.fetch(form.getAttribute("data-estimate"), {
        method: "POST", credentials: "same-origin",
        headers: { "Accept": "application/json" },
        body: new URLSearchParams(new FormData(form))
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          // Only the answer to the latest change counts.
          if (data && mine === seq) { fill(target, data.fields || {}); }
        })
        .catch(function () { /* the saved estimate stays; saving updates it */ });
    }
    function later() { window.clearTimeout(timer); timer = window.setTimeout(run, 500); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  }

  var guards = document.querySelectorAll("[data-unsaved-guard]");
  for (var g = 0; g < guards.length; g++) { guard(guards[g]); }

  function guard(box) {
    var form = document.getElementById(box.getAttribute("data-unsaved-guard"));
    var msg = box.querySelector("[data-unsaved-message]");
    if (!form || !msg) { return; }
    var dirty = form.hasAttribute("data-unsaved");
    function touch() { dirty = true; }
    form.addEventListener("input", touch);
    form.addEventListener("change", touch);
    form.addEventListener("submit", function () { dirty = false; });
    box.addEventListener("click", function (e) {
      var a = e.target.closest && e.target.closest("a[href]");
      if (!a || !dirty || a.hasAttribute("data-warned")) { return; }
      e.preventDefault();
      a.setAttribute("data-warned", "1");
      msg.hidden = false;
      msg.setAttribute("tabindex", "-1");
      msg.focus();
    });
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

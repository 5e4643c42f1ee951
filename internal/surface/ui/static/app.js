// jifen: small enhancements only. Every page works without this file, and
// the CSP (script-src 'self') allows nothing inline, so everything is here.
(function () {
  "use strict";

  // Move focus to the error summary so screen readers announce it and a
  // keyboard user starts from the list of problems.
  var summary = document.querySelector(".error-summary[tabindex]");
  if (summary) { summary.focus(); }

  // A link in the error summary focuses its field and scrolls so the label
  // (and the message beside the field) is in view, not only the input.
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest(".error-summary a[href^='#']");
    if (!a) { return; }
    var input = document.getElementById(a.getAttribute("href").slice(1));
    if (!input) { return; }
    e.preventDefault();
    var field = input.closest(".field") || input;
    field.scrollIntoView();
    input.focus({ preventScroll: true });
  });

  // Ask before actions marked data-confirm (e.g. 退出所有设备, 停用账号), and
  // ignore a second submit of the same form while the first is on its way
  // (a double tap on a slow phone network).
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var msg = form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { e.preventDefault(); return; }
    if ((form.getAttribute("method") || "get").toLowerCase() !== "post") { return; }
    if (form.getAttribute("data-sent")) { e.preventDefault(); return; }
    form.setAttribute("data-sent", "1");
    // Allow a retry if the page is still here later (the request failed).
    window.setTimeout(function () { form.removeAttribute("data-sent"); }, 8000);
  });
  // Coming back with the browser's Back button restores the page from the
  // cache with data-sent still set; clear it.
  window.addEventListener("pageshow", function () {
    var sent = document.querySelectorAll("form[data-sent]");
    for (var i = 0; i < sent.length; i++) { sent[i].removeAttribute("data-sent"); }
  });

  // 显示/隐藏 beside each password field, so a person on a phone can check
  // what they typed (GOV.UK's password input).
  var pw = document.querySelectorAll("input[type=password]");
  for (var i = 0; i < pw.length; i++) { addToggle(pw[i]); }
  function addToggle(input) {
    var wrap = document.createElement("div");
    wrap.className = "password-wrap";
    input.parentNode.insertBefore(wrap, input);
    wrap.appendChild(input);
    var b = document.createElement("button");
    b.type = "button";
    b.className = "button secondary small-button";
    b.textContent = "显示";
    b.setAttribute("aria-controls", input.id);
    b.setAttribute("aria-label", "显示密码");
    wrap.appendChild(b);
    b.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      b.textContent = show ? "隐藏" : "显示";
      b.setAttribute("aria-label", show ? "隐藏密码" : "显示密码");
    });
    // Never submit the password as a visible text field (autofill, history).
    if (input.form) {
      input.form.addEventListener("submit", function () {
        input.type = "password";
        b.textContent = "显示";
        b.setAttribute("aria-label", "显示密码");
      });
    }
  }
})();

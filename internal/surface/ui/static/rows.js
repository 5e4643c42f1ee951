// jifen: 增加一行 without a round trip. A list of repeatable rows (the
// calculator, the declaration) starts with one blank row; its 增加一行
// button submits the form to get one more row when there is no script, and
// with this file copies the last row instead, renumbered and empty.
(function () {
  "use strict";

  function renumber(value, list, from, to) {
    if (!value) { return value; }
    return value.split(list + "[" + from + "]").join(list + "[" + to + "]")
      .replace(new RegExp("(^|[\\s-])" + list + "-" + from + "(?=-|$|\\s)", "g"), "$1" + list + "-" + to);
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button[name=add]");
    if (!b) { return; }
    var list = b.value;
    var box = document.getElementById("f-" + list);
    if (!box) { return; }
    var rows = box.querySelectorAll(":scope > fieldset.calc-row");
    if (!rows.length) { return; }
    e.preventDefault();
    var last = rows[rows.length - 1];
    var from = rows.length - 1, to = rows.length;
    var row = last.cloneNode(true);
    row.id = renumber(row.id, list, from, to);
    row.classList.remove("has-error");
    var errs = row.querySelectorAll(".field-error");
    for (var i = 0; i < errs.length; i++) { errs[i].parentNode.removeChild(errs[i]); }
    var bad = row.querySelectorAll(".has-error");
    for (i = 0; i < bad.length; i++) { bad[i].classList.remove("has-error"); }
    var all = row.querySelectorAll("[name], [id], [for], [aria-describedby]");
    for (i = 0; i < all.length; i++) {
      var el = all[i];
      ["name", "id", "for", "aria-describedby"].forEach(function (a) {
        if (el.hasAttribute(a)) { el.setAttribute(a, renumber(el.getAttribute(a), list, from, to)); }
      });
      el.removeAttribute("aria-invalid");
      if (el.tagName === "SELECT") { el.selectedIndex = 0; }
      else if (el.type === "checkbox" || el.type === "radio") { el.checked = false; }
      else if (el.tagName === "INPUT" || el.tagName === "TEXTAREA") { el.value = ""; }
    }
    var legend = row.querySelector("legend");
    if (legend) { legend.textContent = legend.textContent.replace(/第\d+条$/, "第" + (to + 1) + "条"); }
    last.parentNode.insertBefore(row, last.nextSibling);
    var first = row.querySelector("input, select, textarea");
    if (first) { first.focus(); }
  });
})();

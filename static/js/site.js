// Site-wide behaviour, kept small: confirmations before irreversible actions and the phone menu.
(function () {
  "use strict";
  // A form with data-confirm asks before it is sent; the text says what cannot be undone.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);
  // Phones: each row of a list becomes a card of "label value" lines (site.css, table.stack). Each
  // body cell is labelled with its column's heading; a table opts out with data-stack="no".
  function stackTables(root) {
    root.querySelectorAll("table").forEach(function (table) {
      var head = table.tHead;
      if (table.dataset.stack === "no" || !head || !head.rows.length) return;
      var labels = [];
      Array.prototype.forEach.call(head.rows[head.rows.length - 1].cells, function (cell) {
        for (var i = 0; i < (cell.colSpan || 1); i++) labels.push(cell.textContent.trim());
      });
      table.classList.add("stack");
      Array.prototype.forEach.call(table.tBodies, function (body) {
        Array.prototype.forEach.call(body.rows, function (row) {
          var column = 0;
          Array.prototype.forEach.call(row.cells, function (cell) {
            if (!cell.hasAttribute("data-label")) cell.setAttribute("data-label", labels[column] || "");
            column += cell.colSpan || 1;
          });
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { stackTables(document); });
  document.addEventListener("htmx:afterSettle", function (event) { stackTables(event.target); });
  // On a narrow screen the navigation collapses behind a menu button.
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("nav-toggle");
    var nav = document.getElementById("site-nav");
    if (!toggle || !nav) return;
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  });
})();

// Rows 17–20 (出海发行信息) are shown only when row 16 is "是". Without JavaScript the server
// shows them after the choice is saved; this only saves a round trip. No inline scripts (CSP).
(function () {
  "use strict";
  function sync() {
    var yes = document.querySelector('input[name="overseas"][value="1"]');
    var box = document.getElementById("overseas-fields");
    if (!yes || !box) return;
    box.hidden = !yes.checked;
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "overseas") sync();
  });
  document.addEventListener("DOMContentLoaded", sync);
})();

// Fill the status badge on the landing page from /health/.
(function () {
  "use strict";
  var badge = document.getElementById("health-status");
  if (!badge || !window.fetch) {
    return;
  }
  fetch(badge.dataset.healthUrl, { headers: { Accept: "application/json" } })
    .then(function (response) {
      return response.json();
    })
    .then(function (body) {
      var ok = body.status === "ok";
      badge.textContent = ok ? "healthy" : "degraded";
      badge.className = "badge " + (ok ? "badge-ok" : "badge-error");
    })
    .catch(function () {
      badge.textContent = "unreachable";
      badge.className = "badge badge-error";
    });
})();

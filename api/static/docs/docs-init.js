// Starts Swagger UI on /docs. A file of its own (not an inline script) so the page keeps the
// strict Content-Security-Policy of /verify; the spec URL comes from a data attribute.
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // No call to the public validator service (a third-party origin).
    validatorUrl: null,
  });
})();

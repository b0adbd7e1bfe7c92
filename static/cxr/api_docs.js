// Swagger UI on the API's schema. A file of ours because the Content-Security-Policy allows no inline script.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  const csrfToken = () => (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1];
  window.SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    domNode: root,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null, // never send the schema to an outside validator
    // "Try it out" while signed in uses the session: Django checks the CSRF token on writes.
    requestInterceptor: (request) => {
      const token = csrfToken();
      if (token) request.headers["X-CSRFToken"] = token;
      return request;
    },
  });
})();

// Swagger UI on /docs. A served file rather than a script in the page, so the page's
// Content-Security-Policy can refuse every inline script; the page says where the OpenAPI
// document is (data-openapi-url, with the API's root path).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    // No badge from the public validator: the page loads nothing from outside the API.
    validatorUrl: null,
  });
})();

// Swagger UI on /docs. A served file rather than a script in the page, so the page's
// Content-Security-Policy can refuse every inline script; the page says where the OpenAPI
// document is (data-openapi-url, with the API's root path).
//
// Outside development the API shows each caller the routes it may use (API_OPENAPI_ACCESS):
// the document is read with the credentials given to Authorize, and read again whenever they
// change, so the page shows what the key or token in use may call.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var url = root.dataset.openapiUrl;

  // The credentials Authorize holds, as the API reads them: a bearer token first, as Swagger
  // UI tries the operations' security requirements in order (never both: that is a 401).
  function credentials() {
    var headers = {};
    if (!window.ui) return headers;
    var authorized = window.ui.authSelectors.authorized();
    var bearer = authorized.getIn(["bearer", "value"]);
    var key = authorized.getIn(["apiKey", "value"]);
    if (bearer) headers.Authorization = "Bearer " + bearer;
    else if (key) headers["X-API-Key"] = key;
    return headers;
  }

  // Whether the document depends on the caller (it says so: Vary names the credentials); a
  // public one is not read again, so an expanded "Try it out" stays as it is.
  var perCaller = false;

  function reload() {
    // After the authorization state has changed: the wrapped action has returned.
    if (perCaller) setTimeout(function () { window.ui.specActions.download(url); }, 0);
  }

  function rereading(original) {
    return function () {
      var done = original.apply(null, arguments);
      reload();
      return done;
    };
  }

  function rereadOnAuthorization() {
    return {
      statePlugins: { auth: { wrapActions: { authorize: rereading, logout: rereading } } },
    };
  }

  window.ui = SwaggerUIBundle({
    url: url,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    plugins: [rereadOnAuthorization],
    requestInterceptor: function (request) {
      if (request.loadSpec) {
        var headers = credentials();
        for (var name in headers) request.headers[name] = headers[name];
      }
      return request;
    },
    responseInterceptor: function (response) {
      if (response.url === new URL(url, location.href).href) {
        perCaller = /authorization/i.test((response.headers || {}).vary || "");
      }
      return response;
    },
    // No badge from the public validator: the page loads nothing from outside the API.
    validatorUrl: null,
  });
})();

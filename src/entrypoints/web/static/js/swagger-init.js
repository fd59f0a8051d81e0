// Starts Swagger UI on /api/docs; kept in a file because the CSP forbids inline scripts.
(function () {
  var root = document.getElementById("swagger-ui");
  // Credentials kept by an earlier version of this page (persistAuthorization was on) go too.
  try { window.localStorage.removeItem("authorized"); } catch (e) { /* storage disabled */ }
  window.ui = SwaggerUIBundle({
    url: root.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false, // never keep passwords or tokens in the browser's storage
    oauth2RedirectUrl: root.dataset.oauthRedirect,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
})();

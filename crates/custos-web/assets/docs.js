window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  // No badge from validator.swagger.io: the page loads nothing from elsewhere.
  validatorUrl: null
});

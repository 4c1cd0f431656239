// Starts Swagger UI (files served by this server from the swagger-ui-py package) over totpkit's
// OpenAPI document. Loads nothing from other hosts: the online validator is turned off.
(() => {
  const config = JSON.parse(document.getElementById('totpkit-docs-config').textContent);

  function note(text) {
    const el = document.getElementById('docs-note');
    el.textContent = text;
    el.hidden = false;
  }

  if (!config.assets) {
    note(
      "Swagger UI's files are not installed: pip install 'totpkit[docs]' and restart the server. " +
        `The OpenAPI document is at ${config.openapiUrl}.`,
    );
    return;
  }

  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = `${config.assets}/swagger-ui.css`;
  document.head.append(css);

  const script = document.createElement('script');
  script.src = `${config.assets}/swagger-ui-bundle.js`;
  script.onload = () => {
    window.ui = window.SwaggerUIBundle({
      url: config.openapiUrl,
      dom_id: '#swagger-ui',
      deepLinking: true,
      validatorUrl: null,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: 'BaseLayout',
    });
  };
  script.onerror = () => note(`Could not load ${script.src}.`);
  document.head.append(script);
})();

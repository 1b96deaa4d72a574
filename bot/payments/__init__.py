"""Payment providers: each module verifies its provider's webhooks and reads their bodies into
`core.payments` events; `webhooks` puts them on the HTTP server. A new provider is one new
module here (and its name in `core.model.Provider`)."""

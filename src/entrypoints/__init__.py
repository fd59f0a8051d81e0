"""The driving side: configuration, DI container, Flask app, REST API, pages, CLI, worker."""

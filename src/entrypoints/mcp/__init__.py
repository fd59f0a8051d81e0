"""The MCP server (SPEC §15.2): promptcore's tools and the user's templates for AI assistants and
editors, on the official ``mcp`` SDK, acting for one user through a personal API key.

- tools.py     what is offered (tools, their schemas, the templates as prompts) and the calls into
               the container's use cases; errors in the API's shape
- server.py    the SDK's low-level Server with those handlers, for both transports
- http_app.py  the streamable HTTP ASGI app: the key checked on every request
- run.py       ``promptcore mcp`` (stdio) and ``promptcore mcp-http`` (uvicorn): checks, then serving

Nothing is imported here, so the CLI loads the SDK only for these two commands.
"""

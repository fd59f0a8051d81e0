"""Server-rendered pages, health probes, API docs and security headers."""

from __future__ import annotations

from flask import Flask, abort, request
from flask_wtf.csrf import CSRFProtect

from promptcore.domain.users import SESSION_MAX_AGE

csrf = CSRFProtect()

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# The development checkout's stand-in for YooKassa's API (dev_checkout.py, registered only with
# PROMPTCORE_BILLING=dev-checkout) is called by the app's own YooKassa adapter with HTTP Basic
# auth, like the real API: no page session, so no CSRF token. That blueprint alone is exempt;
# its payment page is a page form and keeps the check.
DEV_CHECKOUT_API = "dev_checkout_api"


def register_web(app: Flask) -> None:
    from . import (  # noqa: F401 - they add routes to views.bp
        account,
        admin_pages,
        api_key_pages,
        auth_pages,
        billing_pages,
        compare_pages,
        docs,
        generator,
        i18n,
        library_pages,
        probes,
        security_headers,
        team_library_pages,
        team_pages,
        template_pages,
        views,
    )

    security_headers.init_app(app)
    i18n.init_app(app)
    # Flask sets a default of its own (31 days), so setdefault would never apply: assign. The
    # session itself also ends SESSION_MAX_AGE after sign-in, however often the cookie is renewed.
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_MAX_AGE
    # CSRF on every page form; the API under /api/ authenticates with bearer tokens instead,
    # so the check is made here, by path, and covers API blueprints added at any time.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    csrf.init_app(app)

    @app.before_request
    def _no_nul_on_pages():
        # PostgreSQL cannot store or compare text holding NUL (it was a 500 from /login, /history?q=
        # and /admin?q=); no page input has a use for it. The API refuses it in its schemas (422).
        if request.path.startswith("/api/"):
            return
        fields = [request.args]
        if request.method in UNSAFE_METHODS:
            fields.append(request.form)
        for multidict in fields:
            for key, value in multidict.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    abort(400)

    @app.before_request
    def _csrf_on_pages():
        if request.method in UNSAFE_METHODS and not request.path.startswith("/api/") \
                and request.blueprint != DEV_CHECKOUT_API:
            csrf.protect()

    app.register_blueprint(probes.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(views.bp)

    settings = app.extensions["promptcore"].settings()
    if settings.billing == "dev-checkout":  # development only (§12.5)
        from . import dev_checkout

        dev_checkout.init_app(app, settings)

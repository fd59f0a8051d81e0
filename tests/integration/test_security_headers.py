"""Security headers on every GET route, answered or not, anonymous and signed in."""

from __future__ import annotations

from tests.conftest import build_test_app, make_settings

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def check(response, route):
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, route
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";", 1)[0], route
    for name, value in REQUIRED.items():
        assert response.headers.get(name) == value, (route, name)


def test_every_get_route_sends_the_security_headers(tmp_path):
    app, container = build_test_app(make_settings(tmp_path))
    client = app.test_client()
    routes = sorted({rule.rule for rule in app.url_map.iter_rules()
                     if "GET" in rule.methods and "<" not in rule.rule})
    assert len(routes) > 10
    for route in routes:
        check(client.get(route), route)
    for missing in ("/nope", "/api/v1/nope", "/static/nope.js"):
        check(client.get(missing), missing)


def test_request_bodies_over_the_limit_are_refused_everywhere(tmp_path):
    app, _ = build_test_app(make_settings(tmp_path))
    client = app.test_client()
    big = b"x" * (300 * 1024)
    r = client.post("/api/v1/auth/login", data=big, content_type="application/json")
    assert r.status_code == 413 and r.json["error"] == "payload_too_large"
    r = client.post("/login", data={"email": "a@b.co", "password": "x" * (300 * 1024)})
    assert r.status_code == 413

"""With auth enabled, publishing and deleting skills needs ``skills:publish``; reading needs
``skills:read``; refusals come in the registry's ``{"error": ...}`` body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.conftest import AuthHangar, make_key, make_role

BASE = "/registry/default/v0.1/x/dev.toolhive/skills"
SKILL = {"namespace": "io.github.auth", "name": "guarded", "description": "d", "version": "1.0.0"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthHangar]:
    proc = AuthHangar(Path(tmp_path_factory.mktemp("skills-auth"))).start()
    try:
        yield proc
    finally:
        proc.stop()


def test_publish_needs_skills_publish(server: AuthHangar) -> None:
    with server.admin() as admin:
        make_role(admin, "skill-reader", "skills:read")
        make_role(admin, "skill-publisher", "skills:read", "skills:publish")
        reader = make_key(admin, "reader", "skill-reader")
        publisher = make_key(admin, "publisher", "skill-publisher")
    with server.client_for(None) as anon:
        r = anon.post(BASE, json=SKILL)
        assert r.status_code == 401 and set(r.json()) == {"error"}
    with server.client_for(reader) as c:
        r = c.post(BASE, json=SKILL)
        assert r.status_code == 403 and set(r.json()) == {"error"}, r.text
        assert c.get(BASE).status_code == 200
    with server.client_for(publisher) as c:
        assert c.post(BASE, json=SKILL).status_code == 201
    with server.client_for(reader) as c:
        assert c.delete(f"{BASE}/io.github.auth/guarded/versions/1.0.0").status_code == 403
        assert c.get(f"{BASE}/io.github.auth/guarded").json()["version"] == "1.0.0"
    with server.client_for(publisher) as c:
        assert c.delete(f"{BASE}/io.github.auth/guarded/versions/1.0.0").status_code == 204

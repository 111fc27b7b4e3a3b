"""Bloom through plain HTTP (issue 13): its app as the HTTP listener serves it, on a socket of
the fixture. A login URL from the Unix socket gives a session cookie that opens only page
skeletons, and a token that opens the fragments and the API; logout and revoke end them."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from colony.api.auth import Auth
from colony.store.tokens import Tokens
from tests.api.conftest import BLOOM, Api, make_repo, settle
from tests.api.test_network import listed, refuse

WEB = '[services.web]\ncommand = "sleep 300"\n'


def login(api: Api) -> tuple[str, str]:
    """The session cookie and the API token a used login URL gives."""
    with api.client() as client:
        url = client.dashboard_url().url
    assert url.startswith(f"{BLOOM}/login?token=")
    split = urlsplit(url)
    with api.bloom() as bloom:
        page = bloom.get(f"{split.path}?{split.query}")
        used = bloom.get(f"{split.path}?{split.query}")
    assert page.status_code == 200, page.text
    assert used.status_code == 401  # a login URL works once
    assert "not valid" in used.text
    token = re.search(r'data-token="([^"]+)"', page.text)
    assert token is not None
    return page.cookies["colony_session"], token.group(1)


def token_for(api: Api, user: str, uid: int) -> str:
    """An API token of ``user``, as ``colony token`` run by that user would give."""

    async def make() -> str:
        auth = Auth(Tokens(api.services.access.store.conn), clock=api.services.clock)
        return str(auth.api_token(user, uid)["token"])

    return api.run(make())


def test_the_cookie_opens_pages_and_the_token_the_data(api: Api, tmp_path: Path) -> None:
    """When logged in, the cookie alone opens the index, the broods page and a colony's page
    but no fragment; the token opens the fragments, which show the colony, and the API; a
    fragment of an unknown colony is 404."""
    repo = make_repo(tmp_path / "repo", {"colony.toml": WEB})
    with api.client() as client:
        client.spawn("web", repo)
        settle(client, "web", "running")
    cookie, token = login(api)
    with api.bloom(headers={"Cookie": f"colony_session={cookie}"}) as browser:
        pages = [browser.get(path) for path in ("/", "/ui/broods", "/ui/colonies/web")]
        refused = browser.get("/ui/fragments/rows")
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as script:
        rows = script.get("/ui/fragments/rows")
        detail = script.get("/ui/fragments/colonies/web")
        previews = script.get("/ui/fragments/colonies/web/previews")
        unknown = script.get("/ui/fragments/colonies/nobody")
        listed = script.get("/colonies")
        foreign = script.get("/colonies", headers={"Origin": "http://evil.localhost:8000"})
    assert [p.status_code for p in pages] == [200, 200, 200]
    assert all("Content-Security-Policy" in p.headers for p in pages)
    assert "row-web" not in pages[0].text  # a skeleton: rows come from the fragment
    assert refused.status_code == 403
    assert "session cookie" in refused.json()["error"]["message"]
    assert rows.status_code == 200
    assert 'id="row-web"' in rows.text
    assert detail.status_code == 200
    assert '<h1>web <span id="badge" class="badge state-running">running</span></h1>' in detail.text
    assert previews.status_code == 200
    assert "no service with a port" in previews.text
    assert unknown.status_code == 404
    assert [c["name"] for c in listed.json()["colonies"]] == ["web"]
    assert foreign.status_code == 403


def test_static_files_need_no_login(api: Api) -> None:
    with api.bloom() as bloom:
        css = bloom.get("/static/bloom.css")
        missing = bloom.get("/static/nothing.css")
        page = bloom.get("/", headers={"Accept": "text/html"})
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404
    assert page.status_code == 401
    assert "colony dashboard" in page.text


def test_logout_ends_the_token_and_revoke_ends_every_one(api: Api) -> None:
    """When Bloom logs out, its token stops working; an API token for scripts works until the
    user revokes, after which it and every session are refused."""
    _cookie, token = login(api)
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as bloom:
        out = bloom.post("/logout")
        after = bloom.get("/colonies")
    assert out.json() == {"logged_out": True}
    assert after.status_code == 401
    with api.client() as client:
        issued = client.api_token()
        cookie, _token = login(api)
        with api.bloom(headers={"Authorization": f"Bearer {issued.token}"}) as script:
            before = script.get("/health")
        revoked = client.revoke_tokens()
    assert issued.url == BLOOM
    assert before.status_code == 200
    assert revoked.revoked >= 2
    with api.bloom() as bloom:
        gone = bloom.get("/health", headers={"Authorization": f"Bearer {issued.token}"})
        page = bloom.get("/", headers={"Cookie": f"colony_session={cookie}"})
    assert gone.status_code == 401
    assert page.status_code == 401


def test_refused_names_show_with_an_allow_button_for_the_owner_only(
    named_api: Api, tmp_path: Path
) -> None:
    """When the gate refused other.test:443, the colony page's fragment lists it with an
    Allow button that PATCHes the policy route; the button's request admits the name live
    (it leaves the list), while a viewer sees the name without a button and is refused."""
    api = named_api
    listed(api, tmp_path, "gated")
    refuse(api, "gated", "other.test", 443)
    with api.client() as client:
        client.share("gated", "nobody", "viewer")
    _cookie, token = login(api)
    viewer = token_for(api, "nobody", 65534)
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner:
        page = owner.get("/ui/colonies/gated")
        shown = owner.get("/ui/fragments/colonies/gated/blocked")
        button = re.search(r'<button [^>]*data-allow="([^"]+)" data-route="([^"]+)"', shown.text)
        assert button is not None, shown.text
        with api.bloom(headers={"Authorization": f"Bearer {viewer}"}) as other:
            seen = other.get("/ui/fragments/colonies/gated/blocked")
            refused = other.patch(button.group(2), json={"allow": [button.group(1)]})
        allowed = owner.patch(button.group(2), json={"allow": [button.group(1)]})
        after = owner.get("/ui/fragments/colonies/gated/blocked")
    assert 'id="blocked"' in page.text
    assert "<code>other.test</code>" in shown.text
    assert button.groups() == ("other.test:443", "/colonies/gated/policy")
    assert seen.status_code == 200
    assert "<code>other.test</code>" in seen.text
    assert "data-allow" not in seen.text
    assert refused.status_code == 403
    assert "nobody" in refused.json()["error"]["message"]
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["policy"]["allow"] == ["ok.test:443", "other.test:443"]
    assert "other.test" not in after.text
    assert "Nothing refused lately" in after.text

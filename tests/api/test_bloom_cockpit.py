"""Bloom's review cockpit, the rest of issue 18 and issue 17's part: the conflicts banner and
one conflicting file's diffs side by side, every name from a colony escaped and only the
colonies the viewer may see named; brood members linking their diffs and check output, and
"new brood"; the network panel's egress policy; a colony's secrets by name, never by value."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from tests.api.conftest import Api, make_repo
from tests.api.test_bloom import login, token_for
from tests.api.test_broods import OBJECTIVE, finished
from tests.api.test_network import listed
from tests.api.test_review import FILES, spawned
from tests.api.test_secrets import VALUE, running

HOSTILE = "<img src=x onerror=alert(1)>.txt"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;.txt"


def test_a_conflict_shows_a_banner_and_both_diffs_side_by_side(
    git_api: Api, tmp_path: Path
) -> None:
    """When colonies one and two of one repository both write a file named like HTML, the
    list's banner and each colony page's banner name the file (escaped) and both colonies,
    linking the side-by-side view, which shows each colony's own lines of that file. A
    viewer of one only sees the conflict with 'another colony', and its side-by-side view
    has one's lines only; a colony without a conflict has no banner."""
    api = git_api
    repo = make_repo(tmp_path / "repo", FILES)
    with api.client() as client:
        ws = spawned(client, repo, "one", "two", "three")
        client.share("one", "nobody", "viewer")
    (ws["one"] / HOSTILE).write_text("<script>one()</script>\n")
    (ws["two"] / HOSTILE).write_text("<script>two()</script>\n")
    _cookie, token = login(api)
    viewer = token_for(api, "nobody", 65534)
    query = urlencode({"repo": str(repo), "path": HOSTILE})
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner:
        banner = owner.get("/ui/fragments/conflicts").text
        of_one = owner.get("/ui/fragments/conflicts?colony=one").text
        of_three = owner.get("/ui/fragments/conflicts?colony=three").text
        page = owner.get(f"/ui/conflict?{query}")
        sides = owner.get(f"/ui/fragments/conflict?{query}")
        none = owner.get("/ui/fragments/conflict?" + urlencode({"repo": str(repo), "path": "x"}))
        index = owner.get("/").text
        colony = owner.get("/ui/colonies/one").text
    with api.bloom(headers={"Authorization": f"Bearer {viewer}"}) as other:
        theirs = other.get("/ui/fragments/conflicts").text
        of_unseen = other.get("/ui/fragments/conflicts?colony=two").text
        their_sides = other.get(f"/ui/fragments/conflict?{query}")
    for text in (banner, of_one, sides.text, theirs, their_sides.text):
        assert "<img" not in text
        assert "<script>" not in text
        assert ESCAPED in text
    assert 'id="conflicts"' in index
    assert 'id="conflicts"' in colony
    assert "in one, two" in banner
    assert f'href="/ui/conflict?{query}"' in banner.replace("&amp;", "&")
    assert "in one, two" in of_one
    assert of_three.strip() == ""
    assert page.status_code == 200
    assert 'data-page="conflict"' in page.text
    assert "one()" not in page.text  # a skeleton
    assert sides.status_code == 200, sides.text
    assert "&lt;script&gt;one()&lt;/script&gt;" in sides.text
    assert "&lt;script&gt;two()&lt;/script&gt;" in sides.text
    assert sides.text.count('class="panel file side"') == 2
    assert 'href="/ui/colonies/two/diff"' in sides.text
    assert none.status_code == 404
    assert "in one and 1 other colony" in theirs
    assert "two" not in theirs
    assert of_unseen.strip() == ""
    assert their_sides.status_code == 200, their_sides.text
    assert "&lt;script&gt;one()&lt;/script&gt;" in their_sides.text
    assert "two()" not in their_sides.text
    assert "/ui/colonies/two" not in their_sides.text
    assert "1 other colony you may not see changes it too" in their_sides.text


def test_broods_link_each_members_diff_and_check_output_and_a_form_makes_one(
    git_api: Api, tmp_path: Path
) -> None:
    """A brood made through the list page's form (POST /broods with objective, count,
    max-parallel and agent) runs; the broods fragment links each member's colony, diff and
    check output (the check's hostile output escaped) and offers pick. A viewer's fragment
    shows no brood of the owner's, the viewer's POST of a brood of the owner's repository is
    refused (403) and makes nothing, and a bad count is one error naming the field."""
    api = git_api
    check = "[check]\ncommand = \"echo '<script>checked()</script>'\"\n"
    repo = make_repo(tmp_path / "repo", {**FILES, "colony.toml": check})
    _cookie, token = login(api)
    viewer = token_for(api, "nobody", 65534)
    form = {"repo": str(repo), "objective": OBJECTIVE, "count": 2, "max_parallel": 1}
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner:
        index = owner.get("/").text
        bad = owner.post("/broods", json={**form, "count": "two"})
        with api.bloom(headers={"Authorization": f"Bearer {viewer}"}) as other:
            refused = other.post("/broods", json={**form, "agent": "claude", "name": "theirs"})
            with api.client() as client:
                assert client.broods().broods == []
                made = owner.post("/broods", json={**form, "agent": "claude", "name": "fix"})
                assert made.status_code == 202, made.text
                brood = finished(client, "fix")
            shown = owner.get("/ui/fragments/broods")
            page = owner.get("/ui/broods")
            theirs = other.get("/ui/fragments/broods").text
    for field in ('name="objective"', 'name="count"', 'name="max_parallel"', 'name="agent"'):
        assert field in index.split('id="brood-create"')[1].split("</form>")[0]
    assert bad.status_code == 400
    assert "count" in bad.json()["error"]["message"]
    assert refused.status_code == 403, refused.text
    assert "nobody" in refused.json()["error"]["message"]
    assert [m.check for m in brood.members] == [True, True]
    assert page.status_code == 200
    assert "fix-1" not in page.text  # a skeleton
    assert shown.status_code == 200, shown.text
    text = shown.text
    assert "<script>" not in text
    assert "&lt;script&gt;checked()&lt;/script&gt;" in text
    for member in ("fix-1", "fix-2"):
        assert f'href="/ui/colonies/{member}"' in text
        assert f'href="/ui/colonies/{member}/diff"' in text
        assert f'href="#check-fix-{member}"' in text
        assert f'id="check-fix-{member}"' in text
        assert f'data-pick="{member}" data-brood="fix"' in text
    assert "fix-1" not in theirs
    assert "No broods yet" in theirs


def test_the_network_panel_shows_the_egress_policy(named_api: Api, tmp_path: Path) -> None:
    """A colony with an allowlist shows its mode, its allow entry and no deny entry from
    colony.toml; once its owner adds a deny entry, the panel shows that and says who set
    the override; a viewer sees the same panel; an unknown colony is a 404."""
    api = named_api
    listed(api, tmp_path, "gated")
    with api.client() as client:
        client.share("gated", "nobody", "viewer")
    _cookie, token = login(api)
    viewer = token_for(api, "nobody", 65534)
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner:
        page = owner.get("/ui/colonies/gated").text
        before = owner.get("/ui/fragments/colonies/gated/network")
        changed = owner.patch("/colonies/gated/policy", json={"deny": ["bad.test"]})
        after = owner.get("/ui/fragments/colonies/gated/network").text
        missing = owner.get("/ui/fragments/colonies/nobody/network")
    with api.bloom(headers={"Authorization": f"Bearer {viewer}"}) as other:
        seen = other.get("/ui/fragments/colonies/gated/network").text
    assert 'id="network"' in page
    assert page.index('id="network"') < page.index('id="blocked"')
    assert before.status_code == 200, before.text
    assert '<strong class="egress-allowlist">allowlist</strong>' in before.text
    assert "from colony.toml" in before.text
    assert "<th>allow</th><td><code>ok.test:443</code></td>" in before.text
    assert '<th>deny</th><td><span class="dim">none</span></td>' in before.text
    assert changed.status_code == 200, changed.text
    assert "<th>deny</th><td><code>bad.test</code></td>" in after
    assert "from an override set by" in after
    assert "<code>bad.test</code>" in seen
    assert missing.status_code == 404


def test_secrets_are_listed_by_name_and_host_never_by_value(api: Api, tmp_path: Path) -> None:
    """The owner's secrets panel names the variable, its hosts and header and never the
    value (nor does any other fragment of the colony); a viewer's panel lists nothing and
    says who may see them."""
    running(api, tmp_path)
    with api.client() as client:
        client.set_secret("sec", "API_KEY", VALUE, ["api.example.test"], "x-api-key")
        client.share("sec", "nobody", "viewer")
    _cookie, token = login(api)
    viewer = token_for(api, "nobody", 65534)
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner:
        page = owner.get("/ui/colonies/sec").text
        shown = owner.get("/ui/fragments/colonies/sec/secrets")
        others = [
            owner.get(f"/ui/fragments/colonies/sec{part}").text
            for part in ("", "/network", "/blocked", "/agent")
        ]
    with api.bloom(headers={"Authorization": f"Bearer {viewer}"}) as other:
        seen = other.get("/ui/fragments/colonies/sec/secrets")
    assert 'id="secrets"' in page
    assert shown.status_code == 200, shown.text
    assert "<code>API_KEY</code>" in shown.text
    assert "<code>api.example.test</code>" in shown.text
    assert "x-api-key" in shown.text
    for text in (page, shown.text, *others, seen.text):
        assert VALUE not in text
    assert seen.status_code == 200
    assert "API_KEY" not in seen.text
    assert "Only its owner" in seen.text

"""Bloom's review cockpit, the rest of issue 18 and issue 17's part: the conflicts banner and
one conflicting file's diffs side by side, every name from a colony escaped and only the
colonies the viewer may see named."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from tests.api.conftest import Api, make_repo
from tests.api.test_bloom import login, token_for
from tests.api.test_review import FILES, spawned

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
    assert their_sides.status_code == 200, their_sides.text
    assert "&lt;script&gt;one()&lt;/script&gt;" in their_sides.text
    assert "two()" not in their_sides.text
    assert "/ui/colonies/two" not in their_sides.text
    assert "1 other colony you may not see changes it too" in their_sides.text

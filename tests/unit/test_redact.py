"""Redaction at the audit boundary: secrets in env, argv and text never pass; ordinary
commands, paths and ids do."""

from __future__ import annotations

import pytest

from colony.core.redact import (
    REDACTED,
    random_looking,
    redact_argv,
    redact_env,
    redact_event,
    redact_text,
    secret_name,
)


@pytest.mark.parametrize(
    "name",
    [
        "GITHUB_TOKEN",
        "API_KEY",
        "apikey",
        "AWS_SECRET_ACCESS_KEY",
        "PGPASSWORD",
        "DB_PASS",
        "--password",
        "--api-key",
        "SSH_KEY",
        "Authorization",
        "SESSION_ID",
        "SENTRY_DSN",
    ],
)
def test_secret_names(name: str) -> None:
    """When a variable or flag is named like a secret, its value is a secret."""
    assert secret_name(name)


@pytest.mark.parametrize("name", ["PATH", "HOME", "PWD", "KEYBOARD", "LANG", "COLONY_NAME"])
def test_ordinary_names(name: str) -> None:
    """When a variable has an ordinary name, its value is kept."""
    assert not secret_name(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("--password=hunter2", f"--password={REDACTED}"),
        ("export API_TOKEN=abc123 && run", f"export API_TOKEN={REDACTED} && run"),
        ("Authorization: Bearer abcdef0123456789", f"Authorization: Bearer {REDACTED}"),
        ("https://bob:hunter2@example.com/x", f"https://bob:{REDACTED}@example.com/x"),
        ("/items?page=2&token=abc", f"/items?page=2&token={REDACTED}"),
        ("key AKIAIOSFODNN7EXAMPLE", f"key {REDACTED}"),
        ("gh auth ghp_" + "a1B2" * 9, f"gh auth {REDACTED}"),
        ("sk-ant-api03-" + "x9Y8" * 8, REDACTED),
        (
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            REDACTED,
        ),
        ("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", f"secret {REDACTED}"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----", REDACTED),
    ],
)
def test_secrets_in_text(text: str, expected: str) -> None:
    """When text holds a secret, only the secret is replaced."""
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "git checkout 3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
        "/usr/lib/python3.11/site-packages/foo_bar/baz.py",
        "node_modules/@types/react-dom/index.d.ts",
        "pip install requests==2.31.0",
        "pytest -q tests/unit/test_model.py::test_slot_names",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "ThisIsAVeryLong2ClassNameForTesting",
        "KEYBOARD=us",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    """When text holds commands, paths, versions, commit ids or names, it is kept whole."""
    assert redact_text(text) == text


def test_random_looking() -> None:
    """When a long token mixes cases and digits with high entropy, it looks generated."""
    assert random_looking("Zq3xK9pLm2Vb7Nc4Rt8Wy1Hd")
    assert random_looking("abcd" + "0123456789abcdef" * 2)
    assert not random_looking("short1A")
    assert not random_looking("3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39")


def test_argv_flag_values() -> None:
    """When a secret flag takes its value as the next argument, that argument is redacted."""
    argv = ["mysql", "--password", "s3cr3t", "-u", "root", "--token=abc", "-h", "db"]
    assert redact_argv(argv) == [
        "mysql",
        "--password",
        REDACTED,
        "-u",
        "root",
        f"--token={REDACTED}",
        "-h",
        "db",
    ]


def test_env() -> None:
    """When an environment is redacted, secret-named values and secret-looking values go."""
    env = {"PATH": "/bin", "GITHUB_TOKEN": "x", "PWD": "/home", "X": "ghp_" + "a1" * 18}
    assert redact_env(env) == {
        "PATH": "/bin",
        "GITHUB_TOKEN": REDACTED,
        "PWD": "/home",
        "X": REDACTED,
    }


def test_event_walk() -> None:
    """When an event is redacted, argv, env, secret-named keys and nested text are covered."""
    event = {
        "type": "exec",
        "argv": ["curl", "--api-key", "k1"],
        "env": {"DB_PASSWORD": "pw", "MODE": "dev"},
        "password": "plain",
        "nested": [{"cmd": "API_TOKEN=zzz run"}],
        "code": 0,
        "tty": False,
    }
    assert redact_event(event) == {
        "type": "exec",
        "argv": ["curl", "--api-key", REDACTED],
        "env": {"DB_PASSWORD": REDACTED, "MODE": "dev"},
        "password": REDACTED,
        "nested": [{"cmd": f"API_TOKEN={REDACTED} run"}],
        "code": 0,
        "tty": False,
    }


def test_redaction_is_idempotent() -> None:
    """When redacted text is redacted again, nothing changes."""
    once = redact_text("curl -H 'Authorization: Bearer abcdef0123456789' --password=x")
    assert redact_text(once) == once

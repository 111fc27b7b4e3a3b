"""The quick commands without click (issue 15): ``colony ls``, ``show NAME``, ``url NAME
[SERVICE]`` and ``logs NAME [-n N] [--service S]`` (without ``-f``), each with ``--json``, as
the console script runs them.

Starting ``colony`` is mostly the time to load Python modules, and click alone costs more than
the request. :func:`run` answers these read-only commands with the bare-socket client
(:mod:`colony.client.wire`) and the same ``format_*`` functions, and prints exactly what the
click commands of :mod:`colony.cli.colonies` print. Whatever it does not handle plainly (any
other command or option, ``--help``, shell completion, a bad name or value, a daemon that
does not answer, an API error) it leaves, having printed nothing, to the full CLI, which then runs
the command and says what went wrong in its one place. Output to a terminal (or with
FORCE_COLOR / TTY_COMPATIBLE) goes through rich's Console as there; to a pipe, a Text's
plain string is what that Console writes, so rich's Console is not loaded for it, and the
``ls`` table and ``url``'s lines are written without rich at all (:mod:`colony.present.table`).

Example:
    colony ls | cut -d' ' -f1    # answered here: neither click nor rich is loaded
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

# The commands handled here: their positional arguments (least, most). Each takes --json.
QUICK = {"ls": (0, 0), "show": (1, 1), "url": (1, 2), "logs": (1, 1)}
# Options with a value, per command, and the name each value goes by (`logs` without -f).
VALUED = {"logs": {"--service": "service", "-n": "lines", "--lines": "lines"}}


class _Declined(Exception):
    """Not handled here: the full CLI runs the command."""


def run(argv: list[str]) -> int | None:
    """Run ``colony ARGV`` if it is a quick command that goes plainly: its exit status (0).
    None, having printed nothing, when the full CLI should run it instead. Ctrl-C and a
    reader that went away end it as they end the full CLI (colony.cli.app.ColonyGroup)."""
    try:
        socket_path, command, names, options, as_json = _parse(argv)
        if command == "logs":
            outs = _logs(socket_path, names[0], options, as_json)
        else:
            outs = [_answer(socket_path, command, names, as_json)]
        for out in outs:
            _print(out)
    except _Declined:
        return None
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


def _print(out: str | Text) -> None:
    if isinstance(out, str):  # JSON (as click.echo writes it: escaped, nothing to strip)
        sys.stdout.write(out + "\n")  # or the ls table for a pipe
    elif _terminal() or "\t" in out.plain:
        from rich.console import Console

        Console(soft_wrap=True, highlight=False).print(out)  # colony.cli.app._out
    else:
        # What that Console writes to a pipe: no styles and, with soft wrap, no wrapping or
        # padding; it would only expand tabs.
        sys.stdout.write(out.plain + "\n")
    sys.stdout.flush()


def _parse(argv: list[str]) -> tuple[str, str, list[str], dict[str, str], bool]:
    """(socket path, command, its names, its options' values, --json) of ``[--socket PATH]
    COMMAND ARGS``."""
    if any(key.startswith("_COLONY") for key in os.environ):  # shell completion
        raise _Declined
    socket_path = None
    args = list(argv)
    if args and args[0].startswith("--socket="):
        socket_path = args.pop(0).partition("=")[2]
    elif len(args) >= 2 and args[0] == "--socket":
        socket_path = args[1]
        del args[:2]
    if not args or args[0] not in QUICK:
        raise _Declined
    command, rest = args[0], args[1:]
    as_json = "--json" in rest
    valued = VALUED.get(command, {})
    names: list[str] = []
    options: dict[str, str] = {}
    while rest:
        arg = rest.pop(0)
        if arg in valued and rest and not rest[0].startswith("-"):
            if valued[arg] in options:
                raise _Declined
            options[valued[arg]] = rest.pop(0)
        elif arg != "--json":
            names.append(arg)
    least, most = QUICK[command]
    if args.count("--json") > 1 or any(n.startswith("-") for n in names):
        raise _Declined
    if not least <= len(names) <= most:
        raise _Declined
    if socket_path is None:
        socket_path = os.environ.get("COLONY_SOCKET") or _default_socket()
    if not socket_path:
        raise _Declined
    return socket_path, command, names, options, as_json


def _default_socket() -> str:
    from colony.client.base import default_socket

    return str(default_socket())


def _get(socket_path: str, path: str) -> Any:
    """The decoded JSON answer to ``GET path``."""
    from colony.client.wire import ProtocolError, Wire

    wire = Wire(socket_path, 30)
    try:
        status, content = wire.request("GET", path, None, None, -1)
        answer = json.loads(content)
    except (OSError, ProtocolError, ValueError):
        raise _Declined from None
    finally:
        wire.close()
    if status >= 400 or not isinstance(answer, dict):
        raise _Declined
    return answer


def _answer(socket_path: str, command: str, names: list[str], as_json: bool) -> str | Text:
    """What ``colony COMMAND NAMES`` prints: JSON, or the Text to print."""
    from colony import contract_responses as answers
    from colony.errors import ColonyError

    try:
        if names:
            from colony.core.names import check_name

            check_name(names[0])
        if command == "ls":
            colonies = answers.load(
                answers.Colonies, _get(socket_path, "/colonies"), "GET /colonies"
            )
            if as_json:
                return _json(colonies)
            if not _terminal():
                from colony.present.table import plain_table

                plain = plain_table(colonies.colonies, time.time())
                if plain is not None:  # else rich cleans and measures the cells
                    return plain
            from colony.present import format_table

            return format_table(colonies.colonies, time.time())
        if command == "show":
            path = f"/colonies/{names[0]}"
            colony = answers.load(answers.Colony, _get(socket_path, path), f"GET {path}")
            if as_json:
                return _json(colony)
            from colony.present import format_colony

            return format_colony(colony, time.time())
        path = f"/colonies/{names[0]}/urls"
        urls = answers.load(answers.Urls, _get(socket_path, path), f"GET {path}").urls
    except ColonyError:
        raise _Declined from None
    if len(names) == 2:
        if not urls.get(names[1]):
            raise _Declined  # the full CLI says which services have one
        urls = {names[1]: urls[names[1]]}
    if as_json:
        return _json({"urls": urls})
    if not any(urls.values()):
        raise _Declined
    if not _terminal():  # as format_urls: one URL alone, else "service  URL" by service
        from colony.present.table import plain_grid

        known = sorted((svc, url) for svc, url in urls.items() if url)
        if len(known) > 1:
            plain = plain_grid(known)
            if plain is not None:
                return plain
        elif known[0][1].isascii() and known[0][1].isprintable():
            return known[0][1]
    from colony.cli.format import format_urls

    return format_urls(urls)


def _logs(socket_path: str, name: str, options: dict[str, str], as_json: bool) -> list[str | Text]:
    """What ``colony logs NAME`` (without -f) prints, a line each: JSON, or Text."""
    from colony.client.colonies import ColoniesMixin
    from colony.core.names import check_name
    from colony.errors import ColonyError

    lines = options.get("lines", "200")
    if not (lines.isascii() and lines.isdigit()):
        raise _Declined  # the full CLI says what -n takes
    client = ColoniesMixin(socket_path)
    try:
        check_name(name)
        entries = list(client.logs(name, service=options.get("service"), lines=int(lines)))
    except (ColonyError, ValueError):
        raise _Declined from None
    finally:
        client.close()
    if as_json:
        return [json.dumps(entry) for entry in entries]
    from colony.present import format_log_line

    out: list[str | Text] = []
    width = 0
    for entry in entries:  # as colony.cli.colonies.logs
        width = max(width, len(str(entry.get("source") or "")))
        out.append(format_log_line(entry, width))
    return out


def _json(data: object) -> str:
    """As ``colony.cli.app._print_json`` prints it (but the newline)."""
    from colony.contract_responses import dump

    return json.dumps(dump(data), indent=2)


def _terminal() -> bool:
    """Whether rich's Console may treat stdout as a terminal (and style its output)."""
    if "FORCE_COLOR" in os.environ or "TTY_COMPATIBLE" in os.environ:
        return True
    try:
        return sys.stdout.isatty()
    except ValueError:
        return False

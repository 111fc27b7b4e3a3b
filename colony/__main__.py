"""python -m colony → the CLI."""

import sys


def _daemon_run(argv: list[str]) -> bool:
    return "daemon" in argv and argv[argv.index("daemon") + 1 :][:1] == ["run"]


def _cli() -> None:
    from colony.cli import main

    main()


if __name__ == "__main__":
    if _daemon_run(sys.argv):
        # Mycelium: take signals over before the slow imports, so that not even a SIGTERM
        # during start-up ends it without a word (issue 11).
        from colony.daemon.lifetime import Stop, early_signals

        early_signals()
        try:
            _cli()
        except Stop as stop:
            print(f"Mycelium exited: {stop}", file=sys.stderr)
            sys.exit(128 + stop.signum)
    else:
        _cli()

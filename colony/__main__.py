"""python -m colony → the CLI."""

from colony.cli import main

if __name__ == "__main__":
    main()

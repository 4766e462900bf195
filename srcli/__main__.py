"""`python -m srcli` is the same as the `srcli` console script (also what torchrun launches)."""

from srcli.cli.app import main

if __name__ == "__main__":
    main()

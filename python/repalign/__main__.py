"""``python -m repalign …``: the same command line as ``repalign …``."""

from repalign.cli import main

if __name__ == "__main__":
    main()

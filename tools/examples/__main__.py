"""`python -m tools.examples` (from the repository root): regenerate the example data."""

from .generate import main

if __name__ == "__main__":
    raise SystemExit(main())

"""The synthetic example data generator (`python -m tools.examples`); see generate.py."""

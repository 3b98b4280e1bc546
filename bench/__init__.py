"""Figures, never pass/fail: `make bench` prints them and writes bench/results/latest.md."""

"""Kept for tools that expect it; all metadata lives in pyproject.toml."""

from setuptools import setup

setup()

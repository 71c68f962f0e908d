"""The course's maintainer tools: run one as ``python tools/NAME.py`` or ``python -m tools.NAME`` (the Makefile's
targets do), import one as ``from tools import NAME`` (the tests do). Not part of the installed ``utils`` package."""

"""What every command line of the project shares: a user's mistake (a bad model, crop, frame, option
or store) prints one line ``error: ...`` naming the thing and the limit and exits with status 2;
anything else is a bug and keeps its traceback.

    ap = ArgumentParser(...)                     # option errors raise UserError instead of exiting
    ap.add_argument("--stall", type=int_in(0, 255))

    @command_line
    def main(argv=None) -> int: ...
"""

from __future__ import annotations

import argparse
import functools
import sys

from golden.cityscapes import CityscapesError
from golden.qgraph import ModelError, read_model

__all__ = ["UserError", "USER_ERRORS", "ArgumentParser", "command_line", "int_in", "float_in", "onnx_file"]

EXIT_USER_ERROR = 2  # argparse's own status for a bad option


class UserError(ValueError):
    """An input the flow refuses (option, file, store); the message names it and the limit it broke."""


# The exceptions a command line reports as one line: each names the user's input it refuses.
USER_ERRORS = (UserError, ModelError, CityscapesError)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a bad option raises UserError (one line, status 2 through ``command_line``)."""

    def error(self, message):
        raise UserError(message)


def command_line(main):
    """Wrap a ``main(argv) -> int``: a user error prints ``error: <message>`` on stderr and returns 2."""

    @functools.wraps(main)
    def wrapped(argv=None) -> int:
        try:
            return main(argv)
        except USER_ERRORS as exc:
            print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, whatever the message
            return EXIT_USER_ERROR

    return wrapped


def int_in(lo: int, hi: int | None = None):
    """An argparse type: an integer in [lo, hi] (no upper limit when hi is None)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if v < lo or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {lo}..{hi}, not {v}" if hi is not None else
                                             f"must be at least {lo}, not {v}")
        return v

    parse.__name__ = "integer"
    return parse


def float_in(lo: float, *, exclusive: bool = False):
    """An argparse type: a finite float at least ``lo`` (above it when ``exclusive``)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (v > lo if exclusive else v >= lo) or v == float("inf"):
            raise argparse.ArgumentTypeError(f"must be {'above' if exclusive else 'at least'} {lo:g} and finite, "
                                             f"not {text}")
        return v

    parse.__name__ = "number"
    return parse


def onnx_file(text: str) -> str:
    """An argparse type: the path of a file that parses as an ONNX model (golden.qgraph.read_model;
    what it holds is load_qgraph's to judge)."""
    try:
        read_model(text)
    except ModelError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text

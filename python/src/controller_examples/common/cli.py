"""The command line every program shares: options, usage errors, JSON lines, exit statuses.

The contract (conformance/CONTRACT.md) fixes three exit statuses: 0 for success, 1 for an API or connection
error, 2 for a usage error, and says a failing program prints exactly one line starting with `error: `,
never a stack trace. argparse does most of the work; we change how it reports a usage error (its default
is a usage block, then `prog: error: ...`) and wrap each program's `main` so that every failure ends as one
line and the right status.
"""

import argparse
import json
import logging
import re
import signal
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from controller_examples.common.errors import CommandError, one_line

USAGE_ERROR = 2
RUNTIME_ERROR = 1


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a usage error reported as one `error: ...` line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"error: {message}\n")


def non_empty(text: str) -> str:
    """An argparse type: any string but the empty one."""
    if not text:
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1, written in plain digits."""
    # int() alone would also take " 5", "+5", "1_000" and non-ASCII digits; the other languages would not.
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return int(text)


# The largest --timeout, in seconds (2^31-1, about 68 years): the same bound in every language, and one every
# timer they use can hold (signal.alarm takes a C int and raises OverflowError beyond it).
TIMEOUT_MAX = 2**31 - 1


def timeout_seconds(text: str) -> int:
    """An argparse type: a whole number of seconds from 1 to TIMEOUT_MAX, written in plain digits."""
    seconds = positive_int(text)
    if seconds > TIMEOUT_MAX:
        raise argparse.ArgumentTypeError(f"must be at most {TIMEOUT_MAX} seconds, got {text!r}")
    return seconds


def build_parser(prog: str, description: str) -> ArgumentParser:
    """The options both programs take: which pods, how to print them, which cluster."""
    # allow_abbrev=False: argparse would otherwise accept "--name" for "--namespace"; kubectl does not.
    parser = ArgumentParser(prog=prog, description=description, allow_abbrev=False)
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n", "--namespace", type=non_empty, help="the namespace (default: the context's, else 'default')"
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="pods of every namespace")
    parser.add_argument("-l", "--selector", help="a label selector, e.g. app=web,tier!=db")
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table", help="output format")
    parser.add_argument("--kubeconfig", metavar="PATH", help="the kubeconfig file to use")
    parser.add_argument("--context", metavar="NAME", help="the kubeconfig context to use")
    return parser


def chosen_namespace(options: argparse.Namespace, default: str) -> str | None:
    """The namespace the command line asks for (`default` when it names none); None means all of them."""
    if options.all_namespaces:
        return None
    return options.namespace or default


def json_line(record: dict[str, object]) -> str:
    """One compact JSON object on one line, keys in the order given, text as UTF-8 rather than \\u escapes."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def run(main: Callable[[Sequence[str]], None]) -> NoReturn:
    """Run a program's `main` with the command-line arguments and exit with the contract's status."""
    _behave_like_a_unix_tool()
    try:
        main(sys.argv[1:])
    except CommandError as error:
        _fail(one_line(error))
    except Exception as error:
        # A bug, not a cluster problem. The contract still wants one line rather than a traceback.
        _fail(f"unexpected {type(error).__name__}: {one_line(error)}")
    sys.exit(0)


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr, flush=True)
    sys.exit(RUNTIME_ERROR)


def _behave_like_a_unix_tool() -> None:
    # Python turns SIGINT into a KeyboardInterrupt traceback and ignores SIGPIPE (so `list-pods | head`
    # ends with a BrokenPipeError traceback). Give both back their default action, ending the process
    # quietly, as they do for the Go and Bash versions. watch-pods installs its own handlers on top.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # urllib3 reports things like "Retrying (...) after connection broken" or "Connection pool is full"
    # as logging warnings. They stay off stderr only as long as nobody configures logging; say so
    # explicitly, since the contract allows exactly one line on stderr.
    logging.getLogger("urllib3").setLevel(logging.ERROR)

"""The command line: options as the contract lists them, usage errors as one line and exit status 2."""

import pytest

from controller_examples.common.cli import TIMEOUT_MAX, build_parser, chosen_namespace, timeout_seconds


def parse(*argv: str, timeout: bool = False):
    parser = build_parser("list-pods", "test")
    if timeout:
        parser.add_argument("--timeout", type=timeout_seconds)
    return parser.parse_args(argv)


def usage_error(capsys, *argv: str, timeout: bool = False) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv, timeout=timeout)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def test_defaults():
    options = parse()
    assert options.namespace is None
    assert options.all_namespaces is False
    assert options.selector is None
    assert options.output == "table"
    assert options.kubeconfig is None
    assert options.context is None


@pytest.mark.parametrize(
    "argv",
    [("-n", "x"), ("-n=x",), ("-nx",), ("--namespace", "x"), ("--namespace=x",)],
)
def test_namespace_forms(argv):
    assert parse(*argv).namespace == "x"


def test_all_the_options():
    options = parse("-A", "-l", "app=web", "-o", "json", "--kubeconfig", "/k", "--context", "c")
    assert options.all_namespaces is True
    assert options.selector == "app=web"
    assert options.output == "json"
    assert (options.kubeconfig, options.context) == ("/k", "c")


def test_long_forms_with_equals():
    options = parse("--all-namespaces", "--selector=a=b", "--output=json", "--kubeconfig=/k", "--context=c")
    assert (options.all_namespaces, options.selector, options.output) == (True, "a=b", "json")


def test_timeout():
    assert parse("--timeout", "30", timeout=True).timeout == 30
    assert parse("--timeout", "08", timeout=True).timeout == 8
    assert parse("--timeout", "2147483647", timeout=True).timeout == TIMEOUT_MAX == 2**31 - 1
    assert parse(timeout=True).timeout is None


# Beyond 2^31-1, signal.alarm would raise OverflowError (exit 1, not the contract's 2).
@pytest.mark.parametrize(
    "value", ["0", "-1", "1.5", "abc", "", " 5", "+5", "٣", "2147483648", "9223372036854775808", "1" + "0" * 40]
)
def test_bad_timeout_is_a_usage_error(capsys, value):
    assert "--timeout" in usage_error(capsys, f"--timeout={value}", timeout=True)


@pytest.mark.parametrize(
    "argv",
    [
        ("-n", "x", "-A"),
        ("-A", "--namespace=x"),
        ("-o", "yaml"),
        ("extra",),
        ("--unknown",),
        ("--name", "x"),  # no abbreviations of --namespace
        ("-n",),
        ("-n", ""),
        ("-n=",),
        ("--namespace", ""),
        ("--namespace=",),
    ],
)
def test_usage_errors(capsys, argv):
    usage_error(capsys, *argv)


def test_help_goes_to_stdout_and_exits_0(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse("--help")
    assert exit_info.value.code == 0
    out, err = capsys.readouterr()
    assert out.startswith("usage: list-pods") and err == ""


def test_chosen_namespace():
    assert chosen_namespace(parse(), "ctx-ns") == "ctx-ns"
    assert chosen_namespace(parse("-n", "x"), "ctx-ns") == "x"
    assert chosen_namespace(parse("-A"), "ctx-ns") is None

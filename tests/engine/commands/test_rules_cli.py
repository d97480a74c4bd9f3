"""`callflow rules check`: the summary, every error on stderr, exit codes."""
from pathlib import Path

BAD = Path(__file__).parents[2] / "rules" / "fixtures" / "bad"


def test_check_good_file(callflow, example):
    r = callflow("rules", "check", example)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok: 3 numbers, 20 entries\n"
    assert r.stderr == ""


def test_check_bad_file_lists_every_error(callflow):
    r = callflow("rules", "check", BAD / "values.yaml")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.splitlines() == (BAD / "values.expected").read_text().splitlines()


def test_allow_prefix_is_a_deployment_option(callflow, example):
    r = callflow("rules", "check", example, "--allow-prefix", "+55", "--allow-prefix", "sip:")
    assert r.returncode == 0, r.stderr
    r = callflow("rules", "check", example, "--allow-prefix", "+5511")
    assert r.returncode == 1
    assert ("numbers.+551140040000.forwarding[2].to: +5521977770000 is not allowed by this "
            "deployment's destination allow-list (+5511)") in r.stderr.splitlines()


def test_missing_file(callflow, tmp_path):
    r = callflow("rules", "check", tmp_path / "none.yaml")
    assert r.returncode == 1
    assert r.stderr == f"{tmp_path / 'none.yaml'}: cannot read: No such file or directory\n"


def test_check_needs_an_action(callflow):
    assert callflow("rules").returncode == 2


def test_commands_do_not_import_gevent(callflow, example):
    import subprocess
    import sys
    code = ("import sys; from engine.cli import main; rc = main(['rules', 'check', %r]); "
            "assert 'gevent' not in sys.modules, 'gevent imported'; sys.exit(rc)" % str(example))
    r = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[3],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr

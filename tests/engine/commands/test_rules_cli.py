"""`callflow rules check`: the summary, every error on stderr, exit codes."""
from pathlib import Path

BAD = Path(__file__).parents[2] / "rules" / "fixtures" / "bad"
LINT = Path(__file__).parents[2] / "rules" / "fixtures" / "lint"
MEDIA = Path(__file__).parents[3] / "media"


def test_check_good_file(callflow, example):
    # --today: the example has a Christmas-week message, dead (a warning) after 2026-12-26.
    r = callflow("rules", "check", example, "--today", "2026-11-27")
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


def test_warnings_are_printed_and_exit_0(callflow):
    r = callflow("rules", "check", LINT / "dead.yaml", "--today", "2026-11-27")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok: 1 number, 9 entries, 5 warnings\n"
    assert r.stderr.splitlines() == (LINT / "dead.expected").read_text().splitlines()


def test_strict_makes_warnings_fail(callflow, example):
    r = callflow("rules", "check", LINT / "dead.yaml", "--today", "2026-11-27", "--strict")
    assert r.returncode == 1
    assert r.stderr.splitlines() == (LINT / "dead.expected").read_text().splitlines()
    r = callflow("rules", "check", example, "--today", "2026-11-27", "--strict")
    assert (r.returncode, r.stderr) == (0, "")
    r = callflow("rules", "check", example, "--today", "2026-12-27", "--strict")
    assert r.returncode == 1
    assert r.stderr == ("numbers.+558001234567.messages[1]: warning: never holds again: its "
                        "dates [2026-12-20..2026-12-26] are all before today (2026-12-27 in "
                        "America/Sao_Paulo)\n")


def test_today_must_be_a_date(callflow, example):
    r = callflow("rules", "check", example, "--today", "27/11/2026")
    assert r.returncode == 2
    assert "'27/11/2026' is not a date YYYY-MM-DD" in r.stderr


def test_media_of_the_example_is_complete(callflow, example):
    r = callflow("rules", "check", example, "--today", "2026-11-27", "--media", MEDIA)
    assert (r.returncode, r.stdout, r.stderr) == (0, "ok: 3 numbers, 20 entries\n", "")


def test_media_missing_and_not_wav(callflow, tmp_path):
    import shutil
    (tmp_path / "media").mkdir()
    shutil.copy(MEDIA / "welcome.wav", tmp_path / "media" / "welcome.wav")
    (tmp_path / "media" / "vm.wav").write_bytes(b"ID3\x04\x00 an mp3 renamed")
    conf = tmp_path / "rules.yaml"
    conf.write_text("""numbers:
  "+551140040000":
    messages:
      - {audio: welcome.wav}
      - {audio: bye.wav, at: end}
    voicemail:
      - {email: ops@example.com, greeting: vm.wav}
""")
    r = callflow("rules", "check", conf, "--media", tmp_path / "media")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        f"numbers.+551140040000.messages[1].audio: bye.wav: not found in {tmp_path / 'media'}",
        "numbers.+551140040000.voicemail[0].greeting: vm.wav: not a PCM WAV file (file does "
        "not start with RIFF id)",
    ]
    r = callflow("rules", "check", conf, "--media", tmp_path / "none")
    assert (r.returncode, r.stderr) == (1, f"{tmp_path / 'none'}: not a folder\n")

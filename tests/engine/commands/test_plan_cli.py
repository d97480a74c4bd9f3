"""`callflow plan`: the plan a call would get, as JSON."""
import json


def test_plan_local_time_in_the_numbers_zone(callflow, example):
    r = callflow("plan", example, "+55 11 4004-0000", "--caller", "21988887777",
                 "--at", "2026-11-27T10:00")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert list(plan) == ["number", "caller", "local_time", "start", "hangup", "forward",
                          "voicemail", "end", "trace"]
    assert plan["number"] == "+551140040000"
    assert plan["caller"] == "+5521988887777"
    assert plan["local_time"] == "2026-11-27T10:00:00-03:00"
    assert plan["start"] == ["welcome.wav"]
    assert [f["to"] for f in plan["forward"]] == [
        ["+5511999990000"], ["sip:ana@pbx.example.com", "+5521988880000"], ["+5521977770000"]]
    assert plan["forward"][0] == {"to": ["+5511999990000"], "ring_seconds": 20, "record": True}
    assert plan["end"] == ["thanks.wav"]
    assert r.stdout.startswith('{\n  "number"')   # indent 2


def test_plan_with_offset_and_no_caller(callflow, example):
    # 2026-11-29T06:00Z is Sunday 03:00 in Sao Paulo: the hangup entry holds.
    r = callflow("plan", example, "+551140040000", "--at", "2026-11-29T06:00:00Z")
    plan = json.loads(r.stdout)
    assert plan["caller"] == "anonymous"
    assert plan["hangup"] == "CALL_REJECTED"
    assert plan["forward"] == [] and plan["voicemail"] is None
    assert plan["start"] == ["closed.wav"]


def test_plan_past_midnight_window(callflow, example):
    r = callflow("plan", example, "0800 123 4567", "--caller", "+5511988887777",
                 "--at", "2026-11-28T03:00")
    plan = json.loads(r.stdout)
    assert plan["forward"] == [{"to": ["+5511988881111"], "ring_seconds": 45, "record": False}]


def test_unknown_number(callflow, example):
    r = callflow("plan", example, "+5511333300000", "--at", "2026-11-27T10:00")
    assert r.returncode == 0
    plan = json.loads(r.stdout)
    assert plan["hangup"] == "UNALLOCATED_NUMBER"
    assert plan["local_time"] == "2026-11-27T10:00:00-03:00"   # defaults.timezone
    assert "is not configured" in r.stderr


def test_bad_file_and_bad_time(callflow, example, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text('numbers:\n  "+551140040000": {forwarding: [{to: "+5511999990000", ring_seconds: 1}]}\n')
    r = callflow("plan", bad, "+551140040000")
    assert r.returncode == 1
    assert r.stderr == "numbers.+551140040000.forwarding[0].ring_seconds: must be between 5 and 300\n"
    r = callflow("plan", example, "+551140040000", "--at", "tomorrow")
    assert r.returncode == 2


def test_week_json(callflow, example):
    r = callflow("plan", example, "0800 123 4567", "--week", "--from", "2026-11-23",
                 "--caller", "+5511988887777", "--json")
    assert r.returncode == 0, r.stderr
    w = json.loads(r.stdout)
    assert list(w) == ["number", "from", "ranges"]
    assert w["number"] == "+558001234567" and w["from"] == "2026-11-23"
    ranges = w["ranges"]
    assert ranges[0]["start"] == "2026-11-23T00:00:00-03:00"
    assert ranges[-1]["end"] == "2026-11-30T00:00:00-03:00"
    assert all(a["end"] == b["start"] for a, b in zip(ranges, ranges[1:]))
    assert {"start": "2026-11-27T22:00:00-03:00", "end": "2026-11-28T00:00:00-03:00"}.items() \
        <= next(x for x in ranges if x["start"] == "2026-11-27T22:00:00-03:00").items()
    plan = ranges[0]["plan"]
    assert list(plan) == ["number", "caller", "start", "hangup", "forward", "voicemail", "end"]
    # Equal to `callflow plan --at` inside the range, minus trace and local_time.
    at = callflow("plan", example, "0800 123 4567", "--caller", "+5511988887777",
                  "--at", "2026-11-27T23:10")
    single = json.loads(at.stdout)
    del single["trace"], single["local_time"]
    night = next(x for x in ranges if x["start"] == "2026-11-27T22:00:00-03:00")
    assert night["plan"] == single


def test_week_table(callflow, example):
    r = callflow("plan", example, "+55 11 4004-0000", "--week", "--from", "2026-12-21")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "+551140040000, week from 2026-12-21 (America/Sao_Paulo), caller anonymous"
    assert lines[1].split() == ["day", "from-to", "messages", "destinations", "voicemail",
                                "hang-up"]
    rows = [line.split("  ") for line in lines[2:]]
    rows = [[c.strip() for c in row if c.strip()] for row in rows]
    assert rows[0][:2] == ["Mon 2026-12-21", "00:00-08:00"]
    christmas = [row for row in rows if row[0] == "Fri 2026-12-25"]
    assert christmas == [["Fri 2026-12-25", "00:00-24:00", "closed.wav, thanks.wav (end)", "-",
                          "ops@example.com", "-"]]
    sunday = [row for row in rows if row[0] == "Sun 2026-12-27"]
    assert sunday[0][1:] == ["00:00-06:00", "closed.wav, thanks.wav (end)", "-", "-",
                             "CALL_REJECTED"]


def test_week_options(callflow, example):
    r = callflow("plan", example, "+551140040000", "--week", "--from", "27/11/2026")
    assert r.returncode == 2 and "--from" in r.stderr
    r = callflow("plan", example, "+551140040000", "--week", "--at", "2026-11-27T10:00")
    assert r.returncode == 2
    r = callflow("plan", example, "+551140040000", "--from", "2026-11-27")
    assert r.returncode == 2
    r = callflow("plan", example, "+551140040000", "--week", "--json")   # today
    assert r.returncode == 0 and len(json.loads(r.stdout)["ranges"]) >= 7
    r = callflow("plan", example, "+5511333300000", "--week", "--from", "2026-11-23", "--json")
    assert r.returncode == 0 and "is not configured" in r.stderr
    assert {x["plan"]["hangup"] for x in json.loads(r.stdout)["ranges"]} == {"UNALLOCATED_NUMBER"}

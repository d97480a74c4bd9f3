"""Recordings and voicemails: streamed with Range (206/416), only from the configured
folders, only for calls the token may see."""
from __future__ import annotations

import os

import pytest

from tests.rules.api.conftest import ACME, GLOBEX, auth
from tests.rules.api.records import record, write_records

A = "+551140040000"
G = "+552130030000"
AUDIO = bytes(range(256)) * 40          # 10,240 bytes, every offset distinguishable


@pytest.fixture
def audio(store, folders, tmp_path):
    rec_dir, vm_dir = folders
    rec = rec_dir / "2026" / "11" / "27" / "c-rec.wav"
    rec.parent.mkdir(parents=True)
    rec.write_bytes(AUDIO)
    vm = vm_dir / "2026" / "11" / "27" / "c-vm.wav"
    vm.parent.mkdir(parents=True)
    vm.write_bytes(AUDIO[::-1])
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"secret")
    link = rec_dir / "link.wav"
    os.symlink(outside, link)
    write_records(store, [
        record("c-rec", A, recording=str(rec)),
        record("c-vm", A, voicemail=str(vm), outcome="voicemail"),
        record("c-none", A),
        record("c-outside", A, recording=str(outside)),
        record("c-traversal", A, recording=str(rec_dir / ".." / "secret.wav")),
        record("c-symlink", A, recording=str(link)),
        record("c-gone", A, recording=str(rec_dir / "gone.wav")),
        record("c-wrongdir", A, voicemail=str(rec)),     # a voicemail path in recordings/
        record("c-globex", G, recording=str(rec)),
    ])
    return rec, vm


def test_whole_file(client, audio):
    r = client.get("/v1/calls/c-rec/recording", headers=auth(ACME))
    assert r.status_code == 200
    assert r.content == AUDIO
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-disposition"].startswith("inline")
    v = client.get("/v1/calls/c-vm/voicemail", headers=auth(ACME))
    assert v.status_code == 200 and v.content == AUDIO[::-1]
    links = client.get("/v1/calls/c-rec", headers=auth(ACME)).json()
    assert links["recording_url"] == "/v1/calls/c-rec/recording"
    assert links["voicemail_url"] is None


@pytest.mark.parametrize("spec,start,end", [("bytes=0-99", 0, 99), ("bytes=1000-2047", 1000, 2047),
                                            ("bytes=10000-", 10000, 10239), ("bytes=-240", 10000, 10239),
                                            ("bytes=10200-99999", 10200, 10239)])
def test_range_gives_206_with_the_right_bytes(client, audio, spec, start, end):
    r = client.get("/v1/calls/c-rec/recording", headers={**auth(ACME), "Range": spec})
    assert r.status_code == 206
    assert r.content == AUDIO[start:end + 1]
    assert r.headers["content-range"] == f"bytes {start}-{end}/{len(AUDIO)}"
    assert int(r.headers["content-length"]) == end - start + 1


def test_multiple_ranges(client, audio):
    r = client.get("/v1/calls/c-rec/recording", headers={**auth(ACME), "Range": "bytes=0-9,100-109"})
    assert r.status_code == 206
    assert r.headers["content-type"].startswith("multipart/byteranges")
    assert AUDIO[0:10] in r.content and AUDIO[100:110] in r.content


@pytest.mark.parametrize("spec", ["bytes=10240-", "bytes=20000-30000"])
def test_unsatisfiable_range_is_416(client, audio, spec):
    r = client.get("/v1/calls/c-rec/recording", headers={**auth(ACME), "Range": spec})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(AUDIO)}"


def test_if_range_with_a_stale_validator_sends_the_whole_file(client, audio):
    r = client.get("/v1/calls/c-rec/recording",
                   headers={**auth(ACME), "Range": "bytes=0-9", "If-Range": '"stale"'})
    assert r.status_code == 200 and r.content == AUDIO


@pytest.mark.parametrize("uuid,kind", [("c-none", "recording"), ("c-none", "voicemail"),
                                       ("c-outside", "recording"), ("c-traversal", "recording"),
                                       ("c-symlink", "recording"), ("c-gone", "recording"),
                                       ("c-wrongdir", "voicemail"), ("c-rec", "voicemail"),
                                       ("nope", "recording")])
def test_refused_or_missing_audio_is_404(client, audio, uuid, kind):
    r = client.get(f"/v1/calls/{uuid}/{kind}", headers=auth(ACME))
    assert r.status_code == 404
    assert b"secret" not in r.content


def test_another_customers_recording_is_404(client, audio):
    assert client.get("/v1/calls/c-globex/recording", headers=auth(ACME)).status_code == 404
    assert client.get("/v1/calls/c-globex/recording", headers=auth(GLOBEX)).status_code == 200
    assert client.get("/v1/calls/c-rec/recording", headers=auth(GLOBEX)).status_code == 404
    assert client.get("/v1/calls/c-rec/recording").status_code == 401

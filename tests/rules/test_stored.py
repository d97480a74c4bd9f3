"""The stored form of a number, byte for byte: `rules push` compares it with what Redis
holds to write only what changed, so any drift in it would rewrite (and re-publish) every
number of every deployment on its next push."""
from __future__ import annotations

import json

from rules.loader import compile_number
from rules.models import Defaults
from rules.stored import StoredConfig

DATA = {"defaults": {"timezone": "America/Sao_Paulo", "region": "BR"}, "numbers": {
    "(11) 4004-0001": {
        "holidays": {"country": "BR", "subdivision": "SP"},
        "messages": [{"audio": "welcome.wav", "schedule": {"days": "Mon-Fri", "hours": "08:00-18:00"}}],
        "forwarding": [{"to": ["11 98888-7777", "sip:ana@pbx.example.com"], "ring_seconds": 20}],
        "voicemail": [{"email": "ops@example.com", "schedule": {"callers": "+5521*"}}]},
    "+551140040002": {"timezone": "America/Manaus", "hangup": [{}]},
    "+551140040003": None,
}}

STORED = {
    "+551140040001": (
        '{"timezone":"America/Sao_Paulo","holidays":{"country":"BR","subdivision":"SP"},'
        '"messages":[{"audio":"welcome.wav","at":"start","schedule":{"days":["mon-fri"],'
        '"hours":["08:00-18:00"]}}],"forwarding":[{"to":["+5511988887777",'
        '"sip:ana@pbx.example.com"],"ring_seconds":20,"record":false}],"voicemail":[{"email":'
        '["ops@example.com"],"max_seconds":120,"min_seconds":2,"schedule":{"callers":["+5521*"]}}]}'),
    "+551140040002": '{"timezone":"America/Manaus","hangup":[{"cause":"NORMAL_CLEARING"}]}',
    "+551140040003": '{"timezone":"America/Sao_Paulo"}',
}


def test_the_stored_form_is_canonical_and_self_contained():
    assert StoredConfig.from_mapping(DATA).entries == STORED


def test_a_stored_entry_compiles_alone_to_what_the_file_meant():
    stored = StoredConfig.from_mapping(DATA)
    for e164, doc in STORED.items():
        alone = compile_number(e164, json.loads(doc), Defaults())   # no region, no defaults
        assert alone.tzname == stored.ruleset[e164].tzname
        assert alone.entries == stored.ruleset[e164].entries
        assert ([e.value for e in alone.forwarding]
                == [e.value for e in stored.ruleset[e164].forwarding])

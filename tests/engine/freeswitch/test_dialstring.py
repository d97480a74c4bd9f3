import pytest

from engine.freeswitch.dialstring import DialTemplates, build
from rules.plan import ForwardAttempt


def test_single_e164_uses_template_and_ring_timeout():
    arg = build(ForwardAttempt(("+5511999990000",), 20), DialTemplates())
    assert arg == "{originate_timeout=20}sofia/gateway/default/+5511999990000"


def test_ring_together_joins_with_comma_and_keeps_ringback():
    arg = build(ForwardAttempt(("+5511999990000", "sip:ana@pbx.example.com"), 15), DialTemplates())
    assert arg == ("{originate_timeout=15,ignore_early_media=ring_ready}"
                   "sofia/gateway/default/+5511999990000,sofia/external/ana@pbx.example.com")


def test_digits_placeholder():
    t = DialTemplates(e164="sofia/gateway/carrier/0{digits}")
    assert t.endpoint("+5511999990000") == "sofia/gateway/carrier/05511999990000"


@pytest.mark.parametrize("dest", [
    "+55119${x}", "sip:a@b,sofia/gateway/x/1", "sip:a@b|user/1", "+5511{x=1}9", "sip:a b@c",
    "+5511\n9", "5511999990000", "user/1000",
])
def test_unsafe_or_unvalidated_destination_is_refused(dest):
    with pytest.raises(ValueError):
        DialTemplates().endpoint(dest)

"""One feature list of a number as a whole (tag ``features``):
``GET|PUT /v1/numbers/{number}/{messages|forwarding|voicemail|hangup}``.

Contract:

* A GET answers the list as stored (``[]`` when absent) with the whole entry's ``ETag``.
* A PUT replaces only that list: the rest of the entry stays as stored, and the whole
  entry is validated again (422 with every problem). With ``If-Match`` it applies only
  to that version of the entry (412 otherwise). Without it, it is still safe against a
  concurrent write of another feature: a compare-and-set on the entry it read, retried
  ``CAS_TRIES`` times. ``If-None-Match: *`` cannot hold for a feature (the number must
  exist): 404 if it does not, 412 if it does.
* Operation ids are ``get_<feature>`` / ``put_<feature>``.
"""
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body

from rules.api.auth import Principal, Who
from rules.api.context import ApiContext, Ctx
from rules.api.errors import error_responses, not_found, precondition_failed
from rules.api.etag import (IfMatch, IfNoneMatch, cas_expectation, client_tagged,
                            etag_header, tagged)
from rules.api.params import NumberPath
from rules.api.schemas import (EXAMPLE_FORWARDING, EXAMPLE_HANGUP, EXAMPLE_MESSAGES,
                               EXAMPLE_VOICEMAIL, FEATURE_MODELS, json_content)
from rules.api_store import ABSENT

__all__ = ["router", "FEATURES", "CAS_TRIES"]

FEATURES = ("messages", "forwarding", "voicemail", "hangup")
FEATURE_EXAMPLES = {"messages": EXAMPLE_MESSAGES, "forwarding": EXAMPLE_FORWARDING,
                    "voicemail": EXAMPLE_VOICEMAIL, "hangup": EXAMPLE_HANGUP}
# A feature PUT without If-Match retries its compare-and-set this many times when
# another write to the same number slips in between its read and its write.
CAS_TRIES = 5

router = APIRouter()


def replace_feature(ctx: ApiContext, who: Principal, e164: str, feature: str, body: Any,
                    wanted: str):
    """The read-modify-write of one feature list; the response to send."""
    if wanted == ABSENT:
        ctx.current(e164)  # 404 if it does not exist; otherwise it exists: 412
        raise precondition_failed("the number already exists")
    for _ in range(CAS_TRIES):
        raw = ctx.current(e164)
        data = ctx.parsed(e164, raw)
        data[feature] = body
        doc = ctx.validate(e164, data, who, feature)
        result = ctx.api.put(e164, doc, cas_expectation(wanted, raw))
        if result.status == "missing":
            raise not_found()
        if result.status != "conflict":
            ctx.audit(who, f"{feature} {result.status}", e164, result.version)
            return tagged(doc, json.loads(doc).get(feature, []))
        if client_tagged(wanted):
            # The client's own tag no longer holds: retrying cannot make it hold.
            raise precondition_failed("the number changed: read it again")
    raise precondition_failed("the number kept changing; read it again")


def _add_routes(feature: str) -> None:
    # One pair of endpoints per feature, made in a function so each closes over its own
    # ``feature``; the explicit operation ids keep the document's names per feature.
    ref = {"type": "array", "items": {"$ref": f"#/components/schemas/{FEATURE_MODELS[feature]}"}}
    doc = {200: {"description": f"the number's {feature} list, as stored",
                 "content": json_content(ref, FEATURE_EXAMPLES[feature]),
                 "headers": etag_header("the whole entry's version")}}

    def get_feature(number: NumberPath, who: Who, ctx: Ctx):
        e164 = ctx.resolve(number, who)
        raw = ctx.current(e164)
        return tagged(raw, ctx.parsed(e164, raw).get(feature, []))

    def put_feature(number: NumberPath, who: Who, ctx: Ctx, body: Annotated[Any, Body()],
                    if_match: IfMatch = None, if_none_match: IfNoneMatch = None):
        e164 = ctx.resolve(number, who)
        wanted = ctx.api.expectation(if_match, if_none_match)
        return replace_feature(ctx, who, e164, feature, body, wanted)

    router.get(f"/v1/numbers/{{number}}/{feature}", tags=["features"],
               summary=f"The number's {feature}", operation_id=f"get_{feature}",
               responses={**doc, **error_responses(401, 404, 409, 503)})(get_feature)
    router.put(f"/v1/numbers/{{number}}/{feature}", tags=["features"],
               summary=f"Replace the number's {feature} list as a whole",
               operation_id=f"put_{feature}",
               responses={**doc, **error_responses(401, 404, 409, 412, 422, 503)},
               openapi_extra={"requestBody": {"required": True, "content": json_content(
                   ref, FEATURE_EXAMPLES[feature])}})(put_feature)


for _feature in FEATURES:
    _add_routes(_feature)

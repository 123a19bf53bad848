"""The sandbox speaks each provider's wire format and refuses what the real APIs refuse."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from verkstad.sandbox.testing import RunningSandbox

MSN = "123456"


def vipps_headers(sandbox: RunningSandbox, key: str | None = None) -> dict[str, str]:
    token = sandbox.client.post(
        "/accesstoken/get",
        headers={
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "Ocp-Apim-Subscription-Key": "sandbox-subscription-key",
            "Merchant-Serial-Number": MSN,
        },
    ).json()["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "Ocp-Apim-Subscription-Key": "sandbox-subscription-key",
        "Merchant-Serial-Number": MSN,
    }
    return headers | ({"Idempotency-Key": key} if key else {})


def vipps_body(reference: str, value: int = 10_000) -> dict[str, Any]:
    return {
        "amount": {"currency": "NOK", "value": value},
        "customer": {"phoneNumber": "4791234567"},
        "paymentMethod": {"type": "WALLET"},
        "reference": reference,
        "userFlow": "PUSH_MESSAGE",
        "paymentDescription": "Service",
    }


def test_vipps_problems_and_idempotency(sandbox: RunningSandbox) -> None:
    c = sandbox.client
    ref = f"ref-{uuid.uuid4().hex[:12]}"
    first = c.post(
        "/epayment/v1/payments", json=vipps_body(ref), headers=vipps_headers(sandbox, "k-1")
    )
    replay = c.post(
        "/epayment/v1/payments", json=vipps_body(ref), headers=vipps_headers(sandbox, "k-1")
    )
    assert (first.status_code, replay.content) == (201, first.content)

    changed = c.post(
        "/epayment/v1/payments", json=vipps_body(ref, 20_000), headers=vipps_headers(sandbox, "k-1")
    )
    reused = c.post(
        "/epayment/v1/payments", json=vipps_body(ref), headers=vipps_headers(sandbox, "k-2")
    )
    no_key = c.post(
        "/epayment/v1/payments", json=vipps_body("ref-other-1"), headers=vipps_headers(sandbox)
    )
    assert (changed.status_code, reused.status_code, no_key.status_code) == (409, 409, 400)
    assert "Idempotency-Key `k-1` already exists" in changed.json()["detail"]
    assert f"Reference `{ref}` already exists" in reused.json()["detail"]
    assert changed.headers["content-type"] == "application/problem+json"

    sandbox.advance(minutes=1)  # Vipps allows 5 modifications per reference and minute
    capture = {"modificationAmount": {"currency": "NOK", "value": 10_000}}
    early = c.post(
        f"/epayment/v1/payments/{ref}/capture", json=capture, headers=vipps_headers(sandbox, "c-1")
    )
    assert early.json()["type"].endswith("#cannot-capture-before-reservation")
    sandbox.act(ref, "approve")
    c.post(
        f"/epayment/v1/payments/{ref}/capture", json=capture, headers=vipps_headers(sandbox, "c-2")
    )
    over = c.post(
        f"/epayment/v1/payments/{ref}/refund",
        json={"modificationAmount": {"currency": "NOK", "value": 10_001}},
        headers=vipps_headers(sandbox, "r-1"),
    )
    late_cancel = c.post(
        f"/epayment/v1/payments/{ref}/cancel", headers=vipps_headers(sandbox, "x-1")
    )
    assert over.json()["title"] == "Not enough refundable"
    assert late_cancel.json()["title"] == "Cannot cancel a captured payment"
    payment = c.get(f"/epayment/v1/payments/{ref}", headers=vipps_headers(sandbox)).json()
    assert payment["state"] == "AUTHORIZED"  # the state stays; the aggregate moves
    assert payment["aggregate"]["capturedAmount"] == {"currency": "NOK", "value": 10_000}
    assert c.get(f"/epayment/v1/payments/{ref}").status_code == 401


def swish_body(payer: str = "46701234567", amount: str = "100.00", **kw: str) -> dict[str, str]:
    return {
        "payeePaymentReference": "M1042",
        "callbackUrl": "https://example.se/callback",
        "payerAlias": payer,
        "payeeAlias": "1231181189",
        "amount": amount,
        "currency": "SEK",
        "message": "Order 1042",
        **kw,
    }


def test_swish_wire_format_and_rules(sandbox: RunningSandbox) -> None:
    c = sandbox.client
    uid = uuid.uuid4().hex.upper()
    created = c.put(f"/api/v2/paymentrequests/{uid}", json=swish_body())
    assert (created.status_code, created.content) == (201, b"")
    assert created.headers["location"].endswith(f"/api/v1/paymentrequests/{uid}")
    again = c.put(f"/api/v2/paymentrequests/{uid}", json=swish_body(payer="46709876543"))
    assert again.json()[0]["errorCode"] == "RP09"
    bad = c.put(
        f"/api/v2/paymentrequests/{uuid.uuid4().hex.upper()}", json=swish_body(amount="1,00")
    )
    assert bad.status_code == 422 and bad.json()[0]["errorCode"] == "PA02"
    lower = c.put(f"/api/v2/paymentrequests/{uuid.uuid4().hex}", json=swish_body())
    assert lower.json()[0]["errorCode"] == "PA01"

    sandbox.act(uid, "approve")
    paid = c.get(f"/api/v1/paymentrequests/{uid}").json()
    assert (paid["status"], paid["amount"], len(paid["paymentReference"])) == ("PAID", 100, 32)
    patch = [{"op": "replace", "path": "/status", "value": "cancelled"}]
    late = c.patch(
        f"/api/v1/paymentrequests/{uid}",
        json=patch,
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert late.json()[0]["errorCode"] == "RP07"


def stripe(
    sandbox: RunningSandbox, method: str, path: str, key: str | None = None, **data: str
) -> httpx.Response:
    headers = {"Authorization": "Bearer sk_test_sandbox"} | (
        {"Idempotency-Key": key} if key else {}
    )
    return sandbox.client.request(method, path, data=data or None, headers=headers)


SESSION = {
    "mode": "payment",
    "line_items[0][price_data][currency]": "sek",
    "line_items[0][price_data][product_data][name]": "Service",
    "line_items[0][price_data][unit_amount]": "50000",
    "line_items[0][quantity]": "1",
}


def test_stripe_idempotency_and_expire_rules(sandbox: RunningSandbox) -> None:
    first = stripe(sandbox, "POST", "/v1/checkout/sessions", "s-1", **SESSION)
    replay = stripe(sandbox, "POST", "/v1/checkout/sessions", "s-1", **SESSION)
    assert first.json() == replay.json() and replay.headers["idempotent-replayed"] == "true"
    session = first.json()
    assert (session["amount_total"], session["currency"], session["status"]) == (
        50_000,
        "sek",
        "open",
    )

    changed = stripe(
        sandbox,
        "POST",
        "/v1/checkout/sessions",
        "s-1",
        **{**SESSION, "line_items[0][quantity]": "2"},
    )
    assert changed.json()["error"]["type"] == "idempotency_error"
    too_small = stripe(
        sandbox,
        "POST",
        "/v1/checkout/sessions",
        None,
        **{**SESSION, "line_items[0][price_data][unit_amount]": "100"},
    )
    assert too_small.status_code == 400
    assert stripe(sandbox, "GET", f"/v1/checkout/sessions/{session['id']}").status_code == 200
    assert sandbox.client.get(f"/v1/checkout/sessions/{session['id']}").status_code == 401

    sandbox.act(session["id"], "approve")
    late = stripe(sandbox, "POST", f"/v1/checkout/sessions/{session['id']}/expire")
    assert late.status_code == 400 and '"complete"' in late.json()["error"]["message"]
    intent = stripe(sandbox, "GET", f"/v1/checkout/sessions/{session['id']}").json()[
        "payment_intent"
    ]
    over = stripe(sandbox, "POST", "/v1/refunds", None, payment_intent=intent, amount="50001")
    assert over.json()["error"]["code"] == "amount_too_large"


def resurs_token(sandbox: RunningSandbox) -> dict[str, str]:
    token = sandbox.client.post(
        "/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
            "scope": "merchant-api",
        },
    ).json()
    assert (token["token_type"], token["expires_in"]) == ("bearer", 3599)
    return {"Authorization": f"Bearer {token['access_token']}"}


def test_resurs_has_no_idempotency_and_refuses_illegal_actions(sandbox: RunningSandbox) -> None:
    c = sandbox.client
    auth = resurs_token(sandbox)
    method = c.get("/v2/stores/sandbox-store/payment_methods", headers=auth).json()["content"][0]
    body = {
        "storeId": "sandbox-store",
        "paymentMethodId": method["id"],
        "order": {
            "orderReference": "ORDER1042",
            "orderLines": [
                {
                    "description": "Oil",
                    "quantity": 1,
                    "quantityUnit": "st",
                    "vatRate": 25,
                    "totalAmountIncludingVat": 1250.00,
                }
            ],
        },
        "customer": {"customerType": "NATURAL", "mobilePhone": "+46701234567"},
        "options": {"initiatedOnCustomersDevice": False, "deliverLinks": True},
    }
    one = c.post("/v2/payments", json=body, headers=auth).json()
    two = c.post("/v2/payments", json=body, headers=auth).json()
    assert one["id"] != two["id"]  # the same request twice is two payments, as at Resurs
    found = c.post(
        "/v2/payments/search",
        json={"storeId": "sandbox-store", "orderReference": "ORDER1042"},
        headers=auth,
    )
    assert {p["id"] for p in found.json()["content"]} == {one["id"], two["id"]}
    assert one["status"] == "TASK_REDIRECTION_REQUIRED" and one["order"]["totalOrderAmount"] == 1250

    early = c.post(f"/v2/payments/{one['id']}/capture", json={}, headers=auth)
    assert early.json()["code"] == "ACTION_NOT_ALLOWED"
    sandbox.act(one["id"], "approve", "part_payment")
    too_much = c.post(
        f"/v2/payments/{one['id']}/capture",
        json={
            "orderLines": [
                {"description": "x", "quantity": 1, "vatRate": 25, "totalAmountIncludingVat": 1300}
            ]
        },
        headers=auth,
    )
    assert too_much.json()["code"] == "AMOUNT_EXCEEDED"
    captured = c.post(f"/v2/payments/{one['id']}/capture", json={}, headers=auth).json()
    assert captured["order"]["possibleActions"] == [
        {"action": "REFUND"},
        {"action": "PARTIAL_REFUND"},
    ]
    assert c.post(f"/v2/payments/{one['id']}/cancel", json={}, headers=auth).status_code == 400

"""Whatever a person types, the answer is ours: never a server error, never a dropped
connection; what truly breaks is named (a correlation id, an integrity alarm), never told
to "retry later"."""

from __future__ import annotations

import time

from api.composition import Services
from tests.conftest import Clinic
from tests.test_accounts import PASSWORD, bearer, sign_in

#: what a Japanese input method types for 0-9 (U+FF10 to U+FF19)
FULL_WIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))


def test_a_code_typed_in_full_width_digits_is_read_as_the_same_code(
    clinic: Clinic, services: Services
) -> None:
    import pyotp

    services.accounts.open("hana@example.jp", PASSWORD)
    _, session = sign_in(clinic, "hana@example.jp")
    started = clinic.client.post("/v1/accounts/me/totp", headers=bearer(session["token"]))
    totp = pyotp.TOTP(started.json()["secret"])
    confirmed = clinic.client.post(
        "/v1/accounts/me/totp/confirm",
        headers=bearer(session["token"]),
        json={"code": totp.now().translate(FULL_WIDTH)},
    )
    assert confirmed.status_code == 200, confirmed.text
    code = totp.at(time.time() + totp.interval).translate(FULL_WIDTH)
    status, _ = sign_in(clinic, "hana@example.jp", code=code)
    assert status == 201
    not_digits = "123 456".translate(FULL_WIDTH) + "\uff58"  # a full-width x at the end
    status, problem = sign_in(clinic, "hana@example.jp", code=not_digits)
    assert status == 401 and str(problem["type"]).endswith("invalid-credentials")

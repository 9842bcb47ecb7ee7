"""Authentication for the contract test: always a real API key.

The run is free to revoke or delete any key it can list, and the key it authenticates with
is one of them. So before each refresh (every second) this checks that the key still works;
once it does not (revoked, deleted, expired by the test itself), it signs in with the admin's
password and creates a new key, which is used from then on. The run may also switch rate
limits on (`PATCH /v1/system/ratelimit` is one of the operations it calls); every request
would then come from one address and most would be 429, so the refresh switches them off
again. Env: EASEL_ST_BASE, EASEL_ST_KEY, EASEL_ST_EMAIL, EASEL_ST_PASSWORD, EASEL_ST_ORG."""

import os

import requests
import schemathesis

BASE = os.environ["EASEL_ST_BASE"]


def _works(key):
    try:
        return requests.get(f"{BASE}/v1/users/info", headers={"ApiKey": key}, timeout=10).status_code == 200
    except requests.RequestException:
        return False


def _new_key():
    login = {"emailId": os.environ["EASEL_ST_EMAIL"], "password": os.environ["EASEL_ST_PASSWORD"],
             "org": os.environ["EASEL_ST_ORG"]}
    signed_in = requests.post(f"{BASE}/v1/auth/authenticate", json=login, timeout=30)
    if signed_in.status_code != 200:
        return None
    token = signed_in.json()["Authorization"]
    created = requests.post(f"{BASE}/v1/apiKeys", headers={"Authorization": token},
                            json={"metadata": {"name": "contract test"}}, timeout=10)
    return created.json()["apiKey"] if created.status_code == 201 else None


def _limits_off(key):
    url = f"{BASE}/v1/system/ratelimit"
    try:
        state = requests.get(url, headers={"ApiKey": key}, timeout=10)
        if state.status_code == 200 and state.json().get("isActive"):
            requests.patch(url, headers={"ApiKey": key}, json={"isActive": False}, timeout=10)
    except requests.RequestException:
        pass


@schemathesis.auth(refresh_interval=1)
class RealApiKey:
    key = os.environ["EASEL_ST_KEY"]

    def get(self, case, ctx):
        if not _works(RealApiKey.key):
            RealApiKey.key = _new_key() or RealApiKey.key
        _limits_off(RealApiKey.key)
        return RealApiKey.key

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["ApiKey"] = data

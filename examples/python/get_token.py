"""Gets a Sigma API token with sigma-auth and calls whoami with it.

Credentials come from SIGMA_BASE_URL (URL or cloud name), SIGMA_CLIENT_ID and
SIGMA_CLIENT_SECRET. Install first: pip install "./bindings/python[requests]".
"""

import os
import sys

import requests

import sigma_auth
from sigma_auth.requests import SigmaAuth


def main() -> int:
    try:
        config = sigma_auth.Config.from_env()
        with sigma_auth.Client(config) as client:
            token = client.token()
            print(f"Got a {token.token_type} token valid for {token.expires_in} s (until {token.expires_at:%H:%M:%S} UTC).")
            print(f"Authorization: Bearer {token.access_token[:12]}... ({len(token.access_token)} characters)")
            base = os.environ["SIGMA_BASE_URL"]
            if base.startswith("http"):
                whoami = requests.get(f"{base.rstrip('/')}/v2/whoami", auth=SigmaAuth(client), timeout=30)
                print(f"GET /v2/whoami: {whoami.status_code}")
    except sigma_auth.SigmaAuthError as error:
        print(f"sigma-auth: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

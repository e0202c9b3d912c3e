"""The release check's Python program: a token from the installed package, then
/v2/whoami with it (standard library only: the wheel has no dependencies)."""

import sys
import urllib.request

import sigma_auth

with sigma_auth.Client(sigma_auth.Config.from_env()) as client:
    token = client.access_token
    request = urllib.request.Request(sys.argv[1] + "/v2/whoami", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status
print(f"sigma_auth {sigma_auth.__version__} from {sigma_auth._native.library_path()}: token and whoami ok")

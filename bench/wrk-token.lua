-- wrk script: POST the client-credentials grant to sigma-mock's token endpoint.
wrk.method = "POST"
wrk.path = "/v2/auth/token"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret"

package sigmaauth

/*
#include <stdlib.h>
#include "sigma_auth.h"
*/
import "C"

import (
	"encoding/json"
	"math"
	"time"
)

// SignEmbedURL returns url with ":jwt=<token>&:embed=true" appended: an HS256
// JWT signed with the embed secret of the embed client clientID, valid for ttl
// (a second to 30 days), with claims (at least "sub", the user's email; also
// "first_name", "teams", "user_attributes", "account_type", ...). The library
// adds "jti", "iat", "exp" and (unless given) "iss", and checks every claim
// Sigma documents first: a mistake is ErrInvalidArgument naming the claim.
// "oauth_token" and "connection_oauth_tokens" (with "ver": "1.1" only) are
// passed through as given: encrypt them first, as Sigma's Node SDK does.
func SignEmbedURL(url, clientID string, secret Secret, claims map[string]any, ttl time.Duration) (string, error) {
	body, err := json.Marshal(claims)
	if err != nil {
		return "", &Error{Code: StatusInvalidArgument, Message: "INVALID_ARGUMENT: claims: " + err.Error()}
	}
	cURL, err := cString("url", url)
	if err != nil {
		return "", err
	}
	defer freeString(cURL)
	cID, err := cString("clientID", clientID)
	if err != nil {
		return "", err
	}
	defer freeString(cID)
	cSecret, err := cString("secret", secret.Reveal())
	if err != nil {
		return "", err
	}
	defer freeSecret(cSecret)
	cClaims, err := cString("claims", string(body))
	if err != nil {
		return "", err
	}
	defer freeSecret(cClaims) // may hold oauth tokens
	var signed *C.char
	var cerr *C.sigma_error
	// Seconds as C's uint32_t, clamped: the library refuses what is out of its range.
	seconds := C.uint32_t(min(max(ttl/time.Second, 0), math.MaxUint32))
	status := C.sigma_embed_sign_url(cURL, cID, cSecret, cClaims, seconds, &signed, &cerr)
	if status != C.SIGMA_STATUS_OK {
		return "", takeError(status, cerr)
	}
	return takeString(signed), nil
}

// EncryptEmbedOAuthToken encrypts a warehouse OAuth token for the oauth_token
// claim of a ver "1.1" embed token (with aud "sigmacomputing"), the way
// Sigma's Node embed SDK does it with the embed secret.
func EncryptEmbedOAuthToken(oauthToken, secret Secret) (string, error) {
	cToken, err := cString("oauthToken", oauthToken.Reveal())
	if err != nil {
		return "", err
	}
	defer freeSecret(cToken)
	cSecret, err := cString("secret", secret.Reveal())
	if err != nil {
		return "", err
	}
	defer freeSecret(cSecret)
	var out *C.char
	var cerr *C.sigma_error
	if status := C.sigma_embed_encrypt_oauth_token(cToken, cSecret, &out, &cerr); status != C.SIGMA_STATUS_OK {
		return "", takeError(status, cerr)
	}
	return takeString(out), nil
}

package outbox

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
)

// ValidSignature checks an inbound webhook's X-Twilio-Signature: the base64
// HMAC-SHA1, keyed by the account token, of the full request URL followed by
// every POST parameter name and value, sorted by name (Twilio's documented
// algorithm).
func ValidSignature(token, fullURL string, params url.Values, signature string) bool {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	data := fullURL
	for _, k := range keys {
		for _, v := range params[k] {
			data += k + v
		}
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(data))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(signature))
}

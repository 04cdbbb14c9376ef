package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ErrUnknown marks a delivery whose outcome cannot be known (the request may
// have reached the provider): the row is left for review, never resent.
var ErrUnknown = errors.New("delivery outcome unknown")

// HTTPSMS sends SMS through an HTTP API shaped like Twilio's Messages
// resource: a form POST to {BaseURL}/2010-04-01/Accounts/{Account}/Messages.json
// with Basic authentication.
type HTTPSMS struct {
	BaseURL string
	Account string
	Token   string
	From    string
	// StatusCallback, when set, is the URL the provider posts delivery
	// receipts to (queued, sent, delivered, undelivered, failed).
	StatusCallback string
	// Client is the HTTP client (default: 15 s timeout).
	Client *http.Client
}

// Send implements Provider.
func (p HTTPSMS) Send(ctx context.Context, m Message) (string, error) {
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	endpoint := strings.TrimRight(p.BaseURL, "/") + "/2010-04-01/Accounts/" + url.PathEscape(p.Account) + "/Messages.json"
	form := url.Values{"To": {m.Recipient}, "From": {p.From}, "Body": {m.Body}}
	if p.StatusCallback != "" {
		form.Set("StatusCallback", p.StatusCallback)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("building SMS request: %w", ErrPermanent)
	}
	req.SetBasicAuth(p.Account, p.Token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		// The request may have been received before the connection failed.
		return "", fmt.Errorf("SMS provider did not answer (%v): %w", err, ErrUnknown)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var out struct {
		Sid     string `json:"sid"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &out)
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300 && out.Sid != "":
		return out.Sid, nil
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return "", fmt.Errorf("SMS provider accepted without a message id: %w", ErrUnknown)
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500:
		return "", fmt.Errorf("SMS provider answered %d, will retry", res.StatusCode)
	default:
		return "", fmt.Errorf("SMS provider refused (%d, code %d: %s): %w", res.StatusCode, out.Code, out.Message, ErrPermanent)
	}
}

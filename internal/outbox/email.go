package outbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/wneessen/go-mail"
)

// SMTPEmail sends email through an SMTP server.
type SMTPEmail struct {
	Host     string
	Port     int
	Username string
	Password string
	From     string
	// StartTLS requires STARTTLS (off only for a relay on a trusted network).
	StartTLS bool
}

// Send implements Provider. The Message-ID is derived from the row, so a
// receiving system can tell a copy from a new message.
func (p SMTPEmail) Send(ctx context.Context, m Message) (string, error) {
	msg := mail.NewMsg()
	if err := msg.From(p.From); err != nil {
		return "", fmt.Errorf("sender address: %v: %w", err, ErrPermanent)
	}
	if err := msg.To(m.Recipient); err != nil {
		return "", fmt.Errorf("recipient address: %v: %w", err, ErrPermanent)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	if m.UnsubscribeURL != "" {
		// RFC 8058 one-click: a mail client POSTs
		// "List-Unsubscribe=One-Click" to the link.
		msg.SetGenHeader("List-Unsubscribe", "<"+m.UnsubscribeURL+">")
		msg.SetGenHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	msgID := string(m.ID) + "@whisper"
	msg.SetMessageIDWithValue(msgID)
	opts := []mail.Option{mail.WithPort(p.Port), mail.WithTLSPolicy(mail.NoTLS)}
	if p.StartTLS {
		opts = []mail.Option{mail.WithPort(p.Port), mail.WithTLSPolicy(mail.TLSMandatory)}
	}
	if p.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(p.Username), mail.WithPassword(p.Password))
	}
	client, err := mail.NewClient(p.Host, opts...)
	if err != nil {
		return "", fmt.Errorf("SMTP settings: %v: %w", err, ErrPermanent)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		var se *mail.SendError
		switch {
		case errors.As(err, &se) && se.Reason == mail.ErrSMTPDataClose:
			// The message was written; whether it was accepted is unknown.
			return "", fmt.Errorf("SMTP delivery: %v: %w", err, ErrUnknown)
		case errors.As(err, &se) && !se.IsTemp():
			return "", fmt.Errorf("SMTP server refused: %v: %w", err, ErrPermanent)
		}
		return "", fmt.Errorf("SMTP delivery: %v", err)
	}
	return msgID, nil
}

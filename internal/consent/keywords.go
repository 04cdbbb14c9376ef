package consent

import (
	"context"
	"strings"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/consentchange"
	"github.com/whisper-health/whisper/internal/txn"
)

// Keyword is what an inbound SMS asks of its carrier keywords.
type Keyword int

// The keyword actions.
const (
	// NoKeyword is an ordinary reply.
	NoKeyword Keyword = iota
	// Stop opts the number out of SMS.
	Stop
	// Start opts the number back in.
	Start
	// Help asks who is texting: the practice's name and phone.
	Help
)

// keywords are the carrier keywords (SPEC §13), matched against the whole
// body, in any case.
var keywords = map[string]Keyword{
	"STOP": Stop, "STOPALL": Stop, "UNSUBSCRIBE": Stop, "CANCEL": Stop, "END": Stop, "QUIT": Stop,
	"START": Start, "YES": Start, "UNSTOP": Start,
	"HELP": Help,
}

// KeywordOf is the carrier keyword an SMS body is, if it is one: the whole
// body (trimmed), in any case — "stop" is one, "please stop" is not.
func KeywordOf(body string) Keyword {
	return keywords[strings.ToUpper(strings.TrimSpace(body))]
}

// Texted handles a carrier keyword texted from a number: STOP and its
// synonyms opt the number out of SMS, START, YES and UNSTOP opt it back in,
// for every patient record with that number. It reports the keyword (Help
// and NoKeyword change nothing; the webhook answers HELP).
func (s *Service) Texted(ctx context.Context, from, body string) (Keyword, error) {
	k := KeywordOf(body)
	sub := addressSubject(SMS, from)
	if (k != Stop && k != Start) || sub == "" {
		return k, nil
	}
	st := OptedOut
	if k == Start {
		st = OptedIn
	}
	wctx := worker(ctx, "a carrier keyword texted to the SMS webhook")
	err := s.tx.Run(wctx, func(tx *ent.Tx, _ txn.Emit) error {
		return s.record(wctx, tx.Client(), change{subject: sub, channel: SMS, state: st,
			source: consentchange.SourceSMS_KEYWORD, detail: strings.ToUpper(strings.TrimSpace(body))})
	})
	return k, err
}

// Package consent owns whether a patient, a mobile number or an email
// address may be contacted (SPEC §13): the state staff record, the carrier
// keywords a number texts (STOP, START, HELP), the one-click unsubscribe
// link of outreach email, and the practice's send window. Every path that
// contacts a patient or a mobile number asks MayContact first.
package consent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/whisper-health/whisper/ent"
	entconsent "github.com/whisper-health/whisper/ent/consent"
	"github.com/whisper-health/whisper/ent/consentchange"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/txn"
	"github.com/whisper-health/whisper/internal/viewer"
)

// State is a consent state: OPTED_IN, OPTED_OUT or UNKNOWN.
type State string

// The consent states. UNKNOWN (no record) allows the messages a patient
// expects from their practice; OPTED_OUT blocks the channel.
const (
	OptedIn  State = "OPTED_IN"
	OptedOut State = "OPTED_OUT"
	Unknown  State = "UNKNOWN"
)

// Valid reports whether s is one of the states.
func (s State) Valid() bool { return s == OptedIn || s == OptedOut || s == Unknown }

// MarshalGQL writes the state as its GraphQL enum value.
func (s State) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(s))) }

// UnmarshalGQL reads the GraphQL enum value.
func (s *State) UnmarshalGQL(v any) error {
	str, ok := v.(string)
	if !ok || !State(str).Valid() {
		return fmt.Errorf("%v is not a valid ConsentState", v)
	}
	*s = State(str)
	return nil
}

// Channel is how a patient is contacted: SMS or EMAIL.
type Channel string

// The channels consent is kept for.
const (
	SMS   Channel = "SMS"
	EMAIL Channel = "EMAIL"
)

// NormalisePhone writes a phone number the way SMS are addressed: without
// spaces, dashes, dots or brackets, and with an international 00 prefix as
// "+" (so "+61 411-000 001" and "0061411000001" are "+61411000001").
func NormalisePhone(s string) string {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(" -.()\t", r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	return s
}

// addressSubject is the subject of an address's consent row: tel:<number>
// or mailto:<address>; "" for no address.
func addressSubject(ch Channel, address string) string {
	address = strings.TrimSpace(address)
	if address == "" {
		return ""
	}
	if ch == SMS {
		return "tel:" + NormalisePhone(address)
	}
	return "mailto:" + strings.ToLower(address)
}

// Service reads and records consent.
type Service struct {
	client *ent.Client
	tx     *txn.Runner
	log    *slog.Logger
	now    func() time.Time
	key    []byte
}

// New returns the consent service. key signs unsubscribe links (derive it
// from the server's token secret; see app).
func New(client *ent.Client, log *slog.Logger, now func() time.Time, key []byte) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{client: client, tx: txn.New(client, nil, log), log: log, now: now, key: key}
}

// MayContact is the one contact policy: it reports the consent that governs
// contacting a patient (patientID, may be empty for a staff member's mobile)
// at address on ch, and whether a message may go. An opt-out of the patient
// or of the address (a number that texted STOP, whoever's record it is on)
// blocks; otherwise the patient's own record decides, and no record is
// UNKNOWN, which allows the messages a patient expects. c is the caller's
// transaction (nil: the service's client); the caller's viewer reads.
func (s *Service) MayContact(ctx context.Context, c *ent.Client, ch Channel, patientID pulid.ID, address string) (State, bool, error) {
	st, err := s.state(ctx, c, ch, patientID, address)
	return st, st != OptedOut, err
}

// state is the effective consent for a patient at an address.
func (s *Service) state(ctx context.Context, c *ent.Client, ch Channel, patientID pulid.ID, address string) (State, error) {
	if c == nil {
		c = s.client
	}
	subjects := Subjects(ch, patientID, address)
	if len(subjects) == 0 {
		return Unknown, nil
	}
	rows, err := c.Consent.Query().
		Where(entconsent.SubjectIn(subjects...), entconsent.ChannelEQ(entconsent.Channel(ch))).
		All(ctx)
	if err != nil {
		return Unknown, fmt.Errorf("reading consent: %w", err)
	}
	return Decide(rows, ch, patientID, address), nil
}

// Subjects are the consent subjects that decide whether a patient may be
// contacted on ch at address: the patient and the address itself.
func Subjects(ch Channel, patientID pulid.ID, address string) []string {
	var subjects []string
	if patientID != "" {
		subjects = append(subjects, string(patientID))
	}
	if a := addressSubject(ch, address); a != "" {
		subjects = append(subjects, a)
	}
	return subjects
}

// Decide is the effective consent for a patient at an address on ch, from
// consent rows that include every row of Subjects(ch, patientID, address)
// (rows of other subjects and channels are ignored), so that a batch can
// read the rows of many patients in one statement and decide each as
// MayContact would.
func Decide(rows []*ent.Consent, ch Channel, patientID pulid.ID, address string) State {
	subjects := Subjects(ch, patientID, address)
	st := Unknown
	for _, r := range rows {
		if string(r.Channel) != string(ch) || !slices.Contains(subjects, r.Subject) {
			continue
		}
		switch State(r.State) {
		case OptedOut:
			return OptedOut
		case OptedIn:
			if r.Subject == string(patientID) || st == Unknown {
				st = OptedIn
			}
		}
	}
	return st
}

// reader is the context p's consent is read under: the viewer's own, or,
// for a portal patient reading their own record (rule.OwnRecord), a worker
// context naming why — the consent policies keep consent rows to staff.
func reader(ctx context.Context, p *ent.Patient) context.Context {
	if rule.OwnRecord(viewer.FromContext(ctx), p.ID) {
		return viewer.NewSystemContext(ctx, "consent: a portal patient reads their own consent")
	}
	return ctx
}

// Of is a patient's consent on ch, as the viewer reads it (their mobile
// number or email address counts too). A portal patient reads their own.
func (s *Service) Of(ctx context.Context, p *ent.Patient, ch Channel) (State, error) {
	ctx = reader(ctx, p)
	addr := p.Email
	if ch == SMS {
		addr = p.Mobile
	}
	a := ""
	if addr != nil {
		a = *addr
	}
	return s.state(ctx, nil, ch, p.ID, a)
}

// change is one consent change to record.
type change struct {
	subject string
	patient *pulid.ID
	channel Channel
	state   State
	source  consentchange.Source
	actor   *pulid.ID
	detail  string
}

// record sets a subject's consent and appends the change to the trail,
// through c (the caller's transaction).
func (s *Service) record(ctx context.Context, c *ent.Client, ch change) error {
	at := s.now().UTC()
	err := c.Consent.Create().
		SetSubject(ch.subject).
		SetChannel(entconsent.Channel(ch.channel)).
		SetState(entconsent.State(ch.state)).
		SetCreatedAt(at).SetUpdatedAt(at).
		OnConflictColumns(entconsent.FieldSubject, entconsent.FieldChannel).
		Update(func(u *ent.ConsentUpsert) { u.UpdateState().UpdateUpdatedAt() }).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("recording consent: %w", err)
	}
	err = c.ConsentChange.Create().
		SetSubject(ch.subject).
		SetNillablePatientID(ch.patient).
		SetChannel(consentchange.Channel(ch.channel)).
		SetState(consentchange.State(ch.state)).
		SetSource(ch.source).
		SetNillableActorID(ch.actor).
		SetDetail(ch.detail).
		SetAt(at).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("recording the consent change: %w", err)
	}
	return nil
}

// SetPatient records a patient's SMS and/or email consent as the viewer (the
// care team: rule.ConsentWriter), with who and when in the trail. OPTED_IN
// also lifts an opt-out of the patient's current number or address (the
// patient said yes); OPTED_OUT and UNKNOWN are the patient's own and leave
// an opted-out number opted out for every record that has it.
func (s *Service) SetPatient(ctx context.Context, patientID pulid.ID, sms, email *State) (*ent.Patient, error) {
	v, err := rule.ConsentWriter.Check(ctx)
	if err != nil {
		return nil, err
	}
	if sms == nil && email == nil {
		return nil, apperr.Invalid("sms", "give sms, email or both")
	}
	for name, st := range map[string]*State{"sms": sms, "email": email} {
		if st != nil && !st.Valid() {
			return nil, apperr.Invalid(name, "unknown consent state %q", *st)
		}
	}
	p, err := s.client.Patient.Get(ctx, patientID)
	if err != nil {
		return nil, err
	}
	actor := v.UserID
	err = s.tx.Run(ctx, func(tx *ent.Tx, _ txn.Emit) error {
		c := tx.Client()
		for _, x := range []struct {
			ch   Channel
			st   *State
			addr *string
		}{{SMS, sms, p.Mobile}, {EMAIL, email, p.Email}} {
			if x.st == nil {
				continue
			}
			pid := p.ID
			if err := s.record(ctx, c, change{subject: string(p.ID), patient: &pid, channel: x.ch, state: *x.st,
				source: consentchange.SourceSTAFF, actor: &actor}); err != nil {
				return err
			}
			if *x.st != OptedIn || x.addr == nil {
				continue
			}
			sub := addressSubject(x.ch, *x.addr)
			if sub == "" {
				continue
			}
			out, err := c.Consent.Query().Where(entconsent.Subject(sub), entconsent.ChannelEQ(entconsent.Channel(x.ch)),
				entconsent.StateEQ(entconsent.StateOPTED_OUT)).Exist(ctx)
			if err != nil {
				return err
			}
			if out {
				if err := s.record(ctx, c, change{subject: sub, patient: &pid, channel: x.ch, state: OptedIn,
					source: consentchange.SourceSTAFF, actor: &actor}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.client.Patient.Get(ctx, patientID)
}

// worker is the consent worker's context: a keyword or an unsubscribe link
// arrives on a webhook, with no viewer to act as.
func worker(ctx context.Context, why string) context.Context {
	return viewer.NewSystemContext(ctx, "consent: "+why)
}

// History is a patient's consent trail, newest first: the changes of the
// patient's own consent and of their current number's and address's (a
// STOP texted from the number counts for them). A portal patient reads
// their own.
func (s *Service) History(ctx context.Context, p *ent.Patient) ([]*ent.ConsentChange, error) {
	ctx = reader(ctx, p)
	subjects := []string{string(p.ID)}
	if p.Mobile != nil && *p.Mobile != "" {
		subjects = append(subjects, addressSubject(SMS, *p.Mobile))
	}
	if p.Email != nil && *p.Email != "" {
		subjects = append(subjects, addressSubject(EMAIL, *p.Email))
	}
	return s.client.ConsentChange.Query().
		Where(consentchange.Or(consentchange.PatientID(p.ID), consentchange.SubjectIn(subjects...))).
		Order(ent.Desc(consentchange.FieldAt), ent.Desc(consentchange.FieldID)).
		Limit(200).
		All(ctx)
}

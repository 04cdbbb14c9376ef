// Package settings owns the practice's own details — name, phone, address
// and time zone — kept as data so that an administrator changes them
// without a restart and every replica reads the same; the configuration
// supplies the defaults for whatever has not been set.
package settings

import (
	"context"
	"strings"
	"time"
	_ "time/tzdata" // zone names are checked wherever this package runs, zoneinfo installed or not
	"unicode/utf8"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/practiceprofile"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/rule"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Practice is the practice as patients and staff read it.
type Practice struct {
	Name, Phone, Address string
	// Location is the practice's time zone; every date and time a person
	// reads is in it (nil is UTC).
	Location *time.Location
}

// Zone is the practice's time zone.
func (p Practice) Zone() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

// TimeZone is the IANA name of the practice's time zone.
func (p Practice) TimeZone() string { return p.Zone().String() }

// PostalAddress is the address, or nil when the practice has none.
func (p Practice) PostalAddress() *string {
	if p.Address == "" {
		return nil
	}
	return &p.Address
}

// In is t on the practice's clock.
func (p Practice) In(t time.Time) time.Time { return t.In(p.Zone()) }

// LoadZone resolves an IANA time zone name ("Australia/Sydney", "UTC").
// "Local" and the empty name are refused: the server's own zone is not the
// practice's.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, apperr.Invalid("timeZone", "a time zone is an IANA name such as Australia/Sydney or UTC")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, apperr.Invalid("timeZone", "unknown time zone %q; use an IANA name such as Australia/Sydney or UTC", name)
	}
	return loc, nil
}

// row is the id of the one row of the practice profile.
const row = "practice"

// Service reads and changes the practice's settings.
type Service struct {
	client   *ent.Client
	defaults Practice
}

// New returns the settings service; defaults (from the configuration)
// apply to every field not set in the database. An empty default name is
// "the practice".
func New(client *ent.Client, defaults Practice) *Service {
	if defaults.Name == "" {
		defaults.Name = "the practice"
	}
	if defaults.Location == nil {
		defaults.Location = time.UTC
	}
	return &Service{client: client, defaults: defaults}
}

// Defaults are the configured settings, before any change.
func (s *Service) Defaults() Practice { return s.defaults }

// Get is the practice's settings as the viewer reads them (any signed-in
// staff user, by policy).
func (s *Service) Get(ctx context.Context) (*Practice, error) {
	p, err := s.read(ctx, s.client)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Current is the practice's settings for a renderer (a worker, the
// engine), read now through c — the caller's transaction, or the service's
// client when c is nil — so that a change made on any replica applies to
// the next message. A nil Service is UTC with no details.
func (s *Service) Current(ctx context.Context, c *ent.Client) (Practice, error) {
	if s == nil {
		return Practice{Location: time.UTC}, nil
	}
	if c == nil {
		c = s.client
	}
	return s.read(viewer.NewSystemContext(ctx, "practice settings"), c)
}

func (s *Service) read(ctx context.Context, c *ent.Client) (Practice, error) {
	p, err := c.PracticeProfile.Query().Where(practiceprofile.ID(row)).Only(ctx)
	if ent.IsNotFound(err) {
		return s.defaults, nil
	}
	if err != nil {
		return Practice{}, err
	}
	return s.merge(p), nil
}

// merge lays the stored fields over the defaults. A stored zone that no
// longer resolves (a zone database without it) falls back to the default
// rather than stopping every message.
func (s *Service) merge(p *ent.PracticeProfile) Practice {
	out := s.defaults
	if p.Name != nil {
		out.Name = *p.Name
	}
	if p.Phone != nil {
		out.Phone = *p.Phone
	}
	if p.Address != nil {
		out.Address = *p.Address
	}
	if p.TimeZone != nil {
		if loc, err := time.LoadLocation(*p.TimeZone); err == nil {
			out.Location = loc
		}
	}
	return out
}

// Change edits the settings: a nil field stays as it is, an empty one
// returns to its configured default.
type Change struct {
	Name, Phone, Address, TimeZone *string
}

// Update changes the settings (DIRECTORY_MANAGE). Every field is checked
// before anything is written: an unknown time zone changes nothing.
func (s *Service) Update(ctx context.Context, ch Change) (*Practice, error) {
	// Refused before the input is looked at, so a refusal never depends
	// on it; the policy decides again at the data layer.
	if _, err := rule.DirectoryManager.Check(ctx); err != nil {
		return nil, err
	}
	name, err := text(ch.Name, "name", 200)
	if err != nil {
		return nil, err
	}
	phone, err := text(ch.Phone, "phone", 50)
	if err != nil {
		return nil, err
	}
	address, err := text(ch.Address, "address", 500)
	if err != nil {
		return nil, err
	}
	zone, err := text(ch.TimeZone, "timeZone", 100)
	if err != nil {
		return nil, err
	}
	if zone != nil && *zone != "" {
		loc, err := LoadZone(*zone)
		if err != nil {
			return nil, err
		}
		canonical := loc.String()
		zone = &canonical
	}
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.write(ctx, tx.Client(), name, phone, address, zone)
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	out := s.merge(p)
	return &out, nil
}

// write creates the row the first time, then updates it; a field given
// empty is cleared (back to its default).
func (s *Service) write(ctx context.Context, c *ent.Client, name, phone, address, zone *string) (*ent.PracticeProfile, error) {
	exists, err := c.PracticeProfile.Query().Where(practiceprofile.ID(row)).Exist(ctx)
	if err != nil {
		return nil, err
	}
	if !exists {
		return c.PracticeProfile.Create().SetID(row).
			SetNillableName(nonEmpty(name)).SetNillablePhone(nonEmpty(phone)).
			SetNillableAddress(nonEmpty(address)).SetNillableTimeZone(nonEmpty(zone)).
			Save(ctx)
	}
	upd := c.PracticeProfile.UpdateOneID(row)
	set := func(v *string, set func(string), clear func()) {
		switch {
		case v == nil:
		case *v == "":
			clear()
		default:
			set(*v)
		}
	}
	set(name, func(v string) { upd.SetName(v) }, func() { upd.ClearName() })
	set(phone, func(v string) { upd.SetPhone(v) }, func() { upd.ClearPhone() })
	set(address, func(v string) { upd.SetAddress(v) }, func() { upd.ClearAddress() })
	set(zone, func(v string) { upd.SetTimeZone(v) }, func() { upd.ClearTimeZone() })
	return upd.Save(ctx)
}

// text trims a field and checks its length.
func text(v *string, field string, max int) (*string, error) {
	if v == nil {
		return nil, nil
	}
	t := strings.TrimSpace(*v)
	if utf8.RuneCountInString(t) > max {
		return nil, apperr.Invalid(field, "%s is at most %d characters", field, max)
	}
	return &t, nil
}

func nonEmpty(v *string) *string {
	if v == nil || *v == "" {
		return nil
	}
	return v
}

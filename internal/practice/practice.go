// Package practice owns the records the practice-management system owns and
// pushes here: patients, booking types, bookings and referrals. Writes are
// upserts keyed by the caller's external id, so a repeated push changes
// nothing and a push with an older version is ignored; booking status
// changes keep a history and announce arrivals.
package practice

import (
	"context"
	"errors"
	"fmt"
	"github.com/whisper-health/whisper/internal/rule"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/booking"
	"github.com/whisper-health/whisper/ent/bookingstatuschange"
	"github.com/whisper-health/whisper/ent/bookingtype"
	"github.com/whisper-health/whisper/ent/patient"
	"github.com/whisper-health/whisper/ent/referral"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/apperr"
	"github.com/whisper-health/whisper/internal/pubsub"
	"github.com/whisper-health/whisper/internal/pulid"
	"github.com/whisper-health/whisper/internal/store"
	"github.com/whisper-health/whisper/internal/txn"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Arrivals is told, inside the status-change transaction, that a booking
// has become ARRIVED; it returns the events to publish after commit.
type Arrivals interface {
	Arrived(ctx context.Context, c *ent.Client, b *ent.Booking, markedBy *pulid.ID) ([]pubsub.Event, error)
}

// Bookings is told, inside the transaction that made or changed it, of a
// booking as it was (nil when new) and is: Patient Connect completes cycles
// with a booking that has become qualifying.
type Bookings interface {
	BookingChanged(ctx context.Context, c *ent.Client, before, after *ent.Booking) error
}

// Service writes practice records.
type Service struct {
	client   *ent.Client
	arrivals Arrivals
	bookings Bookings
	dialect  store.Dialect
	log      *slog.Logger
	now      func() time.Time
	tx       *txn.Runner
}

// New returns the practice service; d selects a row lock on a booking whose
// status changes (PostgreSQL).
func New(client *ent.Client, bus pubsub.Bus, arrivals Arrivals, bookings Bookings, d store.Dialect, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{client: client, arrivals: arrivals, bookings: bookings, dialect: d, log: log, now: now, tx: txn.New(client, bus, log)}
}

// PatientInput is a patient as the practice system knows it.
type PatientInput struct {
	ExternalID, PatientNumber, FirstName, LastName string
	BirthDate, Mobile, Email                       *string
	AddressLine1, AddressLine2, City, Region       *string
	Postcode, GpName, GpPractice, GpAddress        *string
	GpEmail                                        *string
	// Version is the sender's version of the record; a push whose version
	// is not newer than the stored one changes nothing.
	Version *int64
}

var (
	datePattern   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	mobilePattern = regexp.MustCompile(`^\+?[0-9 ()-]{6,20}$`)
)

func required(field, v string, max int) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" || len([]rune(v)) > max {
		return "", apperr.Invalid(field, "%s is required (at most %d characters)", field, max)
	}
	return v, nil
}

func optional(field string, v *string, max int, check func(string) bool, what string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	t := strings.TrimSpace(*v)
	if t == "" {
		return nil, nil
	}
	if len([]rune(t)) > max || (check != nil && !check(t)) {
		return nil, apperr.Invalid(field, "%s must be %s", field, what)
	}
	return &t, nil
}

func validDate(s string) bool {
	if !datePattern.MatchString(s) {
		return false
	}
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// UpsertPatient creates or updates a patient by external id.
func (s *Service) UpsertPatient(ctx context.Context, in PatientInput) (*ent.Patient, error) {
	if _, err := rule.RecordWriter.Check(ctx); err != nil {
		return nil, err
	}
	var err error
	if in.ExternalID, err = required("externalID", in.ExternalID, 200); err != nil {
		return nil, err
	}
	if in.PatientNumber, err = required("patientNumber", in.PatientNumber, 64); err != nil {
		return nil, err
	}
	if in.FirstName, err = required("firstName", in.FirstName, 200); err != nil {
		return nil, err
	}
	if in.LastName, err = required("lastName", in.LastName, 200); err != nil {
		return nil, err
	}
	checks := []struct {
		field string
		v     **string
		max   int
		check func(string) bool
		what  string
	}{
		{"birthDate", &in.BirthDate, 10, validDate, "a date as YYYY-MM-DD"},
		{"mobile", &in.Mobile, 32, mobilePattern.MatchString, "a phone number"},
		{"email", &in.Email, 320, func(s string) bool { return strings.Count(s, "@") == 1 && !strings.ContainsAny(s, " <>") }, "an email address"},
		{"addressLine1", &in.AddressLine1, 200, nil, "at most 200 characters"},
		{"addressLine2", &in.AddressLine2, 200, nil, "at most 200 characters"},
		{"city", &in.City, 100, nil, "at most 100 characters"},
		{"region", &in.Region, 100, nil, "at most 100 characters"},
		{"postcode", &in.Postcode, 20, nil, "at most 20 characters"},
		{"gpName", &in.GpName, 200, nil, "at most 200 characters"},
		{"gpPractice", &in.GpPractice, 200, nil, "at most 200 characters"},
		{"gpAddress", &in.GpAddress, 500, nil, "at most 500 characters"},
		{"gpEmail", &in.GpEmail, 320, func(s string) bool { return strings.Count(s, "@") == 1 }, "an email address"},
	}
	for _, c := range checks {
		if *c.v, err = optional(c.field, *c.v, c.max, c.check, c.what); err != nil {
			return nil, err
		}
	}
	for attempt := 0; ; attempt++ {
		p, err := s.upsertPatient(ctx, in)
		if isUnique(err) && attempt == 0 {
			continue // a concurrent push created it: update it instead
		}
		if isUnique(err) {
			return nil, apperr.New(apperr.Conflict, "patient number %s belongs to another patient", in.PatientNumber)
		}
		return p, err
	}
}

func (s *Service) upsertPatient(ctx context.Context, in PatientInput) (*ent.Patient, error) {
	existing, err := s.client.Patient.Query().Where(patient.ExternalID(in.ExternalID)).Only(ctx)
	if ent.IsNotFound(err) {
		return s.client.Patient.Create().
			SetExternalID(in.ExternalID).
			SetPatientNumber(in.PatientNumber).
			SetFirstName(in.FirstName).
			SetLastName(in.LastName).
			SetNillableBirthDate(in.BirthDate).
			SetNillableMobile(in.Mobile).
			SetNillableEmail(in.Email).
			SetNillableAddressLine1(in.AddressLine1).
			SetNillableAddressLine2(in.AddressLine2).
			SetNillableCity(in.City).
			SetNillableRegion(in.Region).
			SetNillablePostcode(in.Postcode).
			SetNillableGpName(in.GpName).
			SetNillableGpPractice(in.GpPractice).
			SetNillableGpAddress(in.GpAddress).
			SetNillableGpEmail(in.GpEmail).
			SetSourceVersion(version(in.Version)).
			Save(ctx)
	}
	if err != nil {
		return nil, err
	}
	if stale(in.Version, existing.SourceVersion) {
		return existing, nil
	}
	same := existing.PatientNumber == in.PatientNumber && existing.FirstName == in.FirstName &&
		existing.LastName == in.LastName && eq(existing.BirthDate, in.BirthDate) && eq(existing.Mobile, in.Mobile) &&
		eq(existing.Email, in.Email) && eq(existing.AddressLine1, in.AddressLine1) && eq(existing.AddressLine2, in.AddressLine2) &&
		eq(existing.City, in.City) && eq(existing.Region, in.Region) && eq(existing.Postcode, in.Postcode) &&
		eq(existing.GpName, in.GpName) && eq(existing.GpPractice, in.GpPractice) && eq(existing.GpAddress, in.GpAddress) &&
		eq(existing.GpEmail, in.GpEmail) && (in.Version == nil || *in.Version == existing.SourceVersion)
	if same {
		return existing, nil
	}
	upd := s.client.Patient.UpdateOne(existing).
		SetPatientNumber(in.PatientNumber).
		SetFirstName(in.FirstName).
		SetLastName(in.LastName)
	setOrClear(in.BirthDate, upd.SetBirthDate, upd.ClearBirthDate)
	setOrClear(in.Mobile, upd.SetMobile, upd.ClearMobile)
	setOrClear(in.Email, upd.SetEmail, upd.ClearEmail)
	setOrClear(in.AddressLine1, upd.SetAddressLine1, upd.ClearAddressLine1)
	setOrClear(in.AddressLine2, upd.SetAddressLine2, upd.ClearAddressLine2)
	setOrClear(in.City, upd.SetCity, upd.ClearCity)
	setOrClear(in.Region, upd.SetRegion, upd.ClearRegion)
	setOrClear(in.Postcode, upd.SetPostcode, upd.ClearPostcode)
	setOrClear(in.GpName, upd.SetGpName, upd.ClearGpName)
	setOrClear(in.GpPractice, upd.SetGpPractice, upd.ClearGpPractice)
	setOrClear(in.GpAddress, upd.SetGpAddress, upd.ClearGpAddress)
	setOrClear(in.GpEmail, upd.SetGpEmail, upd.ClearGpEmail)
	if in.Version != nil {
		upd.SetSourceVersion(*in.Version)
	}
	return upd.Save(ctx)
}

func setOrClear[B any](v *string, set func(string) B, clear func() B) {
	if v != nil {
		set(*v)
	} else {
		clear()
	}
}

func eq(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func version(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}

// stale reports whether a push's version is not newer than the stored one.
func stale(pushed *int64, stored int64) bool { return pushed != nil && *pushed <= stored && stored > 0 }

func isUnique(err error) bool {
	var ce *ent.ConstraintError
	return errors.As(err, &ce)
}

// BookingTypeInput is a booking type as the practice system knows it.
type BookingTypeInput struct {
	ExternalID, Name string
	DurationMinutes  *int
	Version          *int64
}

// UpsertBookingType creates or updates a booking type by external id.
func (s *Service) UpsertBookingType(ctx context.Context, in BookingTypeInput) (*ent.BookingType, error) {
	if _, err := rule.RecordWriter.Check(ctx); err != nil {
		return nil, err
	}
	var err error
	if in.ExternalID, err = required("externalID", in.ExternalID, 200); err != nil {
		return nil, err
	}
	if in.Name, err = required("name", in.Name, 200); err != nil {
		return nil, err
	}
	dur := 15
	if in.DurationMinutes != nil {
		if *in.DurationMinutes <= 0 || *in.DurationMinutes > 24*60 {
			return nil, apperr.Invalid("durationMinutes", "durationMinutes must be between 1 and 1440")
		}
		dur = *in.DurationMinutes
	}
	existing, err := s.client.BookingType.Query().Where(bookingtype.ExternalID(in.ExternalID)).Only(ctx)
	if ent.IsNotFound(err) {
		bt, err := s.client.BookingType.Create().SetExternalID(in.ExternalID).SetName(in.Name).
			SetDurationMinutes(dur).SetSourceVersion(version(in.Version)).Save(ctx)
		if isUnique(err) {
			return s.client.BookingType.Query().Where(bookingtype.ExternalID(in.ExternalID)).Only(ctx)
		}
		return bt, err
	}
	if err != nil {
		return nil, err
	}
	if stale(in.Version, existing.SourceVersion) || (existing.Name == in.Name && existing.DurationMinutes == dur &&
		(in.Version == nil || *in.Version == existing.SourceVersion)) {
		return existing, nil
	}
	upd := s.client.BookingType.UpdateOne(existing).SetName(in.Name).SetDurationMinutes(dur)
	if in.Version != nil {
		upd.SetSourceVersion(*in.Version)
	}
	return upd.Save(ctx)
}

// BookingInput is a booking as the practice system knows it.
type BookingInput struct {
	ExternalID    string
	PatientID     pulid.ID
	DoctorID      pulid.ID
	BookingTypeID *pulid.ID
	StartsAt      time.Time
	Status        *booking.Status
	Version       *int64
}

// UpsertBooking creates or updates a booking by external id. A status that
// changes goes through the same path as SetBookingStatus (history, arrival).
func (s *Service) UpsertBooking(ctx context.Context, in BookingInput) (*ent.Booking, error) {
	if _, err := rule.RecordWriter.Check(ctx); err != nil {
		return nil, err
	}
	var err error
	if in.ExternalID, err = required("externalID", in.ExternalID, 200); err != nil {
		return nil, err
	}
	if in.StartsAt.IsZero() {
		return nil, apperr.Invalid("startsAt", "startsAt is required")
	}
	if ok, err := s.client.Patient.Query().Where(patient.ID(in.PatientID)).Exist(ctx); err != nil {
		return nil, err
	} else if !ok {
		return nil, apperr.Invalid("patientID", "unknown patient")
	}
	if ok, err := s.client.User.Query().Where(user.ID(in.DoctorID), user.KindEQ(user.KindSTAFF)).Exist(ctx); err != nil {
		return nil, err
	} else if !ok {
		return nil, apperr.Invalid("doctorID", "unknown doctor")
	}
	if in.BookingTypeID != nil {
		if ok, err := s.client.BookingType.Query().Where(bookingtype.ID(*in.BookingTypeID)).Exist(ctx); err != nil {
			return nil, err
		} else if !ok {
			return nil, apperr.Invalid("bookingTypeID", "unknown booking type")
		}
	}
	status := booking.StatusBooked
	if in.Status != nil {
		status = *in.Status
	}
	var out *ent.Booking
	err = s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		existing, err := c.Booking.Query().Where(booking.ExternalID(in.ExternalID)).Only(ctx)
		if ent.IsNotFound(err) {
			b, err := c.Booking.Create().
				SetExternalID(in.ExternalID).
				SetPatientID(in.PatientID).
				SetDoctorID(in.DoctorID).
				SetNillableBookingTypeID(in.BookingTypeID).
				SetStartsAt(in.StartsAt.UTC()).
				SetStatus(status).
				SetSourceVersion(version(in.Version)).
				Save(ctx)
			if err != nil {
				return err
			}
			out = b
			events, err := s.recordStatus(ctx, c, b, nil, status)
			if err != nil {
				return err
			}
			emit(events...)
			if s.bookings != nil {
				return s.bookings.BookingChanged(ctx, c, nil, b)
			}
			return nil
		}
		if err != nil {
			return err
		}
		out = existing
		if stale(in.Version, existing.SourceVersion) {
			return nil
		}
		if existing.PatientID != in.PatientID || existing.DoctorID != in.DoctorID || !eqID(existing.BookingTypeID, in.BookingTypeID) ||
			!existing.StartsAt.Equal(in.StartsAt) || (in.Version != nil && *in.Version != existing.SourceVersion) {
			upd := c.Booking.UpdateOne(existing).
				SetPatientID(in.PatientID).
				SetDoctorID(in.DoctorID).
				SetStartsAt(in.StartsAt.UTC())
			if in.BookingTypeID != nil {
				upd.SetBookingTypeID(*in.BookingTypeID)
			} else {
				upd.ClearBookingTypeID()
			}
			if in.Version != nil {
				upd.SetSourceVersion(*in.Version)
			}
			if out, err = upd.Save(ctx); err != nil {
				return err
			}
		}
		if in.Status != nil && *in.Status != existing.Status {
			var events []pubsub.Event
			if out, _, events, err = s.changeStatus(ctx, c, out.ID, *in.Status); err != nil {
				return err
			}
			emit(events...)
		}
		if s.bookings != nil {
			return s.bookings.BookingChanged(ctx, c, existing, out)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

func eqID(a, b *pulid.ID) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

// SetBookingStatus changes a booking's status, recording who and when. A
// status pushed again changes nothing (and announces no second arrival).
func (s *Service) SetBookingStatus(ctx context.Context, id pulid.ID, status booking.Status) (*ent.Booking, error) {
	if _, err := rule.BookingStatusWriter.Check(ctx); err != nil {
		return nil, err
	}
	var out *ent.Booking
	err := s.tx.Run(ctx, func(tx *ent.Tx, emit txn.Emit) error {
		c := tx.Client()
		var before *ent.Booking
		var events []pubsub.Event
		var err error
		if out, before, events, err = s.changeStatus(ctx, c, id, status); err != nil {
			return err
		}
		emit(events...)
		if before == nil || s.bookings == nil {
			return nil
		}
		return s.bookings.BookingChanged(ctx, c, before, out)
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// changeStatus sets a booking's status and returns it, with the booking as
// it was before when the status did change (nil otherwise).
func (s *Service) changeStatus(ctx context.Context, c *ent.Client, id pulid.ID, status booking.Status) (*ent.Booking, *ent.Booking, []pubsub.Event, error) {
	q := c.Booking.Query().Where(booking.ID(id))
	if s.dialect.IsPostgres() {
		q = q.ForUpdate()
	}
	b, err := q.Only(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if b.Status == status {
		return b, nil, nil, nil
	}
	from := b.Status
	// Conditional: of two concurrent pushes of the same status, one changes it.
	n, err := c.Booking.Update().Where(booking.ID(id), booking.StatusNEQ(status)).SetStatus(status).Save(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if n == 0 {
		return b, nil, nil, nil
	}
	before := *b
	b.Status = status
	events, err := s.recordStatus(ctx, c, b, &from, status)
	return b, &before, events, err
}

// recordStatus appends the history row and, for an arrival, notifies.
func (s *Service) recordStatus(ctx context.Context, c *ent.Client, b *ent.Booking, from *booking.Status, to booking.Status) ([]pubsub.Event, error) {
	v := viewer.FromContext(ctx)
	var by *pulid.ID
	if rule.Account.Holds(v) {
		by = &v.UserID
	}
	create := c.BookingStatusChange.Create().
		SetBookingID(b.ID).
		SetToStatus(statusOf(to)).
		SetNillableChangedByID(by).
		SetChangedAt(s.now().UTC())
	if from != nil {
		create.SetFromStatus(bookingstatuschange.FromStatus(*from))
	}
	if err := create.Exec(ctx); err != nil {
		return nil, fmt.Errorf("recording status change: %w", err)
	}
	if to == booking.StatusArrived && s.arrivals != nil {
		return s.arrivals.Arrived(ctx, c, b, by)
	}
	return nil, nil
}

// ReferralInput is a referral as the practice system knows it.
type ReferralInput struct {
	ExternalID   string
	PatientID    pulid.ID
	ReferralDate time.Time
	Referrer     *string
	Reason       *string
	Version      *int64
}

// UpsertReferral creates or updates a referral by external id.
func (s *Service) UpsertReferral(ctx context.Context, in ReferralInput) (*ent.Referral, error) {
	if _, err := rule.RecordWriter.Check(ctx); err != nil {
		return nil, err
	}
	var err error
	if in.ExternalID, err = required("externalID", in.ExternalID, 200); err != nil {
		return nil, err
	}
	if in.ReferralDate.IsZero() {
		return nil, apperr.Invalid("referralDate", "referralDate is required")
	}
	if ok, err := s.client.Patient.Query().Where(patient.ID(in.PatientID)).Exist(ctx); err != nil {
		return nil, err
	} else if !ok {
		return nil, apperr.Invalid("patientID", "unknown patient")
	}
	referrer, reason := deref(in.Referrer), deref(in.Reason)
	existing, err := s.client.Referral.Query().Where(referral.ExternalID(in.ExternalID)).Only(ctx)
	if ent.IsNotFound(err) {
		r, err := s.client.Referral.Create().SetExternalID(in.ExternalID).SetPatientID(in.PatientID).
			SetReferralDate(in.ReferralDate.UTC()).SetReferrer(referrer).SetReason(reason).
			SetSourceVersion(version(in.Version)).Save(ctx)
		if isUnique(err) {
			return s.client.Referral.Query().Where(referral.ExternalID(in.ExternalID)).Only(ctx)
		}
		return r, err
	}
	if err != nil {
		return nil, err
	}
	if stale(in.Version, existing.SourceVersion) || (existing.PatientID == in.PatientID && existing.ReferralDate.Equal(in.ReferralDate) &&
		existing.Referrer == referrer && existing.Reason == reason && (in.Version == nil || *in.Version == existing.SourceVersion)) {
		return existing, nil
	}
	upd := s.client.Referral.UpdateOne(existing).SetPatientID(in.PatientID).SetReferralDate(in.ReferralDate.UTC()).
		SetReferrer(referrer).SetReason(reason)
	if in.Version != nil {
		upd.SetSourceVersion(*in.Version)
	}
	return upd.Save(ctx)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return strings.TrimSpace(*s)
}

// statusOf converts a booking status to the history's own enum type (the
// same FHIR names).
func statusOf(s booking.Status) bookingstatuschange.ToStatus {
	return bookingstatuschange.ToStatus(s)
}

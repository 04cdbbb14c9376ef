// Package demo owns the demo practice of SPEC §8: staff in their security
// groups, a dozen patients, booking types, today's bookings for both doctors
// and an integration service account with a fixed API key. It loads only into
// an empty database.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/whisper-health/whisper/ent"
	"github.com/whisper-health/whisper/ent/user"
	"github.com/whisper-health/whisper/internal/auth"
	"github.com/whisper-health/whisper/internal/viewer"
)

// Password is every demo user's password.
const Password = "whisper-demo"

// IntegrationKey is the demo integration service account's API key. Real keys
// are random and shown once; this one is fixed so that the demo is scriptable.
const IntegrationKey = "wk_demo_integration"

// Staff emails of the demo practice.
const (
	AdminEmail     = "admin@demo.clinic"
	ChenEmail      = "dr.chen@demo.clinic"
	PatelEmail     = "dr.patel@demo.clinic"
	KimEmail       = "nurse.kim@demo.clinic"
	ReceptionEmail = "reception@demo.clinic"
)

// PortalPatients is how many demo patients, from the first, may sign in to
// the patient portal (patientLogin) with their email and Password: Olivia
// Brown (olivia.brown@example.com) and Liam Wilson (liam.wilson@example.com).
const PortalPatients = 2

// PortalEmails are the sign-in addresses of the portal patients.
var PortalEmails = []string{"olivia.brown@example.com", "liam.wilson@example.com"}

// Result says what was loaded.
type Result struct {
	// Loaded is false when the database already held data.
	Loaded bool
	Users  []*ent.User
}

type staff struct {
	email, name, title string
	mobile             string
	groups             []string
	arrivals           bool
}

var groups = []struct {
	name  string
	perms []viewer.Permission
}{
	{"Default", []viewer.Permission{viewer.AccessWhisper}},
	{"HMS-Administrator", []viewer.Permission{viewer.WhisperAdmin, viewer.DirectoryManage, viewer.PatientConnectManage}},
	{"Doctors", nil},
	{"Nurses", nil},
	{"Reception", nil},
}

var people = []staff{
	{AdminEmail, "Alex Morgan", "Practice Manager", "", []string{"Default", "HMS-Administrator"}, false},
	{ChenEmail, "Dr Wei Chen", "General Practitioner", "", []string{"Default", "Doctors"}, true},
	{PatelEmail, "Dr Priya Patel", "General Practitioner", "", []string{"Default", "Doctors"}, true},
	{KimEmail, "Jordan Kim", "Practice Nurse", "", []string{"Default", "Nurses"}, false},
	{ReceptionEmail, "Sam Taylor", "Receptionist", "+61400000005", []string{"Default", "Reception"}, false},
}

var patients = []struct{ first, last, birth, mobile, email string }{
	{"Olivia", "Brown", "1984-03-12", "+61411000001", "olivia.brown@example.com"},
	{"Liam", "Wilson", "1979-11-02", "+61411000002", "liam.wilson@example.com"},
	{"Charlotte", "Nguyen", "1992-06-25", "+61411000003", ""},
	{"Noah", "Smith", "1958-01-30", "+61411000004", "noah.smith@example.com"},
	{"Amelia", "Jones", "2001-09-14", "", "amelia.jones@example.com"},
	{"Oliver", "Taylor", "1966-12-08", "+61411000006", "oliver.taylor@example.com"},
	{"Isla", "Martin", "1988-04-19", "+61411000007", ""},
	{"William", "Lee", "1945-07-03", "+61411000008", "william.lee@example.com"},
	{"Mia", "Anderson", "2015-02-27", "+61411000009", "parents.anderson@example.com"},
	{"Jack", "Thompson", "1973-10-11", "+61411000010", "jack.thompson@example.com"},
	{"Ava", "White", "1999-05-05", "+61411000011", "ava.white@example.com"},
	{"Henry", "Harris", "1951-08-21", "", ""},
}

// Load fills an empty database with the demo practice. now fixes "today"
// for the bookings.
func Load(ctx context.Context, client *ent.Client, now time.Time) (*Result, error) {
	ctx = viewer.NewSystemContext(ctx, "demo loader")
	exists, err := client.User.Query().Exist(ctx)
	if err != nil {
		return nil, fmt.Errorf("checking for existing data: %w", err)
	}
	if exists {
		return &Result{}, nil
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting demo transaction: %w", err)
	}
	res, err := load(ctx, tx.Client(), now.UTC())
	if err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("committing demo practice: %w", err)
	}
	return res, nil
}

func load(ctx context.Context, c *ent.Client, now time.Time) (*Result, error) {
	groupIDs := map[string]*ent.SecurityGroup{}
	for _, g := range groups {
		perms := make([]string, len(g.perms))
		for i, p := range g.perms {
			perms[i] = string(p)
		}
		sg, err := c.SecurityGroup.Create().SetName(g.name).SetPermissions(perms).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating group %s: %w", g.name, err)
		}
		groupIDs[g.name] = sg
	}
	res := &Result{Loaded: true}
	for _, p := range people {
		hash, err := auth.HashPassword(Password)
		if err != nil {
			return nil, err
		}
		create := c.User.Create().
			SetName(p.name).
			SetEmail(p.email).
			SetJobTitle(p.title).
			SetPasswordHash(hash).
			SetPatientArrivedAlerts(p.arrivals)
		if p.mobile != "" {
			create.SetMobile(p.mobile)
		}
		for _, g := range p.groups {
			create.AddSecurityGroups(groupIDs[g])
		}
		u, err := create.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating user %s: %w", p.email, err)
		}
		res.Users = append(res.Users, u)
	}
	svc, err := c.User.Create().
		SetKind(user.KindSERVICE).
		SetName("Practice Management System").
		SetEmail("integration@demo.clinic").
		SetPermissions([]string{string(viewer.Integration)}).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating service account: %w", err)
	}
	if _, err := c.APIKey.Create().
		SetUserID(svc.ID).
		SetName("Demo integration").
		SetKeyHash(auth.HashAPIKey(IntegrationKey)).
		SetKeyPrefix(IntegrationKey[:10]).
		Save(ctx); err != nil {
		return nil, fmt.Errorf("creating demo api key: %w", err)
	}

	var pats []*ent.Patient
	for i, p := range patients {
		create := c.Patient.Create().
			SetExternalID(fmt.Sprintf("pms-%04d", i+1)).
			SetPatientNumber(fmt.Sprintf("P%04d", i+1)).
			SetFirstName(p.first).
			SetLastName(p.last).
			SetBirthDate(p.birth).
			SetAddressLine1(fmt.Sprintf("%d Harbour Street", 10+i)).
			SetCity("Sydney").
			SetRegion("NSW").
			SetPostcode("2000").
			SetGpName("Dr Ruth Okafor").
			SetGpPractice("Harbourside Family Practice").
			SetGpAddress("1 Quay Lane, Sydney NSW 2000")
		if p.mobile != "" {
			create.SetMobile(p.mobile)
		}
		if p.email != "" {
			create.SetEmail(p.email)
		}
		if i < PortalPatients {
			hash, err := auth.HashPassword(Password)
			if err != nil {
				return nil, err
			}
			create.SetPortalPasswordHash(hash)
		}
		pt, err := create.Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("creating patient: %w", err)
		}
		pats = append(pats, pt)
	}

	standard, err := c.BookingType.Create().SetExternalID("bt-standard").SetName("Standard Consultation").SetDurationMinutes(15).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating booking type: %w", err)
	}
	recall, err := c.BookingType.Create().SetExternalID("bt-recall").SetName("Recall Review").SetDurationMinutes(30).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("creating booking type: %w", err)
	}
	if err := loadRecall(ctx, c, recall); err != nil {
		return nil, err
	}
	chen, patel := res.Users[1], res.Users[2]
	day := time.Date(now.Year(), now.Month(), now.Day(), 9, 0, 0, 0, time.UTC)
	for i := 0; i < 8; i++ {
		doctor, bt := chen, standard
		if i%2 == 1 {
			doctor = patel
		}
		if i%4 == 3 {
			bt = recall
		}
		if _, err := c.Booking.Create().
			SetExternalID(fmt.Sprintf("bk-demo-%d", i+1)).
			SetPatient(pats[i]).
			SetDoctor(doctor).
			SetBookingType(bt).
			SetStartsAt(day.Add(time.Duration(i/2) * 30 * time.Minute)).
			Save(ctx); err != nil {
			return nil, fmt.Errorf("creating booking: %w", err)
		}
	}
	return res, nil
}

// RecallProgramName names the demo's Recall program.
const RecallProgramName = "Annual health check recall"

// loadRecall creates the demo's Recall program: an SMS two weeks before the
// proposed booking date and a letter on the day, completed by a Recall
// Review booking.
func loadRecall(ctx context.Context, c *ent.Client, completes *ent.BookingType) error {
	sms, err := c.Template.Create().
		SetKind("SMS").
		SetName("Recall reminder (SMS)").
		SetBody("Hi {{patient.firstName}}, it's time for your annual health check at {{practice.name}}. Reply YES and we will call you to book, or call us on {{practice.phone}}.").
		Save(ctx)
	if err != nil {
		return fmt.Errorf("creating demo SMS template: %w", err)
	}
	letter, err := c.Template.Create().
		SetKind("LETTER").
		SetName("Recall letter").
		SetSubject("Your annual health check").
		SetBody("Dear {{patient.firstName}} {{patient.lastName}},\n\nOur records show you are due for your annual health check. Please call {{practice.phone}} to make a booking.\n\nKind regards,\n{{practice.name}}").
		Save(ctx)
	if err != nil {
		return fmt.Errorf("creating demo letter template: %w", err)
	}
	prog, err := c.Program.Create().
		SetName(RecallProgramName).
		SetType("RECALL").
		SetCycles(3).
		SetFrequencyEvery(12).
		SetFrequencyUnit("MONTHS").
		SetCompletion("SELECTED").
		AddCompletingBookingTypes(completes).
		SetEnabled(true).
		Save(ctx)
	if err != nil {
		return fmt.Errorf("creating demo recall program: %w", err)
	}
	if _, err := c.ProgramAction.Create().
		SetProgramID(prog.ID).SetPosition(0).SetType("SMS").SetTemplateID(sms.ID).
		SetSaveReplyContent(true).SetOffset(2).SetUnit("WEEKS").SetRelation("BEFORE").SetPauseOnError(false).
		Save(ctx); err != nil {
		return fmt.Errorf("creating demo recall SMS action: %w", err)
	}
	if _, err := c.ProgramAction.Create().
		SetProgramID(prog.ID).SetPosition(1).SetType("LETTER_TO_PATIENT").SetTemplateID(letter.ID).
		SetLetterOption("SAVE_FILE").SetOffset(0).SetUnit("DAYS").SetRelation("ON").SetPauseOnError(true).
		Save(ctx); err != nil {
		return fmt.Errorf("creating demo recall letter action: %w", err)
	}
	return nil
}
